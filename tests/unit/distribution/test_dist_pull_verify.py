"""A pull hands each network buffer to the unpacker before the blob's digest is known: these
tests prove that a blob the registry serves wrong still leaves nothing behind."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from dist_helpers import Node, run

from dockyard.errors import DigestMismatch
from dockyard.testing.registry import RegistryProcess


def layer_file(reg: RegistryProcess, repo: str, tag: str) -> Path:
    """The registry's file holding the first layer of ``repo:tag`` (its on-disk layout)."""
    tag_digest = (reg.root / "repositories" / repo / "_manifests" / "tags" / tag).read_text().strip()
    manifest = json.loads(blob_path(reg, tag_digest).read_bytes())
    return blob_path(reg, manifest["layers"][0]["digest"])


def blob_path(reg: RegistryProcess, digest: str) -> Path:
    hexpart = digest.partition(":")[2]
    return reg.root / "blobs" / "sha256" / hexpart[:2] / hexpart


def test_layer_with_the_right_content_but_the_wrong_digest_is_refused(
        source: Node, node_factory: Callable[..., Node],
        dockyard_registry_factory: Callable[..., RegistryProcess]) -> None:
    """Same size, same uncompressed bytes (so the diff_id matches), other gzip mtime: the
    snapshot the unpacker made must not survive the blob's digest check."""
    reg = dockyard_registry_factory()
    source.store.tag("busybox:latest", f"{reg.host}/tampered", "v1")
    run(source.dist.push(f"{reg.host}/tampered", "v1"))
    path = layer_file(reg, "tampered", "v1")
    data = bytearray(path.read_bytes())
    assert data[:2] == b"\x1f\x8b"
    data[4:8] = b"\x01\x02\x03\x04"  # gzip MTIME: ignored by every decoder
    path.write_bytes(bytes(data))
    fresh = node_factory("fresh")
    with pytest.raises(DigestMismatch):
        run(fresh.dist.pull(f"{reg.host}/tampered", "v1"))
    assert fresh.store.count_images() == 0
    assert fresh.store.snapshots.ids() == []
    assert [p.name for p in fresh.store.snapshots.root.iterdir()] == []
    assert list(fresh.store.content.digests()) == []
    assert list(fresh.store.content.ingest.iterdir()) == []
