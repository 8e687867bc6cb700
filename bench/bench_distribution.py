"""Push and pull of a single-layer image (``ctx.big`` bytes: random, and text-like) between an
image store and Debian's docker-registry (distribution 2.8) on loopback: dockyard's registry
client (``dockyard.distribution``, in process) against ``docker push/pull`` (a private dockerd
20.10, overlay2, driven by the docker CLI) and ``skopeo copy``, in the same run.

- push: dockyard compresses the uncompressed layer (parallel gzip, level 1; incompressible
  blocks stored) while uploading; skopeo copies the same layer from an OCI layout, which it
  gzips as it uploads. Every run gets a freshly started, empty registry (untimed), so neither
  side can skip or mount the blob.
- text is also pushed and pulled with zstd (``Options(compression="zstd")``, skopeo's
  ``--dest-compress-format zstd``): the registry accepts it, and it unpacks much faster.
- pull: dockyard downloads, verifies, stores and unpacks the layer into a fresh data root (what
  ``docker pull`` does); skopeo copies it into a fresh OCI layout (download and verify only, no
  unpack), so skopeo's pull does less work than dockyard's. ``docker pull`` downloads, verifies
  and unpacks, like dockyard; between runs its image is removed (untimed) so every run fetches.
- docker push: dockerd gets the image by ``docker load`` (no distribution metadata, so it can
  neither skip nor mount) and gzips the layer as it uploads. docker figures are gzip only.

Targets (issue 5): push and pull at least 2× docker's figures measured here when the issue was
written (push 40 MB/s random / 29 MB/s text, pull 93 / 111 MB/s); the docker rows give the
figures of the same run (a ratio ≤ 0.5× is 2× docker's speed).

Run alone: ``python3 -m bench.bench_distribution [--quick] [--repeats N]``; or register
``"distribution": "bench_distribution"`` in ``bench/__main__.py``'s ``BENCHMARKS``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from dockyard.distribution.push import Options
from dockyard.distribution.service import Distribution
from dockyard.engine import go_arch
from dockyard.store import archive
from dockyard.store.images import ImageStore, LayerInput
from dockyard.testing.registry import DistributionProcess

from .harness import (
    Context,
    Daemon,
    Figure,
    Result,
    Stats,
    Unsupported,
    attempt,
    format_table,
    private_dockerd,
    run,
)
from .inputs import big_files, random_content, text_content, write_layer

SKOPEO = shutil.which("skopeo")
DOCKER = shutil.which("docker") or "docker"
COMPRESSIONS = {"random": ("gzip",), "text": ("gzip", "zstd")}
KINDS = {"random": random_content, "text": text_content}
TARGETS = {("push", "random"): "≥ 80 MB/s (2× docker push)", ("push", "text"): "≥ 58 MB/s (2× docker push)",
           ("pull", "random"): "≥ 186 MB/s (2× docker pull)", ("pull", "text"): "≥ 222 MB/s (2× docker pull)"}


def layer_tar(ctx: Context, kind: str) -> Path:
    mib = ctx.big // (1 << 20)

    def make(p: Path) -> None:
        with open(p, "wb") as f:
            write_layer(f, big_files(ctx.big, 4), KINDS[kind])

    return ctx.cached(f"dist-layer-{kind}-{mib}m.tar", make)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def config_bytes(diff_id: str) -> bytes:
    return json.dumps({"architecture": go_arch(), "os": "linux", "config": {},
                       "rootfs": {"type": "layers", "diff_ids": [diff_id]}}, sort_keys=True).encode()


def oci_layout(ctx: Context, kind: str, layer: Path) -> Path:
    """The same image as an OCI layout (uncompressed layer), for skopeo to push."""
    mib = ctx.big // (1 << 20)

    def make(p: Path) -> None:
        blobs = p / "blobs" / "sha256"
        blobs.mkdir(parents=True)
        digest = sha256_file(layer)
        shutil.copyfile(layer, blobs / digest[7:])
        config = config_bytes(digest)
        descriptors = []
        for data in (config,):
            h = hashlib.sha256(data).hexdigest()
            (blobs / h).write_bytes(data)
            descriptors.append({"mediaType": "application/vnd.oci.image.config.v1+json",
                                "digest": f"sha256:{h}", "size": len(data)})
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": descriptors[0], "layers": [{
                                   "mediaType": "application/vnd.oci.image.layer.v1.tar",
                                   "digest": digest, "size": layer.stat().st_size}]}).encode()
        mh = hashlib.sha256(manifest).hexdigest()
        (blobs / mh).write_bytes(manifest)
        (p / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        (p / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": f"sha256:{mh}",
            "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}))

    return ctx.cached(f"dist-oci-{kind}-{mib}m", make)


@contextmanager
def source_store(scratch: Path, layer: Path) -> Iterator[Distribution]:
    """A data root holding the image as ``bench/src:v1`` (unpacked once, untimed)."""
    store = ImageStore(scratch / "src")
    with open(layer, "rb") as f:
        digest, _ = store.content.write(f)
    store.add(config_bytes(digest), [LayerInput(digest)], [])
    store.tag(store.meta.images()[0].id, "bench/src", "v1")
    dist = Distribution(store, scratch / "src")
    try:
        yield dist
    finally:
        dist.close()
        store.close()


def timed(repeats: int, setup: Callable[[], object], fn: Callable[[object], object],
          teardown: Callable[[object], object]) -> Stats:
    """Like ``harness.measure``, with a value from ``setup`` handed to ``fn`` and ``teardown``."""
    samples = []
    for i in range(repeats + 1):
        value = setup()
        try:
            start = time.perf_counter()
            fn(value)
            elapsed = time.perf_counter() - start
        finally:
            teardown(value)
        if i:
            samples.append(elapsed)
    return Stats(tuple(samples))


def skopeo(*args: str) -> None:
    if SKOPEO is None:
        raise Unsupported("skopeo not installed")
    result = subprocess.run([SKOPEO, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"skopeo {' '.join(args)}: {result.stderr.strip()}")


def stop(reg: object) -> None:
    reg.cleanup()  # type: ignore[attr-defined]


Peer = Daemon | str  # the private dockerd, or why there is none


def docker(peer: Peer, *args: str) -> None:
    if isinstance(peer, str):
        raise Unsupported(peer)
    run(DOCKER, *args, env=peer.env)


def docker_push_figure(ctx: Context, peer: Peer, compression: str) -> Figure:
    """``docker push`` of ``bench/src:v1`` (loaded beforehand) to a fresh registry per run."""
    if compression != "gzip":
        return "docker pushes gzip only"

    def setup() -> object:
        reg = DistributionProcess().start()
        docker(peer, "tag", "bench/src:v1", f"{reg.host}/bench:v1")
        return reg

    def teardown(reg: object) -> None:
        docker(peer, "rmi", f"{reg.host}/bench:v1")  # type: ignore[attr-defined]
        stop(reg)

    return attempt(lambda: timed(ctx.repeats, setup,
                                 lambda reg: docker(peer, "push", f"{reg.host}/bench:v1"),  # type: ignore[attr-defined]
                                 teardown))


def push_figures(ctx: Context, kind: str, dist: Distribution, layout: Path, compression: str,
                 peer: Peer) -> Result:
    def dockyard_push(reg: object) -> None:
        host = reg.host  # type: ignore[attr-defined]
        dist.store.tag("bench/src:v1", f"{host}/bench", "v1")
        dist.meta.db.execute("DELETE FROM seen")
        for message in dist.push(f"{host}/bench", "v1", options=Options(compression)):
            assert "error" not in message

    def skopeo_push(reg: object) -> None:
        skopeo("copy", "--dest-tls-verify=false", "--dest-compress-format", compression, f"oci:{layout}:v1",
               f"docker://{reg.host}/bench:v1")  # type: ignore[attr-defined]

    mine = timed(ctx.repeats, lambda: DistributionProcess().start(), dockyard_push, stop)
    theirs = attempt(lambda: timed(ctx.repeats, lambda: DistributionProcess().start(), skopeo_push, stop))
    return Result(f"push {ctx.big >> 20} MiB {kind} {compression}", mine,
                  {"docker push": docker_push_figure(ctx, peer, compression), "skopeo copy": theirs},
                  TARGETS[("push", kind)], ctx.big)


def pull_figures(ctx: Context, kind: str, dist: Distribution, scratch: Path, compression: str,
                 peer: Peer) -> Result:
    with DistributionProcess() as reg:
        dist.store.tag("bench/src:v1", f"{reg.host}/bench", "v1")
        list(dist.push(f"{reg.host}/bench", "v1", options=Options(compression)))

        def fresh() -> Path:
            path = Path(tempfile.mkdtemp(dir=scratch))
            return path

        def dockyard_pull(root: object) -> None:
            store = ImageStore(Path(str(root)))
            client = Distribution(store, Path(str(root)))
            try:
                for message in client.pull(f"{reg.host}/bench", "v1"):
                    assert "error" not in message
            finally:
                client.close()
                store.close()

        def skopeo_pull(root: object) -> None:
            skopeo("copy", "--src-tls-verify=false", f"docker://{reg.host}/bench:v1", f"oci:{root}/layout:v1")

        def remove(root: object) -> None:
            shutil.rmtree(str(root), ignore_errors=True)

        mine = timed(ctx.repeats, fresh, dockyard_pull, remove)
        docker_pull: Figure = "docker figures are gzip only"
        if compression == "gzip":
            docker_pull = attempt(lambda: timed(ctx.repeats, lambda: None,
                                                lambda _: docker(peer, "pull", f"{reg.host}/bench:v1"),
                                                lambda _: docker(peer, "rmi", f"{reg.host}/bench:v1")))
        theirs = attempt(lambda: timed(ctx.repeats, fresh, skopeo_pull, remove))
    return Result(f"pull {ctx.big >> 20} MiB {kind} {compression}", mine,
                  {"docker pull": docker_pull, "skopeo copy (no unpack)": theirs}, TARGETS[("pull", kind)], ctx.big)


@contextmanager
def docker_peer(ctx: Context) -> Iterator[Peer]:
    """A private dockerd for the whole run, or the reason there is none."""
    with ExitStack() as stack:
        try:
            peer: Peer = stack.enter_context(private_dockerd(ctx))
        except Unsupported as exc:
            peer = str(exc)
        yield peer


def docker_load(peer: Peer, dist: Distribution, scratch: Path) -> None:
    """``bench/src:v1`` into dockerd through ``docker load`` (so it has no distribution metadata)."""
    if isinstance(peer, str):
        return
    saved = scratch / "src.tar"
    with open(saved, "wb") as f:
        f.writelines(archive.save(dist.store, ["bench/src:v1"]))
    docker(peer, "load", "-q", "-i", str(saved))
    saved.unlink()


def bench(ctx: Context) -> list[Result]:
    if not Path("/usr/bin/docker-registry").exists():
        raise Unsupported("docker-registry not installed")
    results = []
    with docker_peer(ctx) as peer:
        for kind in KINDS:
            layer = layer_tar(ctx, kind)
            layout = oci_layout(ctx, kind, layer)
            scratch = Path(tempfile.mkdtemp(prefix="dockyard-bench-dist-"))
            try:
                with source_store(scratch, layer) as dist:
                    docker_load(peer, dist, scratch)
                    for compression in COMPRESSIONS[kind]:
                        results.append(push_figures(ctx, kind, dist, layout, compression, peer))
                    if not isinstance(peer, str):  # else docker pull would find the layer present
                        docker(peer, "rmi", "bench/src:v1")
                    for compression in COMPRESSIONS[kind]:
                        results.append(pull_figures(ctx, kind, dist, scratch, compression, peer))
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.bench_distribution", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="32 MiB layers instead of 256 MiB, 3 runs")
    parser.add_argument("--repeats", type=int, help="timed runs per figure (default 5, 3 with --quick)")
    args = parser.parse_args(argv)
    ctx = Context(quick=args.quick, repeats=args.repeats or (3 if args.quick else 5))
    print(format_table(bench(ctx)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
