"""Runtime-level start-to-exit latency of ``true`` in busybox with no network: dockyard's
runtime (``dockyard.containers.runtime``) against ``runc run`` and ``crun run`` on an OCI
bundle of the same rootfs, and a bare ``unshare … chroot`` floor.

Each dockyard sample is one ``Runtime.start(spec).wait()`` with a fresh per-container
upper/work dir: namespaces, a new overlayfs, pivot_root, /proc, /sys, /dev, masks, a cgroup
with memory and pids limits created and removed, capabilities, exec. The launcher process is
started once beforehand, as a daemon would. A second figure runs the same from a caller holding
a 256 MiB heap, to show that the caller's size does not leak into start latency.

Target (issue 3): ≤ 15 ms median with network none, faster than runc.
Standalone: ``python3 -m bench.bench_run [--repeats N]``.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from .harness import (
    Context,
    Figure,
    Result,
    Stats,
    Unsupported,
    attempt,
    format_table,
    measure,
    run,
)

TARGET = "≤ 15 ms, < runc"
_ids = itertools.count()


def _rootfs(ctx: Context) -> Path:
    from dockyard.testing.busybox import busybox_rootfs
    return ctx.cached("busybox-rootfs", busybox_rootfs)


def _repeats(ctx: Context) -> int:
    return max(ctx.repeats * 4, 20)


def _dockyard(ctx: Context, rootfs: Path, scratch: Path, ballast_mib: int = 0) -> Stats:
    if os.geteuid() != 0:
        raise Unsupported("needs root (the rootless path is tested, not benchmarked)")
    from dockyard.containers.runtime import Runtime
    from dockyard.containers.spec import ContainerSpec
    from dockyard.linux.cgroups import Limits

    ballast = bytearray(ballast_mib << 20)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page: a really big caller
    limits = Limits(memory=256 << 20, pids=512)

    def spec() -> ContainerSpec:
        box = scratch / f"c{next(_ids)}"
        return ContainerSpec(id=f"bench-{os.getpid()}-{next(_ids)}", lower_dirs=[str(rootfs)],
                             upper_dir=str(box / "upper"), work_dir=str(box / "work"),
                             rootfs_dir=str(box / "merged"), args=["true"], limits=limits)

    with Runtime() as rt:
        def once() -> None:
            status = rt.start(spec()).wait(10)
            if status.exit_code != 0:
                raise RuntimeError(f"dockyard: true exited {status.exit_code}")
        result = measure(once, _repeats(ctx), warmup=3)
    del ballast
    return result


def _bundle(rootfs: Path, dest: Path) -> Path:
    """An OCI bundle of the busybox rootfs running ``true`` (``runc spec`` defaults: new
    network namespace, read-only root, Docker-like masks)."""
    if not shutil.which("runc"):
        raise Unsupported("runc not installed (needed for `runc spec`)")
    dest.mkdir(parents=True, exist_ok=True)
    run("runc", "spec", "--bundle", str(dest))
    config = json.loads((dest / "config.json").read_text())
    config["process"].update(terminal=False, args=["true"])
    config["root"]["path"] = str(rootfs)
    (dest / "config.json").write_text(json.dumps(config))
    return dest


def _oci(ctx: Context, tool: str, argv: list[str], bundle: Path) -> Stats:
    if tool not in ctx.peers:
        raise Unsupported(f"{tool} not installed")
    if os.geteuid() != 0:
        raise Unsupported(f"{tool} run needs root here")

    def once() -> None:
        run(*argv, "run", "--bundle", str(bundle), f"bench-{tool}-{os.getpid()}-{next(_ids)}")
    return measure(once, _repeats(ctx), warmup=3)


_TIMER = """
import json, subprocess, sys, time
argv, n = json.loads(sys.argv[1]), int(sys.argv[2])
out = []
for i in range(n + 3):
    t = time.perf_counter()
    done = subprocess.run(argv + [f"bench-crun-{i}"], capture_output=True)
    if done.returncode:
        sys.exit(done.stderr.decode()[-300:])
    out.append(time.perf_counter() - t)
print(json.dumps(out[3:]))
"""


def _crun(ctx: Context, bundle: Path) -> Stats:
    """crun 1.8 refuses a hybrid host whose v2 mount lends any controller ("cgroups in hybrid
    mode not supported"), so it is timed from a private mount namespace without the unified
    mount — the timing loop runs inside it, so no extra process is counted."""
    if "crun" not in ctx.peers:
        raise Unsupported("crun not installed")
    if os.geteuid() != 0:
        raise Unsupported("crun run needs root here")
    argv = ["crun", "--cgroup-manager=disabled", "run", "--bundle", str(bundle)]
    script = ("umount /sys/fs/cgroup/unified 2>/dev/null; "
              'exec "$0" -c "$1" "$2" "$3"')
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                           sys.executable, _TIMER, json.dumps(argv), str(_repeats(ctx))],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(done.stderr)
    return Stats(tuple(json.loads(done.stdout)))


def _floor(ctx: Context, rootfs: Path) -> Stats:
    if not shutil.which("unshare") or os.geteuid() != 0:
        raise Unsupported("unshare missing or not root")
    argv = ["unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--net",
            "chroot", str(rootfs), "/bin/true"]
    return measure(lambda: run(*argv), _repeats(ctx), warmup=3)


def _safely(fn: Callable[[], Stats]) -> Figure:
    """A peer that fails here is reported as n/a with its own error, not as a crash."""
    try:
        return attempt(fn)
    except RuntimeError as exc:
        return str(exc).strip().splitlines()[-1][-160:]


def bench(ctx: Context) -> list[Result]:
    rootfs = _rootfs(ctx)
    with ctx.scratch("run") as scratch:
        mine = attempt(lambda: _dockyard(ctx, rootfs, scratch / "dockyard"))
        big = attempt(lambda: _dockyard(ctx, rootfs, scratch / "dockyard-big", ballast_mib=256))
        peers: dict[str, Figure] = {}
        try:
            bundle = _bundle(rootfs, scratch / "bundle")
        except (Unsupported, RuntimeError) as exc:
            peers["runc run"] = peers["crun run"] = str(exc)
        else:
            peers["runc run"] = _safely(lambda: _oci(ctx, "runc", ["runc"], bundle))
            peers["crun run"] = _safely(lambda: _crun(ctx, bundle))
        peers["unshare+chroot floor"] = _safely(lambda: _floor(ctx, rootfs))
    return [Result("run true (network none)", mine, peers, TARGET),
            Result("run true, caller holds 256 MiB", big, {}, TARGET)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    repeats = int(args[args.index("--repeats") + 1]) if "--repeats" in args else 10
    print(format_table(bench(Context(repeats=repeats))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
