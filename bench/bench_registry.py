"""The registry server side by side with Debian's docker-registry (distribution 2.8).

Three figures, each measured against both servers in the same run with the same client
(``http.client`` on loopback, one keep-alive connection): a monolithic blob PUT (``POST
…/blobs/uploads/`` then one ``PUT …?digest=`` with the whole body: ``ctx.big`` bytes of random
data, a new blob every run so neither server can skip the work), a blob GET of that size (read
by ``curl`` when installed: Python's own client is slower than either server), and
``--requests`` manifest GETs by tag. Both servers run at once and are timed in turn, run after
run, so that whatever else the machine is doing weighs on both alike. Targets (issue 5): blob
PUT and GET at least distribution's, manifest GETs at least half of its requests per second.

Run alone: ``python3 -m bench.bench_registry [--quick] [--repeats N] [--requests N]``; or
register ``bench_registry.bench`` in ``bench/__main__.py``'s ``BENCHMARKS`` as ``"registry"``.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from .harness import Context, Result, Stats, Unsupported, format_table, measure

MiB = 1 << 20
READ_BUFFER = 8 * MiB
REQUESTS = 2000
SERVERS = ("dockyard", "docker-registry")
CURL = shutil.which("curl")


class Endpoint:
    """One keep-alive connection to a registry."""

    def __init__(self, url: str) -> None:
        host, port = url.split("://", 1)[1].split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=300)
        self.buffer = memoryview(bytearray(READ_BUFFER))

    def call(self, method: str, path: str, body: bytes | memoryview | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, int]:
        """Status and body length; the body is read into a reused buffer, never kept."""
        self.conn.request(method, path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        total = 0
        while n := response.readinto(self.buffer):
            total += n
        return response.status, total

    def start_upload(self, repo: str) -> str:
        self.conn.request("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
        response = self.conn.getresponse()
        response.read()
        if response.status != 202:
            raise RuntimeError(f"upload start answered {response.status}")
        return str(response.getheader("Location"))

    def put_blob(self, repo: str, data: bytes) -> str:
        """POST for a session, then one PUT with the whole body: the spec's monolithic upload
        (distribution 2.8 does not take the body on the POST itself)."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        location = self.start_upload(repo)
        location = location.split("://", 1)[-1]
        location = location[location.index("/"):] if not location.startswith("/") else location
        sep = "&" if "?" in location else "?"
        status, _ = self.call("PUT", f"{location}{sep}digest={digest}", data,
                              {"Content-Type": "application/octet-stream"})
        if status != 201:
            raise RuntimeError(f"blob upload answered {status}")
        return digest


@contextmanager
def server(kind: str) -> Iterator[str]:
    from dockyard.testing.registry import DOCKER_REGISTRY, DistributionProcess, RegistryProcess

    if kind == "docker-registry" and not Path(DOCKER_REGISTRY).exists():
        raise Unsupported("docker-registry not installed")
    with RegistryProcess() if kind == "dockyard" else DistributionProcess() as registry:
        yield registry.url


class Workload:
    """Inputs shared by both servers: the blob and the image pushed for manifest GETs."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data = bytearray(os.urandom(size))
        self.runs = 0

    def next_blob(self) -> bytes:
        """A blob no server has seen: the same bytes with a fresh 8-byte prefix."""
        self.runs += 1
        self.data[:8] = self.runs.to_bytes(8, "big")
        return bytes(self.data)


def push_image(endpoint: Endpoint, repo: str) -> None:
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers",
                                                                            "diff_ids": []}}).encode()
    layer = os.urandom(1024)
    descs = []
    for blob, media_type in ((config, "application/vnd.oci.image.config.v1+json"),
                             (layer, "application/vnd.oci.image.layer.v1.tar")):
        descs.append({"mediaType": media_type, "digest": endpoint.put_blob(repo, blob), "size": len(blob)})
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": descs[0], "layers": descs[1:]}).encode()
    status, _ = endpoint.call("PUT", f"/v2/{repo}/manifests/latest", manifest,
                              {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    if status != 201:
        raise RuntimeError(f"manifest PUT answered {status}")


class Side:
    """One server under test and the state its timed operations need."""

    def __init__(self, kind: str, url: str) -> None:
        self.kind, self.url, self.endpoint = kind, url, Endpoint(url)
        self.digest = ""

    def put(self, blob: bytes) -> None:
        self.digest = self.endpoint.put_blob("bench/blob", blob)

    def get(self, size: int) -> None:
        """With curl when installed: a Python client tops out near the servers' own speed."""
        path = f"/v2/bench/blob/blobs/{self.digest}"
        if CURL:
            out = subprocess.run([CURL, "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                                  self.url + path], capture_output=True, text=True, check=True).stdout
            status, length = map(int, out.split())
        else:
            status, length = self.endpoint.call("GET", path)
        if status != 200 or length != size:
            raise RuntimeError(f"{self.kind}: blob GET answered {status} with {length} bytes")

    def manifests(self, requests: int) -> None:
        accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
        for _ in range(requests):
            self.endpoint.call("GET", "/v2/bench/image/manifests/latest", headers=accept)


def alternate(sides: list[Side], runs: int, timed: Callable[[Side], Callable[[], object]],
              setup: Callable[[], object] | None = None) -> dict[str, Stats]:
    """Time each side in turn, run after run, so load from elsewhere on the machine falls on
    both alike; the first round is a warm-up."""
    samples: dict[str, list[float]] = {side.kind: [] for side in sides}
    for run in range(runs + 1):
        for side in sides:
            if setup is not None:
                setup()
            stats = measure(timed(side), repeats=1, warmup=0)
            if run:
                samples[side.kind].append(stats.median)
    return {kind: Stats(tuple(values)) for kind, values in samples.items()}


@contextmanager
def servers() -> Iterator[tuple[list[Side], dict[str, str]]]:
    """Every server that can run here, and why the others cannot."""
    with ExitStack() as stack:
        sides, missing = [], {}
        for kind in SERVERS:
            try:
                sides.append(Side(kind, stack.enter_context(server(kind))))
            except Unsupported as exc:
                missing[kind] = str(exc)
        yield sides, missing


def measure_all(ctx: Context, work: Workload, requests: int) -> dict[str, dict[str, Stats] | str]:
    with servers() as (sides, missing):
        blob = [b""]
        put = alternate(sides, ctx.repeats, lambda side: lambda: side.put(blob[0]),
                        setup=lambda: blob.__setitem__(0, work.next_blob()))
        get = alternate(sides, ctx.repeats, lambda side: lambda: side.get(work.size))
        for side in sides:
            push_image(side.endpoint, "bench/image")
        manifest = alternate(sides, ctx.repeats, lambda side: lambda: side.manifests(requests))
    figures: dict[str, dict[str, Stats] | str] = dict(missing)
    for side in sides:
        figures[side.kind] = {"put": put[side.kind], "get": get[side.kind], "manifest": manifest[side.kind]}
    return figures


def bench(ctx: Context, requests: int = REQUESTS) -> list[Result]:
    size = ctx.big
    print(f"  registry: blob {size // MiB} MiB, {requests} manifest GETs, {ctx.repeats} runs",
          file=sys.stderr)
    sides = measure_all(ctx, Workload(size), requests)

    def pick(kind: str, key: str) -> Stats | str:
        side = sides[kind]
        return side if isinstance(side, str) else side[key]

    mb = f"{size // MiB} MiB"
    return [
        Result(f"registry blob PUT {mb}", pick("dockyard", "put"),
               {"docker-registry": pick("docker-registry", "put")}, "≤ 1.00× distribution", size),
        Result(f"registry blob GET {mb}", pick("dockyard", "get"),
               {"docker-registry": pick("docker-registry", "get")}, "≤ 1.00× distribution", size),
        Result(f"registry manifest GET ×{requests}", pick("dockyard", "manifest"),
               {"docker-registry": pick("docker-registry", "manifest")}, "≤ 2.00× distribution"),
    ]


def summary(results: list[Result], requests: int) -> Iterator[str]:
    """Throughput lines: MiB/s for blobs, requests/s for manifests, and dockyard/peer ratios."""
    for result in results:
        size = result.size_bytes

        def rate(stats: Stats, size: int | None = size) -> str:
            return f"{size / MiB / stats.median:,.0f} MiB/s" if size else f"{requests / stats.median:,.0f} req/s"

        peer = result.peers.get("docker-registry")
        mine = rate(result.dockyard) if isinstance(result.dockyard, Stats) else f"n/a ({result.dockyard})"
        theirs = rate(peer) if isinstance(peer, Stats) else f"n/a ({peer})"
        ratio = result.ratio("docker-registry")
        speed = f"  dockyard/distribution speed {1 / ratio:.2f}×" if ratio else ""
        yield f"{result.name:<34} dockyard {mine:>14}   docker-registry {theirs:>14}{speed}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.bench_registry", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="32 MiB blob instead of 256 MiB, 3 runs")
    parser.add_argument("--repeats", type=int, help="timed runs per figure (default 5, 3 with --quick)")
    parser.add_argument("--requests", type=int, default=REQUESTS, help=f"manifest GETs per run ({REQUESTS})")
    args = parser.parse_args(argv)
    ctx = Context(quick=args.quick, repeats=args.repeats or (3 if args.quick else 5))
    results = bench(ctx, args.requests)
    print(format_table(results))
    print()
    print("\n".join(summary(results, args.requests)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
