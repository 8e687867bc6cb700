"""Garbage collection: mark and sweep, the grace period, dry runs, untagged manifests, pushes
racing a gc, and reads served while it runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from regclient import OCI_INDEX, OCI_MANIFEST, Client, canonical, descriptor, sha256

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


def age_revisions(root: Path, seconds: float = 7200) -> None:
    past = time.time() - seconds
    for path in root.glob("repositories/**/_manifests/revisions/*/*"):
        os.utime(path, (past, past))


def test_delete_untagged(registry: RegistryProcess) -> None:
    """Untagged manifests go (then their blobs); index entries and referrers of kept ones stay."""
    client = Client(registry.url)
    kept = client.push_image("gc/u", "v1", seed="kept")
    child = client.push_image("gc/u", "child", seed="child")
    index = canonical({"schemaVersion": 2, "mediaType": OCI_INDEX,
                       "manifests": [descriptor(OCI_MANIFEST, child.body)]})
    assert client.put_manifest("gc/u", "multi", index, OCI_INDEX).status_code == 201
    client.request("DELETE", "/v2/gc/u/manifests/child")  # the tag only: the index still holds it
    signature = client.push_image("gc/u", "sig", seed="sig", subject=descriptor(OCI_MANIFEST, kept.body))
    client.request("DELETE", "/v2/gc/u/manifests/sig")
    old = client.push_image("gc/u", "old", seed="old")
    client.request("DELETE", "/v2/gc/u/manifests/old")
    age(registry.root)
    age_revisions(registry.root)
    fresh = client.push_image("gc/u", "fresh", seed="fresh")
    client.request("DELETE", "/v2/gc/u/manifests/fresh")  # pushed just now: the grace period keeps it
    dry = collect(Storage(registry.root), grace=3600, dry_run=True, delete_untagged=True)
    assert dry.untagged == [f"gc/u@{old.digest}"]
    assert client.request("HEAD", f"/v2/gc/u/manifests/{old.digest}").status_code == 200
    result = collect(Storage(registry.root), grace=3600, delete_untagged=True)
    assert result.untagged == [f"gc/u@{old.digest}"]
    assert set(result.removed) == {old.digest, sha256(old.config), *map(sha256, old.layers)}
    assert client.request("GET", f"/v2/gc/u/manifests/{old.digest}").status_code == 404
    for image in (kept, child, signature, fresh):
        assert client.request("GET", f"/v2/gc/u/manifests/{image.digest}").content == image.body
        for blob in (image.config, *image.layers):
            assert client.request("GET", f"/v2/gc/u/blobs/{sha256(blob)}").content == blob
    referrers = client.request("GET", f"/v2/gc/u/referrers/{kept.digest}").json()["manifests"]
    assert [r["digest"] for r in referrers] == [signature.digest]


def test_delete_untagged_command(registry: RegistryProcess) -> None:
    client = Client(registry.url)
    old = client.push_image("gc/cmd", "old", seed="old")
    client.request("DELETE", "/v2/gc/cmd/manifests/old")
    age(registry.root)
    age_revisions(registry.root)
    argv = [sys.executable, "-m", "dockyard.cli.main", "registry", "gc", "--root", str(registry.root)]
    out = subprocess.run([*argv, "--dry-run"], capture_output=True, text=True, check=True).stdout
    assert "0 untagged manifest(s) and 0 blob(s) would be removed" in out  # without -m it is kept
    out = subprocess.run([*argv, "--delete-untagged"], capture_output=True, text=True, check=True).stdout
    assert f"removed manifest gc/cmd@{old.digest}" in out
    assert "1 untagged manifest(s) and 4 blob(s) removed" in out
    assert client.request("GET", f"/v2/gc/cmd/manifests/{old.digest}").status_code == 404


def read_slowly(host: str, path: str, size: int, started: threading.Event) -> bytes:
    """GET a blob over a raw socket, pausing after the first bytes so a gc runs mid-response."""
    address, port = host.split(":")
    with socket.create_connection((address, int(port)), timeout=20) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, body = data.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200"), head
        started.set()
        time.sleep(0.5)
        while len(body) < size:
            chunk = sock.recv(1 << 20)
            assert chunk, "connection closed mid-blob"
            body += chunk
        return body


def test_gc_while_serving_reads(registry: RegistryProcess) -> None:
    """Reads of kept content never fail while gc runs repeatedly; a download of a blob gc
    removes, already under way, still completes with the right bytes."""
    client = Client(registry.url)
    kept = client.push_image("gc/busy", "v1", seed="busy")
    big = os.urandom(48 << 20)
    doomed = client.upload("gc/busy", big)
    age(registry.root)
    started, stop = threading.Event(), threading.Event()
    with ThreadPoolExecutor(5) as pool:
        slow = pool.submit(read_slowly, registry.host, f"/v2/gc/busy/blobs/{doomed}", len(big), started)

        def reader() -> int:
            session, count = Client(registry.url), 0
            while not stop.is_set():
                assert session.request("GET", "/v2/gc/busy/manifests/v1").content == kept.body
                for blob in (kept.config, *kept.layers):
                    r = session.request("GET", f"/v2/gc/busy/blobs/{sha256(blob)}", headers={"Range": "bytes=1-"})
                    assert r.status_code == 206 and r.content == blob[1:]
                count += 1
            return count

        readers = [pool.submit(reader) for _ in range(3)]
        assert started.wait(10)
        results = [collect(Storage(registry.root), grace=3600) for _ in range(5)]
        stop.set()
        assert all(r.result() > 0 for r in readers)
        assert slow.result() == big
    assert results[0].removed == [doomed] and all(r.removed == [] for r in results[1:])
    assert client.request("HEAD", f"/v2/gc/busy/blobs/{doomed}").status_code == 404
