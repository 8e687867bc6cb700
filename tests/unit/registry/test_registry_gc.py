"""Garbage collection: mark and sweep, the grace period, dry runs, and pushes racing a gc."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from regclient import Client, sha256

from dockyard.registry.gc import GcResult, collect, mark, sweep
from dockyard.registry.storage import Storage
from dockyard.testing.registry import RegistryProcess


def age(root: Path, seconds: float = 7200) -> None:
    """Make every blob look old, so only references protect it."""
    past = time.time() - seconds
    for path in root.glob("blobs/*/*/*"):
        os.utime(path, (past, past))


@pytest.fixture
def registry(tmp_path: Path):  # type: ignore[no-untyped-def]
    with RegistryProcess(tmp_path) as reg:
        yield reg


def test_gc_removes_only_unreferenced_blobs(registry: RegistryProcess) -> None:
    client = Client(registry.url)
    keep = client.push_image("gc/app", "keep", seed="keep")
    drop = client.push_image("gc/app", "drop", seed="drop")
    orphan = client.upload("gc/app", b"orphan layer")
    client.request("DELETE", f"/v2/gc/app/manifests/{drop.digest}")
    age(registry.root)
    dry = collect(Storage(registry.root), grace=3600, dry_run=True)
    expected = {drop.digest, sha256(drop.config), orphan, *map(sha256, drop.layers)}
    assert set(dry.removed) == expected
    assert len(list(registry.root.glob("blobs/*/*/*"))) == 9
    result = collect(Storage(registry.root), grace=3600)
    assert set(result.removed) == expected and result.freed_bytes > 0
    for blob in (keep.config, *keep.layers):
        assert client.request("GET", f"/v2/gc/app/blobs/{sha256(blob)}").content == blob
    assert client.request("GET", "/v2/gc/app/manifests/keep").content == keep.body
    assert client.request("GET", f"/v2/gc/app/blobs/{orphan}").status_code == 404


def test_grace_period_keeps_fresh_blobs(registry: RegistryProcess) -> None:
    client = Client(registry.url)
    digest = client.upload("gc/fresh", b"uploaded for a manifest still to come")
    result = collect(Storage(registry.root), grace=3600)
    assert result.removed == [] and result.kept_recent == 1
    assert client.request("HEAD", f"/v2/gc/fresh/blobs/{digest}").status_code == 200


def test_manifest_pushed_during_gc_keeps_its_blobs(registry: RegistryProcess) -> None:
    client = Client(registry.url)
    config, layer = b'{"os":"linux"}', b"old layer uploaded long ago"
    client.upload("gc/race", config)
    client.upload("gc/race", layer)
    age(registry.root)
    storage = Storage(registry.root)
    marked = mark(storage)  # gc has marked; the manifest arrives before the sweep
    assert client.put_manifest("gc/race", "v1", client.manifest(config, [layer])).status_code == 201
    result = GcResult()
    sweep(storage, marked, time.time() - 3600, False, result)
    assert result.removed == []
    assert client.request("GET", f"/v2/gc/race/blobs/{sha256(layer)}").content == layer


def test_stale_uploads_are_removed(registry: RegistryProcess) -> None:
    client = Client(registry.url)
    location = client.request("POST", "/v2/gc/up/blobs/uploads/").headers["Location"]
    data = next(registry.root.glob("repositories/gc/up/_uploads/*/data"))
    past = time.time() - 3 * 86400
    os.utime(data, (past, past))
    assert collect(Storage(registry.root)).stale_uploads == 1
    assert client.request("GET", location).status_code == 404


def test_gc_command(registry: RegistryProcess) -> None:
    client = Client(registry.url)
    orphan = client.upload("gc/cli", b"orphan")
    age(registry.root)
    argv = [sys.executable, "-m", "dockyard.cli.main", "registry", "gc", "--root", str(registry.root)]
    out = subprocess.run([*argv, "--dry-run"], capture_output=True, text=True, check=True).stdout
    assert f"would remove {orphan}" in out
    assert client.request("HEAD", f"/v2/gc/cli/blobs/{orphan}").status_code == 200
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert f"removed {orphan}" in out and "1 blob(s) removed" in out
    assert client.request("HEAD", f"/v2/gc/cli/blobs/{orphan}").status_code == 404
    missing = subprocess.run([*argv[:-1], str(registry.root / "nope")], capture_output=True, text=True, check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("dockyard: registry root")
