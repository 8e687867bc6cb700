"""What every benchmark shares: timing, statistics, peers, cached inputs, daemons, the report.

A benchmark is a function ``(Context) -> list[Result]``. Each :class:`Result` carries one
dockyard figure and one figure per peer; a side that cannot run here (peer absent, dockyard
feature not written yet) is a string saying why, shown as ``n/a (…)`` instead of failing the
whole run. Times are wall-clock seconds from ``time.perf_counter``; each figure is the median
(and p90) of N repeats after warm-up runs that are not counted.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PEERS = ("dockerd", "docker", "podman", "buildah", "runc", "crun", "skopeo", "docker-registry", "tar")
CACHE_ENV = "DOCKYARD_BENCH_CACHE"
DEFAULT_CACHE = Path("/tmp/dockyard-bench-cache")
MiB = 1 << 20


class Unsupported(Exception):
    """This side of a benchmark cannot run here; the message says why (shown as n/a)."""


# ---- statistics -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    """Timing samples in seconds."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p90(self) -> float:
        """Nearest-rank 90th percentile: the smallest sample ≥ 90 % of the samples."""
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]

    def as_json(self) -> dict[str, Any]:
        return {"median_s": self.median, "p90_s": self.p90, "samples_s": list(self.samples)}


@dataclass(frozen=True)
class Amount:
    """A figure that is not a time (a resident set size in MiB …): one value and its unit."""

    value: float
    unit: str

    @property
    def median(self) -> float:  # so ratios treat it like a timing
        return self.value

    def as_json(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit}


Figure = Stats | Amount | str  # a measurement, or why there is none


def measure(fn: Callable[[], object], repeats: int = 5, warmup: int = 1,
            setup: Callable[[], object] | None = None) -> Stats:
    """Time ``fn`` ``repeats`` times after ``warmup`` uncounted runs; ``setup`` runs untimed
    before every run (a fresh destination directory, an image removed …)."""
    samples = []
    for i in range(warmup + repeats):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        if i >= warmup:
            samples.append(elapsed)
    return Stats(tuple(samples))


def attempt(fn: Callable[[], Stats]) -> Figure:
    """Run one side of a benchmark; an :class:`Unsupported` becomes its n/a reason."""
    try:
        return fn()
    except Unsupported as exc:
        return str(exc)


# ---- results and the report -------------------------------------------------------------------


@dataclass
class Result:
    """One benchmark's figures: dockyard's, and each peer's under its display name."""

    name: str
    dockyard: Figure
    peers: dict[str, Figure] = field(default_factory=dict)
    target: str = ""
    size_bytes: int | None = None

    def ratio(self, peer: str) -> float | None:
        """dockyard's median over the peer's: below 1 means dockyard is faster."""
        theirs = self.peers.get(peer)
        if not isinstance(self.dockyard, Stats | Amount) or not isinstance(theirs, Stats | Amount):
            return None
        return self.dockyard.median / theirs.median if theirs.median > 0 else None

    def as_json(self) -> dict[str, Any]:
        def fig(f: Figure) -> Any:
            return {"unavailable": f} if isinstance(f, str) else f.as_json()
        return {
            "name": self.name, "target": self.target, "size_bytes": self.size_bytes,
            "dockyard": fig(self.dockyard),
            "peers": {k: {**fig(v), "ratio": self.ratio(k)} for k, v in self.peers.items()},
        }


def format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def format_figure(figure: Figure, size_bytes: int | None = None) -> str:
    """``"1.23 s (p90 1.30 s, 208 MB/s)"``, or ``"n/a (why)"``."""
    if isinstance(figure, str):
        return f"n/a ({figure})"
    if isinstance(figure, Amount):
        return f"{figure.value:.1f} {figure.unit}"
    extra = [f"p90 {format_seconds(figure.p90)}"]
    if size_bytes and figure.median > 0:
        extra.append(f"{size_bytes / figure.median / 1e6:.0f} MB/s")
    return f"{format_seconds(figure.median)} ({', '.join(extra)})"


def format_ratio(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}×"


def table_rows(results: list[Result]) -> list[list[str]]:
    """One row per (benchmark, peer); a benchmark without peers still gets one row."""
    rows = []
    for r in results:
        mine = format_figure(r.dockyard, r.size_bytes)
        peers = r.peers or {"-": "none"}
        for peer, figure in peers.items():
            theirs = "-" if peer == "-" else format_figure(figure, r.size_bytes)
            rows.append([r.name, mine, peer, theirs, format_ratio(r.ratio(peer)), r.target])
    return rows


def format_table(results: list[Result]) -> str:
    header = ["benchmark", "dockyard", "peer", "peer figure", "ratio", "target"]
    rows = [header] + table_rows(results)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(results: list[Result], path: Path, context: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"context": context, "results": [r.as_json() for r in results]}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)


# ---- the machine: peers, cache, scratch -------------------------------------------------------


def discover_peers(names: tuple[str, ...] = PEERS) -> dict[str, str]:
    """Peer name → executable path, for the peers installed here."""
    return {n: p for n in names if (p := shutil.which(n))}


@dataclass
class Context:
    """What a benchmark is given: sizes (``--quick`` shrinks them), peers, cache and scratch."""

    quick: bool = False
    repeats: int = 5
    peers: dict[str, str] = field(default_factory=discover_peers)
    cache: Path = field(default_factory=lambda: Path(os.environ.get(CACHE_ENV, DEFAULT_CACHE)))

    @property
    def big(self) -> int:
        """The size of the "256 MiB" inputs: 32 MiB with ``--quick``."""
        return (32 if self.quick else 256) * MiB

    def cached(self, name: str, make: Callable[[Path], object]) -> Path:
        """``cache/name``, made by ``make(tmp_path)`` once and renamed into place."""
        path = self.cache / name
        if not path.exists():
            self.cache.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            try:
                make(tmp)
                os.replace(tmp, path)
            finally:
                _remove(tmp)
        return path

    @contextlib.contextmanager
    def scratch(self, name: str) -> Iterator[Path]:
        """A fresh directory on the cache's file system, removed afterwards. Named with this
        process's pid: two benchmark runs at once (the cache is shared by every clone on the
        machine) must not remove each other's daemon data; a killed run's is removed by the
        next that finds its pid gone."""
        parent = self.cache / "scratch"
        for stale in parent.glob(f"{name}.*"):
            pid = stale.name.rsplit(".", 1)[1]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                _remove(stale)
        path = parent / f"{name}.{os.getpid()}"
        _remove(path)
        path.mkdir(parents=True)
        try:
            yield path
        finally:
            _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def fresh_dir(path: Path) -> Callable[[], None]:
    """A ``setup`` for :func:`measure`: empty ``path`` and flush dirty pages, so one run's
    write-back does not slow the next."""
    def setup() -> None:
        _remove(path)
        os.sync()
    return setup


def run(*argv: str, env: dict[str, str] | None = None) -> None:
    """Run a peer command; its failure is an error of the benchmark, with the peer's stderr."""
    out = subprocess.run(argv, env=env, capture_output=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {out.returncode}: {out.stderr.decode()[-500:]}")


# ---- Engine API over a unix socket ------------------------------------------------------------


class UnixHTTPConnection(http.client.HTTPConnection):
    """Keep-alive HTTP/1.1 to a unix socket: the cheapest client, so latency is the daemon's."""

    def __init__(self, socket_path: str | Path, timeout: float = 300) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = str(socket_path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> bytes:
        """One request; the whole body read; a non-2xx status raises with the daemon's message."""
        self.request(method, path, body=body, headers=headers or {})
        resp = self.getresponse()
        data = resp.read()
        if resp.status in (404, 501) and b"page not found" in data or resp.status == 501:
            raise Unsupported(f"not implemented: {method} {path} → {resp.status}")
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {data[:300]!r}")
        return data


def socket_path(host: str) -> Path:
    """``unix:///run/x.sock`` → ``/run/x.sock``."""
    if not host.startswith("unix://"):
        raise Unsupported(f"not a unix socket host: {host}")
    return Path(host.removeprefix("unix://"))


# ---- daemons ----------------------------------------------------------------------------------


@dataclass
class Daemon:
    """A running daemon as benchmarks see it: its ``unix://`` host and an env for the CLI."""

    label: str
    host: str

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, DOCKER_HOST=self.host)

    def connect(self) -> UnixHTTPConnection:
        return UnixHTTPConnection(socket_path(self.host))


@contextlib.contextmanager
def private_dockerd(ctx: Context) -> Iterator[Daemon]:
    """A real dockerd on its own data root and socket (``dockyard.testing.dockerd``), stopped
    by pid afterwards; :class:`Unsupported` when dockerd is absent or we are not root."""
    if "dockerd" not in ctx.peers or "docker" not in ctx.peers:
        raise Unsupported("dockerd not installed")
    if os.geteuid() != 0:
        raise Unsupported("dockerd needs root")
    try:
        from dockyard.testing.dockerd import start_dockerd, stop_dockerd
    except ImportError:
        raise Unsupported("dockyard.testing.dockerd missing") from None
    daemon = start_dockerd()
    try:
        yield Daemon("dockerd " + _dockerd_version(daemon.host), daemon.host)
    finally:
        stop_dockerd(daemon)


def _dockerd_version(host: str) -> str:
    conn = UnixHTTPConnection(socket_path(host))
    try:
        return str(json.loads(conn.call("GET", "/version"))["Version"]).split("+")[0]
    finally:
        conn.close()


@contextlib.contextmanager
def dockyard_daemon(ctx: Context) -> Iterator[Daemon]:
    """dockyard's own daemon on a fresh data root; :class:`Unsupported` until it exists."""
    try:
        from dockyard.testing.daemon import DaemonProcess
    except ImportError:
        raise Unsupported("not implemented") from None
    with ctx.scratch("dockyard-daemon") as root, DaemonProcess(root, log_level="warn") as d:
        yield Daemon("dockyard", d.host)
