"""``docker pull``: manifest (platform chosen from an index), config, then the layers.

Layers download concurrently (``MAX_DOWNLOADS`` at a time, dockerd's default is 3); each blob
streams into the content store, hashed on the way and visible only once its digest matches.
While it downloads, the same buffers feed the unpacker in other threads (inflate; tar and
files), so a layer is extracted as it arrives; the snapshot becomes visible only once its diff_id (from the
digest-verified config) matches. The image's rows and references are committed last, in one
transaction: a failed pull leaves no reference and nothing it brought.

What is here already is not fetched, as dockerd 20.10's puller decides it: an image whose
config is stored pulls no layer at all (no layer line, only the digest and status); a layer
whose blob is stored, or whose blob a push made from a layer the store has at that chain
(dockerd's v2 metadata: the blob's diff_id known, its chain in the layer store), is
"Already exists" — the image's row then names the stored layer's blob.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..errors import DigestMismatch, Forbidden, Unauthorized
from ..oci import mediatypes as mt
from ..oci.digest import of_bytes
from ..oci.platform import Platform
from ..oci.reference import Reference
from ..store.content import Ingest
from ..store.images import AddSession, LayerInput, disk_errors, parse_config
from ..store.snapshots import chain_ids
from . import manifests
from .client import BlobStream, Registry
from .credentials import AuthConfig
from .errors import ManifestUnknown, RegistryError, UnsupportedManifest
from .manifests import Descriptor, ImageManifest, Index
from .progress import Message, Throttle, layer, progress, short_id, status
from .transfer import CHUNK, Context, Pipe, drain

MAX_DOWNLOADS = 3
CONFIG_LIMIT = 8 << 20


class Pulled:
    """What a finished pull reports: the digest users see and the image it gave."""

    def __init__(self) -> None:
        self.digest = ""
        self.image_id = ""
        self.updated = False
        self.config_bytes = b""


def pull(ctx: Context, ref: Reference, platform: Platform, auth: AuthConfig,
         result: Pulled | None = None, announce: bool = True, strict: bool = False) -> Iterator[Message]:
    """Pull ``ref`` into the store, yielding dockerd's progress messages.

    ``strict`` (an explicit ``--platform``): a single-platform image must be of that platform.
    """
    result = result or Pulled()
    try:
        reg, data, media_type, top = _fetch_manifest(ctx, ref, auth)
        if announce:  # only now, as dockerd: a missing tag is a plain error response
            yield status(f"Pulling from {ref.path}", ref.tag or ref.digest)
        manifest, digest, data = _resolve(reg, ref, data, media_type, platform)
        with ctx.store.adding() as session, disk_errors(ctx.store.root):
            check = platform if strict and digest == top else None
            layers = yield from _pull_image(ctx, reg, ref, manifest, digest, data, session, result,
                                            check)
            _commit(ctx, ref, top, digest, manifest, layers, session, result)
            yield from session.warnings()  # layer owners a rootless daemon could not keep
    except Forbidden as exc:  # dockerd: a "denied" answer is a 404 to the client
        raise ManifestUnknown(_access_denied(ref, exc)) from None
    except Unauthorized as exc:  # … and a 401 a plain error (a 401 would make docker prompt)
        raise RegistryError(_access_denied(ref, exc)) from None
    except ManifestUnknown as exc:
        raise ManifestUnknown(_not_found(ref, exc)) from None
    result.digest = top
    yield status(f"Digest: {top}")


def _access_denied(ref: Reference, exc: Exception) -> str:
    return (f"pull access denied for {ref.familiar_repository}, repository does not exist or may "
            f"require 'docker login': {exc}")


def _not_found(ref: Reference, exc: Exception) -> str:
    """dockerd's wording by the registry's error code: NAME_UNKNOWN names the repository."""
    text = str(exc)
    if text.startswith("no matching manifest"):
        return text
    if text.startswith("name unknown:"):
        return f"repository {ref.familiar_repository} not found: {text}"
    return f"manifest for {ref.familiar()} not found: {text}"


def _fetch_manifest(ctx: Context, ref: Reference, auth: AuthConfig) -> tuple[Registry, bytes, str, str]:
    """Try each endpoint (mirrors first); the last one's error is the one reported."""
    endpoints = ctx.config.endpoints(ref.domain)
    for i, endpoint in enumerate(endpoints):
        reg = ctx.registry(endpoint, auth if not endpoint.mirror else AuthConfig())
        try:
            data, media_type, header = reg.get_manifest(ref.path, ref.digest or ref.tag or "latest")
        except (RegistryError, ManifestUnknown, Unauthorized, Forbidden):
            if i == len(endpoints) - 1:
                raise
            continue
        digest = of_bytes(data, (ref.digest or "sha256:").partition(":")[0])
        if ref.digest and digest != ref.digest:
            raise DigestMismatch(ref.digest, digest)
        if header and not ref.digest and header != digest and header.startswith("sha256:"):
            raise DigestMismatch(header, digest)
        return reg, data, media_type, digest
    raise AssertionError("no endpoint")


def _resolve(reg: Registry, ref: Reference, data: bytes, media_type: str,
             platform: Platform) -> tuple[ImageManifest, str, bytes]:
    """The image manifest (an index resolved to ``platform``), its digest and bytes."""
    parsed = manifests.parse(data, media_type)
    if isinstance(parsed, Index):
        entry = manifests.select(parsed, platform)
        data, media_type, _ = reg.get_manifest(ref.path, entry.digest)
        if of_bytes(data) != entry.digest:
            raise DigestMismatch(entry.digest, of_bytes(data))
        parsed = manifests.parse(data, media_type or entry.media_type)
        if isinstance(parsed, Index):
            raise UnsupportedManifest("nested manifest lists are not supported")
        return parsed, entry.digest, data
    return parsed, of_bytes(data), data


def _pull_image(ctx: Context, reg: Registry, ref: Reference, manifest: ImageManifest, digest: str,
                data: bytes, session: AddSession, result: Pulled,
                check: Platform | None = None) -> Generator[Message, None, list[LayerInput]]:
    """Config and layers; returns the image's layers as its row will name them."""
    config_bytes = _config(ctx, reg, ref, manifest.config)
    config = parse_config(config_bytes)
    if check is not None:
        _check_platform(ref, config, check)
    diff_ids: list[str] = config["rootfs"]["diff_ids"]
    if len(diff_ids) != len(manifest.layers):
        raise UnsupportedManifest(f"manifest lists {len(manifest.layers)} layers, config {len(diff_ids)}")
    for d in manifest.layers:
        if d.media_type not in mt.LAYERS:
            raise UnsupportedManifest(f"unsupported layer media type: {d.media_type}")
    session.blob(digest)
    ctx.store.content.write_bytes(data, digest)  # kept, so a push elsewhere keeps the digest
    result.config_bytes = config_bytes
    stored = ctx.store.meta.layers(manifest.config.digest)
    if stored:  # the image is here: dockerd's puller fetches nothing (ImageStore.Get)
        for row in stored:
            session.blob(row.blob_digest)
        return [LayerInput(row.blob_digest, row.media_type) for row in stored]
    return (yield from _layers(ctx, reg, ref, manifest.layers, diff_ids, session))


def _check_platform(ref: Reference, config: dict[str, Any], wanted: Platform) -> None:
    actual = Platform(str(config.get("os") or ""), str(config.get("architecture") or ""),
                      str(config.get("variant") or ""))
    if (actual.os, actual.architecture) != (wanted.os, wanted.architecture):
        raise ManifestUnknown(f"image with reference {ref.familiar()} was found but does not match the "
                              f"specified platform: wanted {wanted}, actual: {actual}")


def _config(ctx: Context, reg: Registry, ref: Reference, d: Descriptor) -> bytes:
    if d.size > CONFIG_LIMIT:
        raise UnsupportedManifest(f"image config {d.digest} is too large ({d.size} bytes)")
    if ctx.store.content.has(d.digest):
        return ctx.store.content.read_bytes(d.digest)
    resp = reg.get_blob(ref.path, d.digest)
    try:
        data = resp.read()
    finally:
        resp.release()
    if of_bytes(data, d.digest.partition(":")[0]) != d.digest:
        raise DigestMismatch(d.digest, of_bytes(data))
    return data


def _layers(ctx: Context, reg: Registry, ref: Reference, layers: list[Descriptor], diff_ids: list[str],
            session: AddSession) -> Generator[Message, None, list[LayerInput]]:
    chains = chain_ids(diff_ids)
    jobs: dict[str, tuple[Descriptor, str, str]] = {}
    inputs = [LayerInput(d.digest, d.media_type) for d in layers]
    for i, (d, diff_id, chain) in enumerate(zip(layers, diff_ids, chains, strict=True)):
        present = ctx.store.content.has(d.digest)
        held = None if present else _held(ctx, d.digest, diff_id, chain)
        inputs[i] = held or inputs[i]
        session.blob(inputs[i].blob_digest)
        if present or held is not None:
            yield layer("Already exists", short_id(d.digest))
        elif d.digest not in jobs:
            jobs[d.digest] = (d, diff_id, chain)
            yield layer("Pulling fs layer", short_id(d.digest))
    if not jobs:
        return inputs
    for d, _, _ in list(jobs.values())[MAX_DOWNLOADS:]:
        yield layer("Waiting", short_id(d.digest))
    with ThreadPoolExecutor(MAX_DOWNLOADS, thread_name_prefix="pull") as pool:
        futures: list[Future[None]] = [pool.submit(_download, ctx, reg, ref, d, diff_id, chain, session)
                                       for d, diff_id, chain in jobs.values()]
        yield from drain(ctx, futures)
    return inputs


def _held(ctx: Context, blob_digest: str, diff_id: str, chain: str) -> LayerInput | None:
    """The stored layer at ``chain`` a push made ``blob_digest`` from, if any (see the
    module's docstring)."""
    if ctx.meta.diff_id(blob_digest) != diff_id:
        return None
    rows = ctx.store.meta.query("SELECT blob_digest, media_type FROM layers WHERE chain_id = ? "
                                "LIMIT 1", (chain,))
    return LayerInput(str(rows[0][0]), str(rows[0][1])) if rows else None


def _download(ctx: Context, reg: Registry, ref: Reference, d: Descriptor, diff_id: str, chain: str,
              session: AddSession) -> None:
    """One layer: blob into the content store while the unpacker makes its snapshot.

    One pass over the network buffers: each goes to the unpacker, then into the blob's hash
    and file. The unpacker sees the end of the stream only once the blob's digest is verified,
    so it finishes (diff_id check, syncfs, rename) while the blob's fsync runs.
    """
    sid = short_id(d.digest)
    pipe = Pipe() if ctx.store.snapshots.info(chain) is None else None
    unpacker = _Unpacker(ctx, chain, diff_id, pipe, session) if pipe else None
    try:
        with ctx.store.content.writer(d.digest, d.size) as blob:
            _receive(ctx, reg.get_blob(ref.path, d.digest), blob, pipe, sid)
            blob.verify()
            if pipe is not None:
                pipe.finish()
            blob.commit()
    except BaseException as exc:
        if pipe is not None:
            pipe.abort(exc)
        raise
    finally:
        if unpacker is not None and pipe is not None:
            pipe.finish()
            unpacker.join()
    ctx.emit(layer("Download complete", sid))
    if unpacker is not None and unpacker.error is not None:
        raise unpacker.error
    # twice, as dockerd's progress reader reports its end: the read that reaches the size,
    # then the one that meets EOF
    for _ in range(2):
        ctx.emit(progress("Extracting", sid, d.size, d.size))
    ctx.emit(layer("Pull complete", sid))


def _receive(ctx: Context, resp: BlobStream, blob: Ingest, pipe: Pipe | None, sid: str) -> None:
    """The blob's bytes (``blob.size`` of them at most) into ``pipe`` and ``blob``."""
    size = blob.size or 0
    throttle = Throttle()
    shown = -1
    try:
        while blob.written < size:
            ctx.check()
            chunk = resp.read(min(CHUNK, size - blob.written))
            if not chunk:
                break
            if pipe is not None:
                pipe.put(chunk)
            blob.write(chunk)
            if throttle.due():
                ctx.emit(progress("Downloading", sid, blob.written, size))
                shown = blob.written
    finally:
        resp.release()
    if shown != blob.written:  # the last count, once
        ctx.emit(progress("Downloading", sid, blob.written, size))
    ctx.emit(layer("Verifying Checksum", sid))


class _Unpacker(threading.Thread):
    def __init__(self, ctx: Context, chain: str, diff_id: str, pipe: Pipe, session: AddSession) -> None:
        super().__init__(name="pull-unpack", daemon=True)
        self.ctx, self.chain, self.diff_id, self.pipe = ctx, chain, diff_id, pipe
        self.session = session
        self.error: BaseException | None = None
        session.chain(chain)  # pinned before it exists: a concurrent add may not discard it
        self.start()

    def run(self) -> None:
        try:
            self.ctx.store.unpack(self.chain, iter(self.pipe), self.diff_id, self.session)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the downloader
            self.error = exc
        finally:
            self.pipe.close_reader()


def _commit(ctx: Context, ref: Reference, top: str, digest: str, manifest: ImageManifest,
            layers: list[LayerInput], session: AddSession, result: Pulled) -> None:
    store = ctx.store
    config_bytes = result.config_bytes
    refs = [Reference(ref.domain, ref.path, None, top)]
    if ref.tag and not ref.digest:
        refs.insert(0, Reference(ref.domain, ref.path, ref.tag, None))
    previous = store.meta.ref(str(refs[0]))
    prepared = store.prepare(config_bytes, layers, refs, manifest=(digest, manifest.media_type),
                             config_media_type=manifest.config.media_type or mt.DOCKER_CONFIG,
                             session=session)
    store.commit([prepared])
    result.image_id = prepared.image.id
    result.updated = previous is None or previous.image_id != prepared.image.id
    for d in manifest.layers:
        ctx.meta.record_seen(d.digest, ref.domain, ref.path)


def final_status(ref: Reference, result: Pulled) -> Message:
    name = ref.familiar()
    if result.updated:
        return status(f"Status: Downloaded newer image for {name}")
    return status(f"Status: Image is up to date for {name}")
