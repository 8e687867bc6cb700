"""A full disk mid-load: one typed error naming the cause, and the store as it was."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_helpers import F, make_tar, oci_archive, simple_layer, store_state

from dockyard.store.archive import load
from dockyard.store.images import ImageStore, StoreFull
from dockyard.store.importer import import_rootfs


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 6 MiB tmpfs (needs root, as CI runs)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


@pytest.mark.root
def test_load_on_a_full_disk(small_fs: Path) -> None:
    store = ImageStore(small_fs / "root")
    try:
        list(load(store, io.BytesIO(oci_archive([([simple_layer()], ["small:1"])]))))
        before = store_state(store)
        big = make_tar([F("big", os.urandom(4 << 20))])
        with pytest.raises(StoreFull, match="no space left on device"):
            list(load(store, io.BytesIO(oci_archive([([simple_layer("x"), big], ["big:1"])]))))
        assert store_state(store) == before
        with pytest.raises(StoreFull):
            list(import_rootfs(store, io.BytesIO(big + big), "big", "2"))
        assert store_state(store) == before
        assert store.resolve("small:1")
    finally:
        store.close()
