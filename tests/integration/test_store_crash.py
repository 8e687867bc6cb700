"""kill -9 in the middle of ``docker load``, again and again: the store always reopens consistent.

A child process loads a multi-image archive into one data root and is SIGKILLed at a spread of
moments (during blob writes, unpacking, commit, and recovery itself). After every kill the store
is reopened and checked: every reference names a complete image, every image has its config,
layer blobs and snapshots, nothing half-written is visible, and no orphan survives reopening.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from dockyard.store.images import ImageStore
from dockyard.testing import busybox

LOADER = """
import sys
from dockyard.store.archive import load
from dockyard.store.images import ImageStore
store = ImageStore(sys.argv[1])
with open(sys.argv[2], "rb") as f:
    for _ in load(store, f):
        pass
print("done", flush=True)
"""


def _layer(path: Path, files: dict[str, int]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, size in files.items():
            info = tarfile.TarInfo(name)
            info.size = size
            with open("/dev/urandom", "rb") as rnd:
                tar.addfile(info, rnd)
    return path


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, str]]]:
    d = tmp_path_factory.mktemp("crash")
    big = _layer(d / "big.tar", {"big/blob": 24 << 20})
    many = _layer(d / "many.tar", {f"many/{i // 100}/f{i}": 1024 for i in range(1500)})
    images = [busybox.make_image("crash/base:1"),
              busybox.make_image("crash/big:1", extra_layers=[big]),
              busybox.make_image("crash/many:1", extra_layers=[many, big])]
    path = busybox.write_archive(d / "archive.tar", images)
    return path, [(i.tag, i.config.digest) for i in images]


def _run_loader(root: Path, archive: Path, kill_after: float | None) -> bool:
    """Run a load; SIGKILL it after ``kill_after`` seconds. True if it finished by itself."""
    proc = subprocess.Popen([sys.executable, "-c", LOADER, str(root), str(archive)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if kill_after is None:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()
            return True
        time.sleep(kill_after)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        return proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _assert_consistent(root: Path, expected: dict[str, str]) -> set[str]:
    """Reopen (which collects orphans) and check every invariant; return the tags present."""
    store = ImageStore(root)
    try:
        assert store.meta.query("PRAGMA integrity_check") == [("ok",)]
        images = {i.id for i in store.meta.images()}
        for ref in store.meta.refs():
            assert ref.image_id in images, f"dangling reference {ref.name}"
        referenced = store.meta.referenced_blobs()
        for image_id in images:
            assert store.content.has(image_id)
            for layer in store.meta.layers(image_id):
                assert store.content.has(layer.blob_digest)
                assert store.snapshots.exists(layer.chain_id) and store.snapshots.info(layer.chain_id)
                assert store.meta.snapshot(layer.chain_id) is not None
        assert set(store.content.digests()) == referenced, "orphan or missing blobs"
        assert set(store.snapshots.ids()) == store.meta.snapshot_ids(), "orphan or missing snapshots"
        assert all(len(p.name) == 64 for p in store.snapshots.root.iterdir()), "temp dirs left"
        assert list(store.content.ingest.iterdir()) == []
        tags = {r.name: r.image_id for r in store.meta.refs()}
        for tag, image_id in tags.items():
            assert expected[tag] == image_id
        return set(tags)
    finally:
        store.close()


@pytest.mark.slow
def test_kill_minus_nine_mid_load(tmp_path: Path, archive: tuple[Path, list[tuple[str, str]]]) -> None:
    path, images = archive
    from dockyard.oci import reference

    expected = {str(reference.parse(tag)): image_id for tag, image_id in images}
    start = time.perf_counter()
    _run_loader(tmp_path / "timing", path, None)
    full = time.perf_counter() - start
    root = tmp_path / "root"
    killed = 0
    for i in range(12):
        killed += not _run_loader(root, path, full * (0.02 + i * 0.08))
        if _assert_consistent(root, expected):
            _empty(root)  # start the next round with work left to do
    assert killed >= 3, "kills did not land mid-load; the archive loads too fast for this test"
    _run_loader(root, path, None)
    assert _assert_consistent(root, expected) == set(expected)


def _empty(root: Path) -> None:
    store = ImageStore(root)
    try:
        store.prune({"dangling": ["false"]})
        assert store.count_images() == 0 and list(store.content.digests()) == []
    finally:
        store.close()
