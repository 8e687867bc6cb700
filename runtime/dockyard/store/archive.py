"""``docker save`` archives, both ways.

Save writes what Docker 25+ writes::

    blobs/sha256/<hex>     layer tars (uncompressed), configs, OCI manifests
    index.json             OCI image index; one manifest per image and name (annotations
                           io.containerd.image.name / org.opencontainers.image.ref.name)
    manifest.json          [{"Config": "blobs/sha256/<hex>", "RepoTags": [...],
                             "Layers": ["blobs/sha256/<hex>", ...]}]
    oci-layout             {"imageLayoutVersion": "1.0.0"}
    repositories           {"busybox": {"latest": "<top layer hex>"}}

Load takes that, the Docker ≤24 form (``<id>.json`` configs, ``<v1id>/layer.tar`` — possibly a
symlink to another layer's — ``manifest.json``, ``repositories``), or a bare OCI layout with only
``index.json``; plain or gzip/xz/zstd/bzip2-compressed. Load streams: every blob goes through
the content store (verified, temp → rename) as it passes, only the small JSON files are kept in
memory. References are committed in one transaction at the very end, so a bad archive adds no
reference and leaves no blob it brought.
"""

from __future__ import annotations

import json
import posixpath
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

from ..errors import DockyardError, InvalidArgument, NotFound
from ..oci import digest as _digest
from ..oci import mediatypes as mt
from ..oci import reference as _ref
from ..oci.reference import Reference
from .compression import ChunkStream, decompressed_chunks, detect
from .images import AddSession, ImageStore, LayerInput, disk_errors, parse_config
from .removal import familiar

CHUNK = 1 << 20
_BLOB_PATH = re.compile(r"^blobs/(sha256|sha512)/([0-9a-f]+)$")
_LEGACY_CONFIG = re.compile(r"^([0-9a-f]{64})\.json$")
_SMALL = {"manifest.json", "index.json", "repositories", "oci-layout"}
_SMALL_LIMIT = 32 << 20


class InvalidArchive(InvalidArgument):
    pass


# ---- save ---------------------------------------------------------------------------------


def _selection(store: ImageStore, names: list[str]) -> dict[str, list[Reference]]:
    """image ID → the tags to record for it, as dockerd 20.10's tarexport reads each name: an ID
    or a digest alone saves the image untagged; a reference that does not parse is its untyped
    500; a bare name saves every tag of that repository, or else (and ``sha256``) is searched as
    a short ID (``No such image: NAME`` as given); a tag or digest is looked up (``reference does
    not exist``)."""
    out: dict[str, list[Reference]] = {}
    for name in names:
        if _is_image_id(name):
            out.setdefault(store.resolve(name), [])
            continue
        try:
            ref = _ref.parse(name, default_tag=False)
        except InvalidArgument as exc:
            raise DockyardError(str(exc)) from None
        if ref.familiar_repository == "sha256" or (ref.tag is None and ref.digest is None):
            rows = [r for r in store.meta.refs() if r.repository == ref.repository and r.tag]
            for row in rows if ref.familiar_repository != "sha256" else []:
                out.setdefault(row.image_id, []).append(ref.with_tag(row.tag or ""))
            if not rows or ref.familiar_repository == "sha256":
                out.setdefault(_search(store, name), [])
            continue
        image_id = store.by_reference(ref)
        if image_id is None:
            raise NotFound("reference does not exist")
        tags = out.setdefault(image_id, [])
        if ref.tag is not None and ref not in tags:
            tags.append(ref)
    return out


def _is_image_id(name: str) -> bool:
    """ParseAnyReference's IDs: 64 hex digits, or a digest that parses (``sha256:<64 hex>``)."""
    if len(name) == 64 and _digest.is_hex_id(name, 64):
        return True
    try:
        _digest.validate(name)
    except InvalidArgument:
        return False
    return True


def _search(store: ImageStore, name: str) -> str:
    """The image store's Search: a unique ID prefix, with or without ``sha256:``."""
    bare = name.removeprefix("sha256:")
    ids = store.meta.ids_with_prefix(bare) if bare and _digest.is_hex_id(bare) else []
    if len(ids) != 1:
        raise NotFound(f"No such image: {name}")
    return str(ids[0])


def _header(name: str, size: int, mtime: int, dir: bool = False) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = (0, mtime, 0o755) if dir else (size, mtime, 0o644)
    info.type = tarfile.DIRTYPE if dir else tarfile.REGTYPE
    return info.tobuf(tarfile.PAX_FORMAT)


def _pad(size: int) -> bytes:
    return b"\0" * (-size % 512)


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def save(store: ImageStore, names: list[str]) -> Iterator[bytes]:
    """Stream a ``docker save`` archive of ``names`` (raises NotFound before the first byte)."""
    selection = _selection(store, names)
    return _save_stream(store, selection)


def _save_stream(store: ImageStore, selection: dict[str, list[Reference]]) -> Iterator[bytes]:
    written: set[str] = set()
    manifests: list[Any] = []
    index: list[Any] = []
    repos: dict[str, dict[str, str]] = {}
    yield _header("blobs/", 0, 0, dir=True) + _header("blobs/sha256/", 0, 0, dir=True)
    for image_id, tags in selection.items():
        image = store.meta.image(image_id)
        if image is None:
            raise NotFound(f"No such image: {image_id}")
        layers = store.meta.layers(image_id)
        descriptors = []
        for layer in layers:
            snap = store.meta.snapshot(layer.chain_id)
            size = snap.tar_size if snap else store.content.size(layer.blob_digest)
            descriptors.append({"mediaType": mt.OCI_LAYER, "digest": layer.diff_id, "size": size})
            if layer.diff_id not in written:
                written.add(layer.diff_id)
                yield from _layer_member(store, layer.blob_digest, layer.diff_id, size, image.created_unix)
        config = store.content.read_bytes(image_id)
        yield from _blob_member(config, image_id, image.created_unix, written)
        manifest = _json({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                          "config": {"mediaType": mt.OCI_CONFIG, "digest": image_id, "size": len(config)},
                          "layers": descriptors})
        mdigest = _sha(manifest)
        yield from _blob_member(manifest, mdigest, image.created_unix, written)
        _describe(image_id, tags, layers, mdigest, len(manifest), manifests, index, repos)
        store.log_event("save", image_id, image_id)  # dockerd 20.10: once an image, as it is written
    yield from _small("index.json", _json({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": index}))
    yield from _small("manifest.json", _json(manifests))
    yield from _small("oci-layout", _json({"imageLayoutVersion": "1.0.0"}))
    yield from _small("repositories", _json(repos))
    yield b"\0" * 1024


def _describe(image_id: str, tags: list[Reference], layers: list[Any], mdigest: str, msize: int,
              manifests: list[Any], index: list[Any], repos: dict[str, dict[str, str]]) -> None:
    paths = [f"blobs/sha256/{x.diff_id.removeprefix('sha256:')}" for x in layers]
    manifests.append({"Config": f"blobs/sha256/{image_id.removeprefix('sha256:')}",
                      "RepoTags": [t.familiar() for t in tags] or None, "Layers": paths})
    desc = {"mediaType": mt.OCI_MANIFEST, "digest": mdigest, "size": msize}
    for t in tags:
        index.append({**desc, "annotations": {"io.containerd.image.name": str(t),
                                              "org.opencontainers.image.ref.name": t.tag}})
        if layers:
            repos.setdefault(t.familiar_repository, {})[t.tag or ""] = layers[-1].diff_id.removeprefix("sha256:")
    if not tags:
        index.append(desc)


def _sha(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob_member(data: bytes, digest: str, mtime: int, written: set[str]) -> Iterator[bytes]:
    if digest in written:
        return
    written.add(digest)
    yield _header(f"blobs/sha256/{digest.removeprefix('sha256:')}", len(data), mtime) + data + _pad(len(data))


def _small(name: str, data: bytes) -> Iterator[bytes]:
    yield _header(name, len(data), 0) + data + _pad(len(data))


def _layer_member(store: ImageStore, blob: str, diff_id: str, size: int, mtime: int) -> Iterator[bytes]:
    """The layer as an uncompressed tar, decompressing a stored compressed blob on the fly."""
    yield _header(f"blobs/sha256/{diff_id.removeprefix('sha256:')}", size, mtime)
    sent = 0
    with store.content.open(blob) as f:
        for chunk in decompressed_chunks(f):
            sent += len(chunk)
            if sent > size:
                raise DockyardError(f"layer {diff_id} is larger than recorded; store damaged")
            yield chunk
    if sent != size:
        raise DockyardError(f"layer {diff_id} is shorter than recorded; store damaged")
    yield _pad(size)


# ---- load ---------------------------------------------------------------------------------


@dataclass
class _Archive:
    """What a streamed pass over an archive leaves: blob digests by path, and small files."""

    session: AddSession
    blobs: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    small: dict[str, bytes] = field(default_factory=dict)

    def digest(self, path: str) -> str:
        seen = 0
        path = posixpath.normpath(path)
        while path in self.links and seen < 40:
            path, seen = self.links[path], seen + 1
        try:
            return self.blobs[path]
        except KeyError:
            raise InvalidArchive(f"invalid archive: {path} is referenced but not in the archive") from None

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.small[name])
        except ValueError as exc:
            raise InvalidArchive(f"invalid archive: {name} is not valid JSON: {exc}") from None


def load(store: ImageStore, stream: BinaryIO, quiet: bool = False) -> Iterator[dict[str, Any]]:
    """Load a ``docker save`` archive; yield dockerd's JSON-stream messages once committed."""
    with store.adding() as session, disk_errors(store.root):
        archive = _Archive(session)
        _read(store, stream, archive)
        plan = _plan(store, archive)
        prepared = [store.prepare(cfg, layers, refs, session=session) for cfg, layers, refs in plan]
        moved = store.commit(prepared)
    for p in prepared:  # dockerd 20.10: a load event an image, its tags set with no tag event
        store.log_event("load", p.image.id, p.image.id)
    yield from session.warnings()  # a rootless daemon's layer owners it could not keep
    for name, old in moved:
        yield {"stream": f"The image {name} already exists, renaming the old one with ID {old} to empty string\n"}
    for p in prepared:
        for ref in p.refs:
            yield {"stream": f"Loaded image: {ref.familiar()}\n"}
        if not p.refs:
            yield {"stream": f"Loaded image ID: {p.image.id}\n"}


def _read(store: ImageStore, stream: BinaryIO, archive: _Archive) -> None:
    try:
        src = ChunkStream(decompressed_chunks(stream))
        with tarfile.open(fileobj=src, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                _take(store, tar, member, archive)
    except tarfile.TarError as exc:
        raise InvalidArchive(f"invalid archive: {exc or 'not a tar archive'}") from None
    except EOFError:
        raise InvalidArchive("invalid archive: unexpected EOF (truncated)") from None


def _take(store: ImageStore, tar: tarfile.TarFile, member: tarfile.TarInfo, archive: _Archive) -> None:
    name = posixpath.normpath(member.name.lstrip("/"))
    if member.issym():
        archive.links[name] = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
        return
    if member.islnk():
        archive.links[name] = posixpath.normpath(member.linkname.lstrip("/"))
        return
    if not member.isfile():
        return
    f = tar.extractfile(member)
    assert f is not None
    m = _BLOB_PATH.match(name)
    legacy = _LEGACY_CONFIG.match(name)
    if name in _SMALL:
        if member.size > _SMALL_LIMIT:
            raise InvalidArchive(f"invalid archive: {name} is too large")
        archive.small[name] = _read_exact(f, member.size, name)
    elif m or legacy or name.endswith("/layer.tar"):
        expected = f"{m.group(1)}:{m.group(2)}" if m else f"sha256:{legacy.group(1)}" if legacy else None
        archive.blobs[name] = _store_blob(store, f, expected, member.size, archive)


def _read_exact(f: IO[bytes], size: int, name: str) -> bytes:
    data = f.read(size)
    if len(data) != size:
        raise InvalidArchive(f"invalid archive: {name} is truncated")
    return data


def _store_blob(store: ImageStore, f: IO[bytes], expected: str | None, size: int, archive: _Archive) -> str:
    if expected is not None:
        archive.session.blob(expected)  # pinned first, so no concurrent discard can race us
        if store.content.has(expected):
            return expected  # already stored and verified; tarfile skips the unread rest
    digest, _ = store.content.write(f, expected, size)
    archive.session.blob(digest)
    return digest


def _layer_input(store: ImageStore, digest: str) -> LayerInput:
    """Media type from the blob's magic bytes: archives carry tars, OCI layouts may compress."""
    with store.content.open(digest) as f:
        kind = detect(f.read(8))
    types = {"": mt.OCI_LAYER, "gzip": mt.OCI_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD}
    if kind not in types:
        raise InvalidArchive(f"invalid archive: layer {digest} is {kind}-compressed")
    return LayerInput(digest, types[kind])


Plan = list[tuple[bytes, list[LayerInput], list[Reference]]]


def _plan(store: ImageStore, archive: _Archive) -> Plan:
    if "manifest.json" in archive.small:
        return _plan_docker(store, archive)
    if "index.json" in archive.small:
        return _plan_oci(store, archive)
    raise InvalidArchive("invalid archive: no manifest.json or index.json (not a docker save archive)")


def _plan_docker(store: ImageStore, archive: _Archive) -> Plan:
    entries = archive.json("manifest.json")
    if not isinstance(entries, list):
        raise InvalidArchive("invalid archive: manifest.json is not a list")
    plan: Plan = []
    for entry in entries:
        try:
            config_path, layer_paths = entry["Config"], entry["Layers"]
            tags = entry.get("RepoTags") or []
        except (KeyError, TypeError):
            raise InvalidArchive("invalid archive: manifest.json entry lacks Config or Layers") from None
        config = store.content.read_bytes(archive.digest(config_path))
        layers = [_layer_input(store, archive.digest(p)) for p in layer_paths]
        plan.append((config, layers, [_tag_ref(t) for t in tags]))
    return plan


def _tag_ref(text: str) -> Reference:
    ref = _ref.parse(text)
    if ref.digest is not None:
        raise InvalidArchive(f"invalid archive: RepoTags entry {text!r} is not a tag")
    return ref


def _plan_oci(store: ImageStore, archive: _Archive) -> Plan:
    plan: Plan = []
    for desc in archive.json("index.json").get("manifests") or []:
        manifest = _manifest(store, archive, desc)
        config_digest = _blob_digest(archive, manifest["config"]["digest"])
        layers = []
        for layer in manifest.get("layers") or []:
            if layer.get("mediaType") not in mt.LAYERS:
                raise InvalidArchive(f"invalid archive: unsupported media type {layer.get('mediaType')!r}")
            layers.append(LayerInput(_blob_digest(archive, layer["digest"]), layer["mediaType"]))
        name = (desc.get("annotations") or {}).get("io.containerd.image.name")
        refs = [_tag_ref(name)] if name else []
        plan.append((store.content.read_bytes(config_digest), layers, refs))
    return plan


def _blob_digest(archive: _Archive, digest: str) -> str:
    alg, _, hexpart = digest.partition(":")
    return archive.digest(f"blobs/{alg}/{hexpart}")


def _manifest(store: ImageStore, archive: _Archive, desc: dict[str, Any]) -> dict[str, Any]:
    """The image manifest a descriptor points at, choosing this platform inside an index."""
    for _ in range(4):
        media_type = desc.get("mediaType")
        data = json.loads(store.content.read_bytes(_blob_digest(archive, desc["digest"])))
        if media_type in mt.MANIFESTS:
            return data  # type: ignore[no-any-return]
        if media_type not in mt.INDEXES:
            raise InvalidArchive(f"invalid archive: unsupported media type {media_type!r}")
        desc = _pick_platform(data.get("manifests") or [])
    raise InvalidArchive("invalid archive: indexes nested too deeply")


def _pick_platform(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    from ..engine import go_arch

    for m in manifests:
        p = m.get("platform") or {}
        if p.get("os", "linux") == "linux" and p.get("architecture") in (None, go_arch()):
            return m
    raise InvalidArchive(f"invalid archive: no image for linux/{go_arch()}")


__all__ = ["InvalidArchive", "familiar", "load", "parse_config", "save"]
