"""Engine-API-level ``run --rm busybox true``: dockyard's daemon through docker-py's
``containers.run`` (create + start + wait + logs + remove round trips), network ``none`` and the
default bridge, side by side with a private dockerd (``docker run --rm`` and docker-py), ``podman
run --rm``, ``runc run``/``crun run`` on an OCI bundle and the bare ``unshare … chroot`` floor
(those three from :mod:`bench.bench_run`), and docker-py's own floor (``containers.run``
against :mod:`bench.null_engine`, which answers at once and runs nothing); then 50 ``run -d``
followed by 50 ``wait``, the daemons' idle RSS and the per-container supervisor's RSS
(dockyard's shim, containerd-shim), read while a container has been running for 2 s.

Both daemons run in network namespaces of their own (``unshare --net``) with their default bridge,
so bridges, veths and NAT rules never touch the host. A dockyard endpoint that is not written yet
shows as ``n/a (endpoint missing)``.

Targets (issue 3): ≤ 15 ms median with ``--network none``, ≤ 25 ms with the bridge; daemon idle
RSS < 60 MiB; shim ≤ 13 MiB. Standalone: ``python3 -m bench.bench_api_run [--repeats N]``;
``--rss`` only reads dockyard's memory figures, ``--cli`` only times the CLIs (``run --rm``, ``ps``:
dockyard's and the docker CLI against one dockyard daemon), ``--cpu`` the CPU a run costs in each process;
``--trace`` instead runs only dockyard's docker-py figures with the daemon's phase marks on
(``DOCKYARD_TRACE``, :mod:`dockyard.containers.trace`) and prints where a run's time goes —
on a shared machine the medians are noise, the phases are not.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import bench_run
from .harness import (
    Amount,
    Context,
    Figure,
    Result,
    Stats,
    Unsupported,
    format_table,
    measure,
    run,
)

TARGET_NONE = "≤ 15 ms"
TARGET_BRIDGE = "≤ 25 ms"
BATCH = 50
MiB = 1 << 20


@dataclass
class Side:
    """A daemon under test: its ``unix://`` host and the pids whose memory counts as its own."""

    label: str
    host: str
    pids: Callable[[], list[int]]


# ---- pure helpers -----------------------------------------------------------------------------


def rss_bytes(pid: int, proc: Path = Path("/proc")) -> int:
    """``VmRSS`` of ``pid`` in bytes (0 for a gone process or a kernel thread)."""
    try:
        text = (proc / str(pid) / "status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def parent_pid(pid: int, proc: Path = Path("/proc")) -> int:
    """``PPid`` of ``pid`` (0 when it is gone)."""
    try:
        text = (proc / str(pid) / "status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return 0


def children(pid: int, proc: Path = Path("/proc")) -> list[int]:
    """Direct children of ``pid``, from every process's ``PPid``."""
    found = []
    for entry in proc.iterdir():
        if entry.name.isdigit() and parent_pid(int(entry.name), proc) == pid:
            found.append(int(entry.name))
    return sorted(found)


def missing_endpoint(exc: BaseException) -> bool:
    """docker-py's error for a route the daemon does not serve (404 ``page not found``)."""
    response = getattr(exc, "response", None)
    return response is not None and response.status_code == 404 and \
        "page not found" in str(getattr(exc, "explanation", "") or "")


@contextlib.contextmanager
def endpoint_guard() -> Iterator[None]:
    """Turn a missing dockyard endpoint into the benchmark's ``n/a (endpoint missing)``."""
    try:
        yield
    except Exception as exc:
        if missing_endpoint(exc):
            raise Unsupported("endpoint missing") from None
        raise


# ---- daemons ----------------------------------------------------------------------------------


def busybox_archive(ctx: Context) -> Path:
    def make(dest: Path) -> None:
        from dockyard.testing.busybox import build_busybox_archive

        with tempfile.TemporaryDirectory() as tmp:
            shutil.move(str(build_busybox_archive(Path(tmp))), dest)
    return ctx.cached("busybox-image.tar", make)


def load_archive(host: str, archive: Path) -> None:
    import docker

    api = docker.APIClient(base_url=host, version="auto", timeout=120)
    try:
        with open(archive, "rb") as f:
            for _ in api.load_image(f):
                pass
    finally:
        api.close()


@contextlib.contextmanager
def dockyard_side(ctx: Context, archive: Path) -> Iterator[Side]:
    from dockyard.testing.daemon import NetnsDaemonProcess

    with ctx.scratch("api-run-dockyard") as root, NetnsDaemonProcess(root / "data", log_level="warn") as d:
        load_archive(d.host, archive)
        yield Side("dockyard", d.host, lambda: [d.pid] if d.pid else [])


@contextlib.contextmanager
def null_side(ctx: Context) -> Iterator[Side]:
    """:mod:`bench.null_engine` in a process of its own: docker-py against it is docker-py's
    own floor."""
    with ctx.scratch("api-run-null") as root:
        sock = root / "engine.sock"
        proc = subprocess.Popen([sys.executable, "-m", "bench.null_engine", str(sock)],
                                cwd=Path(__file__).resolve().parents[1], stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not sock.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("bench.null_engine did not start")
                time.sleep(0.01)
            yield Side("docker-py floor", f"unix://{sock}", lambda: [proc.pid])
        finally:
            proc.terminate()
            proc.wait()


@contextlib.contextmanager
def dockerd_side(ctx: Context, archive: Path) -> Iterator[Side]:
    """A private dockerd with its default bridge, in a new network namespace."""
    if "dockerd" not in ctx.peers:
        raise Unsupported("dockerd not installed")
    if os.geteuid() != 0:
        raise Unsupported("dockerd needs root")
    from dockyard.testing.daemon import IN_NEW_NETNS
    from dockyard.testing.dockerd import Dockerd, _wait_ready, dockerd_command, stop_dockerd

    root = Path(tempfile.mkdtemp(prefix="dkb-", dir="/tmp"))
    argv = [a for a in dockerd_command(root) if a != "--bridge=none"]
    with open(root / "dockerd.log", "wb") as log:
        proc = subprocess.Popen([*IN_NEW_NETNS, *argv], stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    daemon = Dockerd(root, proc)
    try:
        _wait_ready(daemon, 30.0)
        load_archive(daemon.host, archive)
        yield Side("dockerd", daemon.host, lambda: [proc.pid, *children(proc.pid)])
    finally:
        stop_dockerd(daemon)


# ---- measurements -----------------------------------------------------------------------------


def _client(host: str) -> Any:
    import docker

    return docker.DockerClient(base_url=host, version="auto", timeout=120)


def dockerpy_run(side: Side, network: str | None, repeats: int) -> Stats:
    """``containers.run("busybox", "true", remove=True)`` start to exit."""
    client = _client(side.host)
    kwargs: dict[str, Any] = {"remove": True}
    if network:
        kwargs["network_mode"] = network
    try:
        with endpoint_guard():
            return measure(lambda: client.containers.run("busybox", "true", **kwargs), repeats, warmup=3)
    finally:
        client.close()


def cli_run(ctx: Context, side: Side, network: str | None, repeats: int, client: str = "docker") -> Stats:
    """``docker run --rm busybox true`` (or ``dockyard run …``): CLI start-up included, as users
    see it."""
    verb = ["run", "--rm", *(["--network", network] if network else []), "busybox", "true"]
    return cli_verb(ctx, side, verb, repeats, client)


def cli_verb(ctx: Context, side: Side, verb: list[str], repeats: int, client: str = "docker") -> Stats:
    """``docker <verb>`` (or ``dockyard <verb>``) against ``side``, start to exit."""
    if client == "docker" and "docker" not in ctx.peers:
        raise Unsupported("docker CLI not installed")
    env = dict(os.environ, DOCKER_HOST=side.host, DOCKYARD_HOST=side.host,
               DOCKER_CONFIG=str(ctx.cache / "docker-config"))
    head = ["docker"] if client == "docker" else [sys.executable, "-m", "dockyard.cli.main"]
    return measure(lambda: run(*head, *verb, env=env), repeats, warmup=2)


PODMAN_ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
"""podman's default rlimits (nofile and nproc of 1M and more) exceed this machine's hard limits,
and runc then refuses to start anything."""


@contextlib.contextmanager
def podman_side(ctx: Context, archive: Path) -> Iterator[list[str]]:
    """podman offline on private storage with busybox loaded (``build_peers.ToolStore``: never
    the system's storage, runc, cgroupfs), in a network namespace of its own (``ip netns``,
    entered with ``nsenter`` so /sys keeps its cgroup mounts): its bridge and NAT rules never
    touch the host's network. Yields the argv that runs it; everything goes after."""
    from dockyard.testing.dockerd import unmount_under

    from .build_peers import RUNC, ToolStore

    binary = shutil.which("podman") if "podman" in ctx.peers else None
    if binary is None:
        raise Unsupported("podman not installed")
    if os.geteuid() != 0 or not os.path.exists(RUNC):
        raise Unsupported("podman: needs root and runc")
    netns = f"dkbench-podman-{os.getpid()}"
    root = Path(tempfile.mkdtemp(prefix="bench-podman-run-", dir="/tmp"))
    store = ToolStore("podman", binary, root, archive)
    try:
        subprocess.run(["ip", "netns", "add", netns], check=True, capture_output=True)
        subprocess.run(["ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up"], check=True)
        try:
            store.load_busybox()
        except RuntimeError as exc:
            raise Unsupported(str(exc)) from None
        yield ["nsenter", f"--net=/run/netns/{netns}", *store.global_args]
    finally:
        for argv in (["rm", "--all", "--force"], ["rmi", "--all", "--force"]):
            subprocess.run([*store.global_args, *argv], capture_output=True, check=False)
        unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(["ip", "netns", "delete", netns], capture_output=True, check=False)


def podman_run(podman: list[str], network: str | None, repeats: int) -> Stats:
    argv = [*podman, "run", "--rm", "--pull=never", *PODMAN_ULIMITS,
            *(["--network", network] if network else []), "busybox", "true"]
    return measure(lambda: run(*argv), repeats, warmup=2)


def _podman_figures(ctx: Context, archive: Path) -> dict[str, Figure]:
    reps = max(ctx.repeats * 2, 10)
    try:
        with podman_side(ctx, archive) as podman:
            return {"none": _safe(lambda: podman_run(podman, "none", reps)),
                    "bridge": _safe(lambda: podman_run(podman, None, reps))}
    except Unsupported as exc:
        return dict.fromkeys(["none", "bridge"], str(exc))
    except Exception as exc:  # noqa: BLE001 - a peer that cannot start is n/a, not a crash
        return dict.fromkeys(["none", "bridge"], _reason(exc))


def detached_batch(side: Side, repeats: int) -> Stats:
    """``BATCH`` × ``run -d busybox true`` then a ``wait`` on each (removal untimed)."""
    client = _client(side.host)
    made: list[Any] = []

    def clean() -> None:
        for container in made:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        made.clear()

    def batch() -> None:
        for _ in range(BATCH):
            made.append(client.containers.run("busybox", "true", detach=True, network_mode="none"))
        for container in made:
            container.wait()
    try:
        with endpoint_guard():
            return measure(batch, repeats, warmup=1, setup=clean)
    finally:
        clean()
        client.close()


def idle_rss(side: Side) -> Amount:
    """The daemon's resident memory once idle (dockerd: dockerd plus its containerd)."""
    return Amount(sum(rss_bytes(p) for p in side.pids()) / MiB, "MiB")


SHIM_SETTLE = 2.0
"""Seconds a container runs before its supervisor's RSS is read: the steady state of a running
container (dockyard's shim slims down after 0.5 s, see ``dockyard.containers.shim``)."""


def shim_rss(side: Side, settle: float = SHIM_SETTLE) -> Amount:
    """Steady-state RSS of the process that supervises one running container (the init's
    parent), read ``settle`` seconds after the start while the container still runs."""
    client = _client(side.host)
    container = None
    try:
        with endpoint_guard():
            container = client.containers.run("busybox", ["sleep", str(int(settle) + 30)],
                                               detach=True, network_mode="none")
        time.sleep(settle)
        container.reload()
        init = int(container.attrs["State"]["Pid"]) if container.attrs["State"]["Running"] else 0
        supervisor = parent_pid(init) if init else 0
        if not supervisor:
            raise RuntimeError(f"{side.label}: no running init to find the supervisor of")
        return Amount(rss_bytes(supervisor) / MiB, "MiB")
    finally:
        if container is not None:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        client.close()


# ---- the benchmark ----------------------------------------------------------------------------


def _with_side(make: Callable[[], contextlib.AbstractContextManager[Side]],
               work: Callable[[Side], dict[str, Figure]], names: list[str]) -> dict[str, Figure]:
    """Run ``work`` inside a started daemon; a daemon that cannot start gives n/a everywhere."""
    try:
        with make() as side:
            return work(side)
    except Unsupported as exc:
        return dict.fromkeys(names, str(exc))
    except Exception as exc:  # noqa: BLE001 - a daemon that fails to start is n/a, not a crash
        return dict.fromkeys(names, _reason(exc))


FIGURES = ["none", "bridge", "cli none", "cli bridge", "docker cli none", "cli ps", "docker cli ps", "batch",
           "rss", "shim"]


def _dockyard_figures(ctx: Context, side: Side) -> dict[str, Figure]:
    reps = max(ctx.repeats * 4, 20)
    figures: dict[str, Figure] = {"rss": idle_rss(side)}
    figures["none"] = _safe(lambda: dockerpy_run(side, "none", reps))
    figures["bridge"] = _safe(lambda: dockerpy_run(side, None, reps))
    figures["batch"] = _safe(lambda: detached_batch(side, max(ctx.repeats // 2, 2)))
    figures["shim"] = _safe(lambda: shim_rss(side))
    figures.update(_cli_figures(ctx, side))
    return figures


def _cli_figures(ctx: Context, side: Side) -> dict[str, Figure]:
    """dockyard's CLI and the docker CLI against one dockyard daemon: ``run --rm`` and ``ps``
    (a verb that reads one JSON answer: start-up and little else)."""
    reps = max(ctx.repeats * 2, 10)
    return {"cli none": _safe(lambda: cli_run(ctx, side, "none", reps, "dockyard")),
            "docker cli none": _safe(lambda: cli_run(ctx, side, "none", reps)),
            "cli ps": _safe(lambda: cli_verb(ctx, side, ["ps"], reps, "dockyard")),
            "docker cli ps": _safe(lambda: cli_verb(ctx, side, ["ps"], reps))}


def _dockerd_figures(ctx: Context, side: Side) -> dict[str, Figure]:
    reps = max(ctx.repeats * 2, 10)
    figures: dict[str, Figure] = {"rss": idle_rss(side)}
    figures["none"] = _safe(lambda: dockerpy_run(side, "none", reps))
    figures["bridge"] = _safe(lambda: dockerpy_run(side, None, reps))
    figures["cli none"] = _safe(lambda: cli_run(ctx, side, "none", reps))
    figures["cli bridge"] = _safe(lambda: cli_run(ctx, side, None, reps))
    figures["cli ps"] = _safe(lambda: cli_verb(ctx, side, ["ps"], reps))
    figures["batch"] = _safe(lambda: detached_batch(side, max(ctx.repeats // 2, 2)))
    figures["shim"] = _safe(lambda: shim_rss(side))
    return figures


def _safe(fn: Callable[[], Stats | Amount]) -> Figure:
    """One figure; a side that cannot run or fails here is its n/a reason, not a crash."""
    try:
        return fn()
    except Unsupported as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001
        return _reason(exc)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1][-160:] if text else type(exc).__name__


def _low_level(ctx: Context) -> dict[str, Figure]:
    """runc, crun and the floor on the same rootfs, through bench_run's helpers."""
    rootfs = bench_run._rootfs(ctx)
    peers: dict[str, Figure] = {}
    with ctx.scratch("api-run-bundle") as scratch:
        try:
            bundle = bench_run._bundle(rootfs, scratch / "bundle")
        except (Unsupported, RuntimeError) as exc:
            peers["runc run"] = peers["crun run"] = str(exc)
        else:
            peers["runc run"] = bench_run._safely(lambda: bench_run._oci(ctx, "runc", ["runc"], bundle))
            peers["crun run"] = bench_run._safely(lambda: bench_run._crun(ctx, bundle))
        peers["unshare+chroot floor"] = bench_run._safely(lambda: bench_run._floor(ctx, rootfs))
    return peers


def _floor_figure(ctx: Context) -> Figure:
    """docker-py's ``containers.run`` against :mod:`bench.null_engine`."""
    reps = max(ctx.repeats * 4, 20)
    return _with_side(lambda: null_side(ctx),
                      lambda side: {"none": _safe(lambda: dockerpy_run(side, "none", reps))},
                      ["none"])["none"]


def results(mine: dict[str, Figure], dockerd: dict[str, Figure], podman: dict[str, Figure],
            low: dict[str, Figure], floor: Figure = "not measured") -> list[Result]:
    """The table: one row group per figure, dockyard against each peer that has it (and
    docker-py's own floor, which every docker-py figure includes)."""
    return [
        Result("api run --rm true (network none)", mine["none"],
               {"dockerd (docker-py)": dockerd["none"], "docker run --rm (CLI)": dockerd["cli none"],
                "podman run --rm (runc)": podman["none"], **low,
                "docker-py alone (null server)": floor}, TARGET_NONE),
        Result("api run --rm true (default bridge)", mine["bridge"],
               {"dockerd (docker-py)": dockerd["bridge"], "docker run --rm (CLI)": dockerd["cli bridge"],
                "podman run --rm (runc)": podman["bridge"]}, TARGET_BRIDGE),
        Result("CLI run --rm true (network none)", mine["cli none"],
               {"docker CLI → dockyard daemon": mine["docker cli none"],
                "docker CLI → dockerd": dockerd["cli none"]}),
        Result("CLI ps", mine["cli ps"],
               {"docker CLI → dockyard daemon": mine["docker cli ps"], "docker CLI → dockerd": dockerd["cli ps"]}),
        Result(f"{BATCH}× run -d, then wait", mine["batch"], {"dockerd (docker-py)": dockerd["batch"]}),
        Result("daemon idle RSS", mine["rss"], {"dockerd + containerd": dockerd["rss"]}, "< 60 MiB"),
        Result("per-container supervisor RSS", mine["shim"], {"containerd-shim-runc-v2": dockerd["shim"]},
               "≤ 13 MiB"),
    ]


def bench(ctx: Context) -> list[Result]:
    archive = busybox_archive(ctx)
    print("  api_run: dockyard daemon", file=sys.stderr)
    mine = _with_side(lambda: dockyard_side(ctx, archive), lambda s: _dockyard_figures(ctx, s), FIGURES)
    print("  api_run: private dockerd (own netns, default bridge)", file=sys.stderr)
    dockerd = _with_side(lambda: dockerd_side(ctx, archive), lambda s: _dockerd_figures(ctx, s), FIGURES)
    print("  api_run: podman (private storage, own netns)", file=sys.stderr)
    podman = _podman_figures(ctx, archive)
    print("  api_run: runc, crun, floor", file=sys.stderr)
    low = _low_level(ctx)
    print("  api_run: docker-py against a null server", file=sys.stderr)
    return results(mine, dockerd, podman, low, _floor_figure(ctx))


def traced(ctx: Context, repeats: int) -> str:
    """``containers.run`` against a dockyard daemon with its phase marks on: per network mode,
    the median and the medians of each phase over ``repeats`` runs."""
    from dockyard.containers import trace

    archive = busybox_archive(ctx)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace"
        os.environ["DOCKYARD_TRACE"] = str(path)  # the daemon, its launcher and shims inherit it
        os.environ["DOCKYARD_TRACE_CPU"] = "1"
        try:
            with dockyard_side(ctx, archive) as side:
                for network in ("none", None):
                    path.write_text("")
                    stats = dockerpy_run(side, network, repeats)
                    out.append(f"network {network or 'bridge'}: median {stats.median * 1000:.1f} ms, "
                               f"p90 {stats.p90 * 1000:.1f} ms (tracing on)")
                    out.append(trace.summary(path.read_text().splitlines()))
        finally:
            del os.environ["DOCKYARD_TRACE"], os.environ["DOCKYARD_TRACE_CPU"]
    return "\n".join(out)


def cli_only(ctx: Context) -> list[Result]:
    """Only the two CLI rows, dockyard's daemon alone (``--cli``): the CLIs' start-up is the
    figure, and dockerd's side of it does not change with dockyard's code."""
    archive = busybox_archive(ctx)
    mine = _with_side(lambda: dockyard_side(ctx, archive), lambda s: _cli_figures(ctx, s), FIGURES)
    skipped: dict[str, Figure] = dict.fromkeys(FIGURES, "skipped with --cli")
    rows = results({**skipped, **mine}, skipped, skipped, {})
    return [r for r in rows if r.name.startswith("CLI ")]


def cpu_ms(stat: str) -> tuple[float, float]:
    """(own, reaped children's) user+system CPU in ms from a ``/proc/…/stat`` line."""
    fields = stat.rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return ((int(fields[11]) + int(fields[12])) * 1000 / tick,
            (int(fields[13]) + int(fields[14])) * 1000 / tick)


def _cpu_snapshot(daemon: int) -> dict[str, float]:
    """CPU so far of the daemon's main thread, its other threads, its launcher, and what the
    launcher reaped (shims, which reaped their inits)."""
    snap = {"daemon main thread": 0.0, "daemon, other threads": 0.0}
    for task in os.listdir(f"/proc/{daemon}/task"):
        with contextlib.suppress(OSError):
            own, _ = cpu_ms(Path(f"/proc/{daemon}/task/{task}/stat").read_text())
            snap["daemon main thread" if int(task) == daemon else "daemon, other threads"] += own
    for pid in children(daemon):
        with contextlib.suppress(OSError):
            own, reaped = cpu_ms(Path(f"/proc/{pid}/stat").read_text())
            snap["launcher"] = snap.get("launcher", 0.0) + own
            snap["shims and inits (reaped)"] = snap.get("shims and inits (reaped)", 0.0) + reaped
    return snap


def cpu_split(ctx: Context, runs: int) -> str:
    """Where the CPU of one docker-py ``run --rm --network none busybox true`` goes, per
    process (mean of ``runs``): on a shared machine the wall-clock median moves with the load,
    this does much less."""
    import resource

    with dockyard_side(ctx, busybox_archive(ctx)) as side:
        client = _client(side.host)
        try:
            for _ in range(5):
                client.containers.run("busybox", "true", remove=True, network_mode="none")
            time.sleep(0.5)  # spares, trash and the shims' releases of the warm-up runs settle
            daemon = side.pids()[0]
            before, mine = _cpu_snapshot(daemon), resource.getrusage(resource.RUSAGE_SELF)
            for _ in range(runs):
                client.containers.run("busybox", "true", remove=True, network_mode="none")
            time.sleep(0.5)
            after, done = _cpu_snapshot(daemon), resource.getrusage(resource.RUSAGE_SELF)
        finally:
            client.close()
    rows = {"client (docker-py)": (done.ru_utime + done.ru_stime - mine.ru_utime - mine.ru_stime) * 1000,
            **{k: after[k] - before.get(k, 0.0) for k in after}}
    lines = [f"  {v / runs:6.2f} ms  {k}" for k, v in rows.items()]
    lines.append(f"  {sum(rows.values()) / runs:6.2f} ms  in all, per run ({runs} runs)")
    return "\n".join(["CPU per run --rm --network none busybox true:", *lines])


def memory(ctx: Context) -> str:
    """Only dockyard's memory figures: the daemon idle, a running container's shim."""
    with dockyard_side(ctx, busybox_archive(ctx)) as side:
        idle = idle_rss(side)
        shim = shim_rss(side)
    return f"daemon idle RSS {idle.value:.1f} MiB; shim RSS {shim.value:.1f} MiB " \
           f"(a container running for {SHIM_SETTLE:g} s)"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    repeats = int(args[args.index("--repeats") + 1]) if "--repeats" in args else 5
    if "--trace" in args:
        print(traced(Context(repeats=repeats), max(repeats * 4, 20)))
        return 0
    if "--rss" in args:
        print(memory(Context(repeats=repeats)))
        return 0
    if "--cli" in args:
        print(format_table(cli_only(Context(repeats=repeats))))
        return 0
    if "--cpu" in args:
        print(cpu_split(Context(repeats=repeats), max(repeats * 20, 100)))
        return 0
    print(format_table(bench(Context(repeats=repeats))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
