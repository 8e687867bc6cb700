"""``docker push``: layers (skipped, mounted or uploaded), then the config, the manifest last.

Nothing is tagged in the registry until the manifest PUT, which comes only after every blob is
there: a push interrupted half-way leaves the target as it was. An image that came from a
registry keeps its manifest bytes and compressed blobs, so pushing it again gives the same
manifest digest. A loaded or built image has uncompressed layers: they are compressed while
uploading (gzip on every CPU, or zstd if asked), and the result recorded in
:mod:`.distmeta`, so the next push of the same layer finds the blob by HEAD (or mounts it from
another repository of the registry) instead of compressing again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import DigestMismatch, InvalidArgument
from ..oci import mediatypes as mt
from ..oci.digest import of_bytes
from ..oci.reference import Reference
from ..store.metadata import ImageRow, LayerRow, RefRow
from . import compress, manifests
from .client import Registry
from .distmeta import Compressed
from .errors import RegistryError
from .manifests import Descriptor
from .progress import Message, aux, layer, progress, short_id, status
from .transfer import Context, CountingReader, drain

MAX_UPLOADS = 5


@dataclass
class LayerPlan:
    """One layer to push: its local blob and, once known, the blob the registry gets."""

    row: LayerRow
    compression: str  # compress the local blob this way on upload; "" = send as stored
    target: Descriptor | None  # known before upload (already compressed, or remembered)


@dataclass
class Options:
    compression: str = "gzip"
    chunk_size: int = 0  # > 0: PATCH in chunks of this many bytes, else one streamed PATCH
    oci: bool = False


def push_image(ctx: Context, reg: Registry, ref: Reference, image_id: str,
               options: Options) -> Iterator[Message]:
    """Push one image as ``ref`` (which has a tag); ends with dockerd's digest line and aux."""
    store = ctx.store
    image = store.meta.image(image_id)
    if image is None:
        raise InvalidArgument(f"An image does not exist locally with the tag: {ref.familiar()}")
    rows = store.meta.layers(image_id)
    original = _original_manifest(ctx, image, rows)
    if original is None and (options.compression == "zstd"
                             or any(mt.layer_compression(r.media_type) == "zstd" for r in rows)):
        options = Options(options.compression, options.chunk_size, oci=True)  # zstd is OCI-only
    plans = [_plan(ctx, row, original, options) for row in rows]
    for plan in reversed(plans):
        yield layer("Preparing", short_id(plan.row.diff_id))
    with ThreadPoolExecutor(MAX_UPLOADS, thread_name_prefix="push") as pool:
        futures: list[Future[Descriptor]] = [pool.submit(_push_layer, ctx, reg, ref, p, options)
                                             for p in reversed(plans)]
        yield from drain(ctx, futures)
        descriptors = [f.result() for f in reversed(futures)]
    config = store.content.read_bytes(image_id)
    config_desc = Descriptor(mt.OCI_CONFIG if options.oci else mt.DOCKER_CONFIG, image_id, len(config))
    _upload_small(reg, ref.path, config, image_id)
    if original is not None:
        data, media_type = original
    else:
        media_type = mt.OCI_MANIFEST if options.oci else mt.DOCKER_MANIFEST
        data = manifests.build(config_desc, descriptors, media_type)
    digest = of_bytes(data)
    answered = reg.put_manifest(ref.path, ref.tag or "latest", data, media_type)
    if answered and answered != digest:
        raise DigestMismatch(digest, answered)
    _record_repo_digest(ctx, ref, image_id, digest)
    yield status(f"{ref.tag}: digest: {digest} size: {len(data)}")
    yield aux(ref.tag or "latest", digest, len(data))


def _original_manifest(ctx: Context, image: ImageRow, rows: list[LayerRow]) -> tuple[bytes, str] | None:
    """The manifest the image came with, if it and every blob it names are still stored."""
    if not image.manifest_digest or not ctx.store.content.has(image.manifest_digest):
        return None
    data = ctx.store.content.read_bytes(image.manifest_digest)
    try:
        parsed = manifests.parse(data, image.manifest_media_type or "")
    except InvalidArgument:
        return None
    if not isinstance(parsed, manifests.ImageManifest) or parsed.config.digest != image.id:
        return None
    if [d.digest for d in parsed.layers] != [r.blob_digest for r in rows]:
        return None
    return data, parsed.media_type


def _plan(ctx: Context, row: LayerRow, original: tuple[bytes, str] | None, options: Options) -> LayerPlan:
    kind = mt.layer_compression(row.media_type)
    if original is not None:
        return LayerPlan(row, "", Descriptor(row.media_type, row.blob_digest, row.blob_size))
    if kind or options.compression == "":  # sent as stored, named in the manifest's family
        media_type = compress.media_type(kind, docker=not options.oci)
        return LayerPlan(row, "", Descriptor(media_type, row.blob_digest, row.blob_size))
    known = ctx.meta.compressed(row.diff_id, options.compression)
    target = Descriptor(known.media_type, known.blob_digest, known.size) if known else None
    if target is not None and options.oci != target.media_type.startswith("application/vnd.oci"):
        target = None
    return LayerPlan(row, options.compression, target)


def _push_layer(ctx: Context, reg: Registry, ref: Reference, plan: LayerPlan, options: Options) -> Descriptor:
    sid = short_id(plan.row.diff_id)
    repo = ref.path
    if plan.target is not None:
        if reg.blob_exists(repo, plan.target.digest, push=True) is not None:
            ctx.emit(layer("Layer already exists", sid))
            ctx.meta.record_seen(plan.target.digest, ref.domain, repo)
            return plan.target
        for source in ctx.meta.repositories(plan.target.digest, ref.domain):
            if source == repo:
                continue
            location = _try_mount(reg, repo, plan.target.digest, source)
            if location is None:
                ctx.emit(layer(f"Mounted from {source}", sid))
                ctx.meta.record_seen(plan.target.digest, ref.domain, repo)
                return plan.target
            return _upload(ctx, reg, ref, plan, options, location)
    return _upload(ctx, reg, ref, plan, options, None)


def _try_mount(reg: Registry, repo: str, digest: str, source: str) -> str | None:
    """Mount ``digest`` from ``source``: None when mounted, else the upload URL to use."""
    try:
        return reg.start_upload(repo, mount=digest, source=source)
    except RegistryError:
        return reg.start_upload(repo)


def _upload(ctx: Context, reg: Registry, ref: Reference, plan: LayerPlan, options: Options,
            location: str | None) -> Descriptor:
    sid = short_id(plan.row.diff_id)
    repo = ref.path
    total = plan.row.blob_size
    location = location or reg.start_upload(repo)
    if location is None:
        raise RegistryError("registry mounted a blob it was asked to upload")
    h = hashlib.sha256()
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        with ctx.store.content.open(plan.row.blob_digest) as src:
            reader = CountingReader(src, ctx, lambda n: ctx.emit(progress("Pushing", sid, n, total)))
            for chunk in compress.compressed(reader, plan.compression):
                h.update(chunk)
                sent += len(chunk)
                yield chunk
            ctx.emit(progress("Pushing", sid, reader.count, total))

    location = _send(reg, repo, location, body(), options.chunk_size)
    digest = f"sha256:{h.hexdigest()}"
    if plan.target is not None and not plan.compression and digest != plan.target.digest:
        raise DigestMismatch(plan.target.digest, digest)
    reg.finish_upload(repo, location, digest)
    media_type = plan.target.media_type if not plan.compression and plan.target else \
        compress.media_type(plan.compression, docker=not options.oci)
    result = Descriptor(media_type, digest, sent)
    if plan.compression:
        ctx.meta.record_compressed(plan.row.diff_id, plan.compression, Compressed(digest, media_type, sent))
    ctx.meta.record_seen(digest, ref.domain, repo)
    ctx.emit(layer("Pushed", sid))
    return result


def _send(reg: Registry, repo: str, location: str, chunks: Iterable[bytes], chunk_size: int) -> str:
    """Stream ``chunks`` as one PATCH, or as Content-Range PATCHes of ``chunk_size`` bytes."""
    if chunk_size <= 0:
        return reg.patch(repo, location, chunks)
    offset, buf = 0, bytearray()
    for chunk in chunks:
        buf += chunk
        while len(buf) >= chunk_size:
            location = reg.patch(repo, location, bytes(buf[:chunk_size]), offset)
            offset += chunk_size
            del buf[:chunk_size]
    if buf:
        location = reg.patch(repo, location, bytes(buf), offset)
    return location


def _upload_small(reg: Registry, repo: str, data: bytes, digest: str) -> None:
    """A config blob: HEAD, then one monolithic POST + PUT if the registry lacks it."""
    if reg.blob_exists(repo, digest, push=True) is not None:
        return
    location = reg.start_upload(repo)
    assert location is not None
    reg.finish_upload(repo, location, digest, data)


def _record_repo_digest(ctx: Context, ref: Reference, image_id: str, digest: str) -> None:
    """Add ``repo@digest`` to the image's RepoDigests, as dockerd does after a push."""
    name = Reference(ref.domain, ref.path, None, digest)
    with ctx.store.meta.tx() as db:
        if db.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone():
            ctx.store.meta.set_ref(db, RefRow(str(name), name.repository, None, digest, image_id))
