"""The notebook front end's own cost, measured in a real kernel (jupyter_client, ipykernel) as a
notebook user meets it: ``%docker run --rm --network none busybox true`` against the same run
through docker-py's ``containers.run`` in the same kernel, and the latency from a container
writing its first output line to that line reaching the front end (an iopub ``stream``
message), on dockyard's daemon and, side by side, a private dockerd.

Each cell is timed from the execute request to its reply, so the kernel's messaging is in both
sides of the comparison; the magic and docker-py runs alternate and the overhead is the median
of the paired differences, which cancels most of a noisy machine's drift. The first-line probe:
the container blocks reading a FIFO bind-mounted from here, the clock starts when this process
writes the FIFO, and the container's ``read`` builtin wakes and ``echo``es.

Targets (issue 6): magic within 15 ms of docker-py; first line in the cell within 50 ms.
``--network none`` on both daemons (the private dockerd has no bridge). Standalone:
``python3 -m bench.bench_magics [--repeats N]``.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .bench_api_run import busybox_archive, load_archive
from .harness import (
    Amount,
    Context,
    Daemon,
    Figure,
    Result,
    Stats,
    Unsupported,
    format_table,
    private_dockerd,
)

TARGET_OVERHEAD = "≤ 15 ms over docker-py"
TARGET_FIRST_LINE = "≤ 50 ms"
MAGIC = "%docker run --rm --network none busybox true"
DOCKERPY = "_c.containers.run('busybox', 'true', remove=True, network_mode='none')"
FIRST_LINE = ("%docker run --rm --network none -v {fifo_dir}:/x busybox "
              "sh -c 'read x < /x/fifo; echo first'")


class Kernel:
    """A python3 kernel whose magics talk to ``host``, working in ``cwd``."""

    def __init__(self, host: str, cwd: Path) -> None:
        from jupyter_client.manager import start_new_kernel

        env = {**os.environ, "DOCKYARD_HOST": host}
        self.km, self.kc = start_new_kernel(kernel_name="python3", cwd=str(cwd), env=env)
        self.run(f"%load_ext dockyard_jupyter\nimport docker\n"
                 f"_c = docker.DockerClient(base_url={host!r}, version='auto')")

    def run(self, code: str, on_output: Any = None) -> float:
        """Seconds from the execute request to the reply; an error in the cell raises."""
        start = time.perf_counter()
        reply = self.kc.execute_interactive(code, timeout=120, output_hook=on_output or _quiet)
        elapsed = time.perf_counter() - start
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{code!r}: {reply['content'].get('evalue')}")
        return elapsed

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def _quiet(msg: dict[str, Any]) -> None:
    if msg["msg_type"] == "error":
        print("\n".join(msg["content"]["traceback"]), file=sys.stderr)


@contextlib.contextmanager
def kernel_for(daemon: Daemon) -> Iterator[Kernel]:
    with tempfile.TemporaryDirectory(prefix="bench-magics-") as cwd:
        kernel = Kernel(daemon.host, Path(cwd))
        try:
            yield kernel
        finally:
            kernel.close()


def paired_runs(kernel: Kernel, repeats: int, warmup: int = 3) -> tuple[Stats, Stats, Amount]:
    """Magic and docker-py alternately; the overhead is the median paired difference (ms)."""
    magic: list[float] = []
    direct: list[float] = []
    for i in range(warmup + repeats):
        pair = (kernel.run(MAGIC), kernel.run(DOCKERPY))
        if i >= warmup:
            magic.append(pair[0])
            direct.append(pair[1])
    overhead = statistics.median(m - d for m, d in zip(magic, direct, strict=True))
    return Stats(tuple(magic)), Stats(tuple(direct)), Amount(overhead * 1000, "ms")


def first_line_latency(kernel: Kernel, repeats: int, warmup: int = 2) -> Stats:
    samples = []
    with tempfile.TemporaryDirectory(prefix="bench-fifo-") as tmp:
        fifo = Path(tmp) / "fifo"
        os.mkfifo(fifo)
        for i in range(warmup + repeats):
            latency = _one_first_line(kernel, tmp, fifo)
            if i >= warmup:
                samples.append(latency)
    return Stats(tuple(samples))


def _one_first_line(kernel: Kernel, fifo_dir: str, fifo: Path) -> float:
    """Release the container through the FIFO once it reads it; time until 'first' arrives."""
    written: list[float] = []
    seen: list[float] = []

    def release() -> None:
        with open(fifo, "w") as f:   # blocks until the container opens the FIFO to read
            written.append(time.perf_counter())
            f.write("go\n")

    def hook(msg: dict[str, Any]) -> None:
        if not seen and msg["msg_type"] == "stream" and "first" in msg["content"]["text"]:
            seen.append(time.perf_counter())
        _quiet(msg)

    writer = threading.Thread(target=release, daemon=True)
    writer.start()
    kernel.run(FIRST_LINE.format(fifo_dir=fifo_dir), hook)
    writer.join(10)
    if not written or not seen:
        raise RuntimeError("the first line never arrived")
    return seen[0] - written[0]


# ---- the benchmark ----------------------------------------------------------------------------

NAMES = ("magic run", "docker-py run", "overhead", "first line")


def _figures(daemon: Daemon, ctx: Context, archive: Path) -> dict[str, Figure]:
    load_archive(daemon.host, archive)
    reps = max(ctx.repeats * 4, 20)
    with kernel_for(daemon) as kernel:
        magic, direct, overhead = paired_runs(kernel, reps)
        first = first_line_latency(kernel, max(ctx.repeats * 2, 10))
    return dict(zip(NAMES, (magic, direct, overhead, first), strict=True))


def _side(make: Any, ctx: Context, archive: Path) -> dict[str, Figure]:
    try:
        with make(ctx) as daemon:
            return _figures(daemon, ctx, archive)
    except Unsupported as exc:
        return dict.fromkeys(NAMES, str(exc))
    except Exception as exc:  # noqa: BLE001 - one side failing must not hide the other
        text = str(exc).strip()
        return dict.fromkeys(NAMES, text.splitlines()[-1][-160:] if text else type(exc).__name__)


@contextlib.contextmanager
def dockyard_side(ctx: Context) -> Iterator[Daemon]:
    """In a network namespace of its own: nothing it does reaches the host's network."""
    from dockyard.testing.daemon import NetnsDaemonProcess

    with ctx.scratch("magics-dockyard") as root, \
            NetnsDaemonProcess(root / "data", log_level="warn") as d:
        yield Daemon("dockyard", d.host)


def bench(ctx: Context) -> list[Result]:
    archive = busybox_archive(ctx)
    ours = _side(dockyard_side, ctx, archive)
    theirs = _side(private_dockerd, ctx, archive)
    return [
        Result("magic: %docker run --rm true", ours["magic run"],
               {"docker-py in the kernel": ours["docker-py run"],
                "dockerd: magic": theirs["magic run"],
                "dockerd: docker-py": theirs["docker-py run"]}),
        Result("magic overhead over docker-py (paired)", ours["overhead"],
               {"dockerd": theirs["overhead"]}, target=TARGET_OVERHEAD),
        Result("first output line → cell", ours["first line"],
               {"dockerd": theirs["first line"]}, target=TARGET_FIRST_LINE),
    ]


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python3 -m bench.bench_magics", description=__doc__)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    print(format_table(bench(Context(repeats=args.repeats))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
