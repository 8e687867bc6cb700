"""Helpers to build small, real layers, images and archives for the store tests.

(A uniquely named module rather than conftest.py, so ``import`` never collides with another
test directory's conftest.)
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field

from dockyard.oci import mediatypes as mt
from dockyard.oci import reference
from dockyard.store.images import ImageStore, LayerInput


@dataclass
class F:
    """One tar entry to put in a test layer."""

    name: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: float = 1_700_000_000
    linkname: str = ""
    xattrs: dict[str, str] = field(default_factory=dict)
    devmajor: int = 0
    devminor: int = 0


def make_tar(entries: list[F]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type, info.mode, info.uid, info.gid, info.mtime = e.type, e.mode, e.uid, e.gid, e.mtime
            info.linkname, info.devmajor, info.devminor = e.linkname, e.devmajor, e.devminor
            info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in e.xattrs.items()}
            info.size = len(e.data) if e.type in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
            tar.addfile(info, io.BytesIO(e.data) if info.size else None)
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_config(diff_ids: list[str], created: str = "2024-01-02T03:04:05.123456789Z",
                labels: dict[str, str] | None = None, cmd: list[str] | None = None) -> bytes:
    history: list[dict[str, object]] = [{"created": created, "created_by": f"/bin/sh -c #(nop) ADD layer {i}"}
               for i in range(len(diff_ids))]
    history.append({"created": created, "created_by": "/bin/sh -c #(nop) CMD", "empty_layer": True})
    return json.dumps({
        "architecture": "amd64", "os": "linux", "created": created,
        "config": {"Cmd": cmd or ["/bin/sh"], "Labels": labels, "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history,
    }, sort_keys=True).encode()


def add_image(store: ImageStore, layers: list[bytes], tags: list[str] = (), compress: bool = False,  # type: ignore[assignment]
              **config_kw: object) -> str:
    """Put layer blobs and a config in the store and commit an image; return its ID."""
    inputs = []
    for tar in layers:
        blob = gzip.compress(tar, mtime=0) if compress else tar
        store.content.write_bytes(blob)
        inputs.append(LayerInput(sha256(blob), mt.OCI_LAYER_GZIP if compress else mt.OCI_LAYER))
    config = make_config([sha256(t) for t in layers], **config_kw)  # type: ignore[arg-type]
    prepared = store.prepare(config, inputs, [reference.parse(t) for t in tags])
    store.commit([prepared])
    return prepared.image.id


def simple_layer(tag: str = "a") -> bytes:
    return make_tar([F("etc/", type=tarfile.DIRTYPE, mode=0o755), F(f"etc/{tag}.txt", tag.encode())])


def _member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), 1_700_000_000
    tar.addfile(info, io.BytesIO(data))


def oci_archive(images: list[tuple[list[bytes], list[str]]], docker_json: bool = True,
                layer_media_type: str = mt.OCI_LAYER) -> bytes:
    """A Docker 25+ ``docker save`` archive (or, without manifest.json, a bare OCI layout)."""
    blobs: dict[str, bytes] = {}
    manifests, index = [], []
    for layers, tags in images:
        config = make_config([sha256(t) for t in layers])
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
            "config": {"mediaType": mt.OCI_CONFIG, "digest": sha256(config), "size": len(config)},
            "layers": [{"mediaType": layer_media_type, "digest": sha256(t), "size": len(t)} for t in layers],
        }).encode()
        for blob in (*layers, config, manifest):
            blobs[sha256(blob)] = blob
        manifests.append({"Config": f"blobs/sha256/{sha256(config)[7:]}", "RepoTags": tags,
                          "Layers": [f"blobs/sha256/{sha256(t)[7:]}" for t in layers]})
        for t in tags or [""]:
            desc: dict[str, object] = {"mediaType": mt.OCI_MANIFEST, "digest": sha256(manifest), "size": len(manifest)}
            if t:
                desc["annotations"] = {"io.containerd.image.name": str(reference.parse(t))}
            index.append(desc)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for digest, blob in blobs.items():
            _member(tar, f"blobs/sha256/{digest[7:]}", blob)
        _member(tar, "index.json", json.dumps({"schemaVersion": 2, "manifests": index}).encode())
        if docker_json:
            _member(tar, "manifest.json", json.dumps(manifests).encode())
        _member(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    return buf.getvalue()


def legacy_archive(images: list[tuple[list[bytes], list[str]]]) -> bytes:
    """What Docker <= 24 ``docker save`` writes: v1 dirs, a symlink for a repeated layer."""
    buf = io.BytesIO()
    manifests: list[object] = []
    seen: dict[str, str] = {}
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for n, (layers, tags) in enumerate(images):
            paths = []
            for i, layer in enumerate(layers):
                v1 = hashlib.sha256(f"{n}-{i}".encode()).hexdigest()
                _member(tar, f"{v1}/VERSION", b"1.0")
                _member(tar, f"{v1}/json", json.dumps({"id": v1}).encode())
                if sha256(layer) in seen:
                    link = tarfile.TarInfo(f"{v1}/layer.tar")
                    link.type, link.linkname = tarfile.SYMTYPE, f"../{seen[sha256(layer)]}/layer.tar"
                    tar.addfile(link)
                else:
                    _member(tar, f"{v1}/layer.tar", layer)
                    seen[sha256(layer)] = v1
                paths.append(f"{v1}/layer.tar")
            config = make_config([sha256(t) for t in layers])
            _member(tar, f"{sha256(config)[7:]}.json", config)
            manifests.append({"Config": f"{sha256(config)[7:]}.json", "RepoTags": tags or None, "Layers": paths})
        _member(tar, "manifest.json", json.dumps(manifests).encode())
        _member(tar, "repositories", b"{}")
    return buf.getvalue()


def store_state(store: ImageStore) -> tuple[object, ...]:
    """Everything a failed load must leave unchanged."""
    return (sorted(store.content.digests()), sorted(store.snapshots.ids()),
            [r.name for r in store.meta.refs()], [i.id for i in store.meta.images()],
            sorted(p.name for p in store.snapshots.root.iterdir()),
            sorted(p.name for p in store.content.ingest.iterdir()))
