"""Helpers to build small, real layers and images for the store tests."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

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
    history = [{"created": created, "created_by": f"/bin/sh -c #(nop) ADD layer {i}"}
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


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ImageStore]:
    s = ImageStore(tmp_path / "root")
    yield s
    s.close()


def simple_layer(tag: str = "a") -> bytes:
    return make_tar([F("etc/", type=tarfile.DIRTYPE, mode=0o755), F(f"etc/{tag}.txt", tag.encode())])
