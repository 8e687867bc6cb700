"""Against a real dockerd 20.10: a dockyard archive loads there with the same image ID, and
dockerd's own unpacking of every layer (its overlay2 ``diff`` dirs) is file-for-file what
dockyard's snapshots hold — types, modes, owners, times, xattrs, hardlinks, whiteouts."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
from store_helpers import F, add_image, make_tar

from dockyard.store.archive import load, save
from dockyard.store.images import ImageStore
from dockyard.testing.dockerd import Dockerd

pytestmark = [pytest.mark.interop, pytest.mark.root]

DIR, SYM, LNK = tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
LAYERS = [
    make_tar([
        F("etc/", type=DIR, mode=0o755, mtime=1_600_000_000),
        F("etc/conf", b"a=1\n", mode=0o640, uid=101, gid=102, mtime=1_500_000_000.25,
          xattrs={"user.origin": "dockyard"}),
        F("etc/link", type=SYM, linkname="conf", uid=5, gid=6),
        F("etc/hard", type=LNK, linkname="etc/conf"),
        F("usr/bin/", type=DIR, mode=0o711),
        F("usr/bin/su", b"\x7fELF", mode=0o4755),
        F("tmp/", type=DIR, mode=0o1777),
        F("dev/null", type=tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
        F("run/fifo", type=tarfile.FIFOTYPE, mode=0o600),
        F("var/cache/", type=DIR), F("var/cache/old", b"old"),
    ]),
    make_tar([
        F("etc/", type=DIR, mode=0o755, mtime=1_600_000_000),
        F("etc/.wh.link"),
        F("var/cache/", type=DIR, mode=0o700, mtime=1_650_000_000),
        F("var/cache/.wh..wh..opq"),
        F("var/cache/new", b"new", mtime=1_650_000_000),
    ]),
]


def tree(root: Path, layer: bytes) -> dict[str, tuple[object, ...]]:
    """Everything about a directory tree that a layer must preserve, keyed by relative path
    (but the mtime of a parent directory the layer does not list or of a whiteout: neither
    dockerd nor dockyard sets those, they hold the unpack time)."""
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        listed = {m.name.rstrip("/") for m in tar}
    out: dict[str, tuple[object, ...]] = {}
    inodes: dict[int, list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            st = path.lstat()
            inodes.setdefault(st.st_ino, []).append(rel)
            xattrs = {k: os.getxattr(path, k, follow_symlinks=False)
                      for k in os.listxattr(path, follow_symlinks=False)}
            target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
            size = st.st_size if stat.S_ISREG(st.st_mode) else 0
            out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                        size, st.st_mtime_ns if _has_time(rel, st, listed) else 0, st.st_rdev,
                        target, tuple(sorted(xattrs.items())))
    for paths in inodes.values():
        for p in paths:
            out[p] = (*out[p], tuple(sorted(paths)))
    return out


def _has_time(rel: str, st: os.stat_result, listed: set[str]) -> bool:
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        return False
    return rel in listed or not stat.S_ISDIR(st.st_mode)


def dockerd_layer_dirs(daemon: Dockerd, name: str) -> list[Path]:
    data = daemon.client().api.inspect_image(name)["GraphDriver"]["Data"]
    lowers = [Path(p) for p in data.get("LowerDir", "").split(":") if p]
    return [*reversed(lowers), Path(data["UpperDir"])]


def test_dockyard_archive_loads_into_dockerd_identically(store: ImageStore, dockerd: Dockerd,
                                                         tmp_path: Path) -> None:
    image_id = add_image(store, LAYERS, ["dy/layers:1"])
    archive = b"".join(save(store, ["dy/layers:1"]))
    loaded = dockerd.client().images.load(archive)
    assert [i.id for i in loaded] == [image_id]
    assert dockerd.client().images.get("dy/layers:1").id == image_id
    theirs = dockerd_layer_dirs(dockerd, "dy/layers:1")
    mine = store.rootfs_layers("dy/layers:1")
    assert len(theirs) == len(mine) == 2
    for their_dir, my_dir, layer in zip(theirs, mine, LAYERS, strict=True):
        assert tree(my_dir, layer) == tree(their_dir, layer)


def test_dockerd_save_loads_back_into_dockyard(store: ImageStore, dockerd: Dockerd, tmp_path: Path) -> None:
    image_id = add_image(store, LAYERS, ["dy/back:1"])
    dockerd.client().images.load(b"".join(save(store, ["dy/back:1"])))
    legacy = b"".join(dockerd.client().images.get("dy/back:1").save(named=True))
    with tarfile.open(fileobj=io.BytesIO(legacy)) as tar:
        assert any(n.endswith("/layer.tar") for n in tar.getnames())  # dockerd 20.10: legacy form
    other = ImageStore(tmp_path / "other")
    try:
        assert [m["stream"] for m in load(other, io.BytesIO(legacy))] == ["Loaded image: dy/back:1\n"]
        assert other.resolve("dy/back:1") == image_id
        pairs = zip(other.rootfs_layers(image_id), store.rootfs_layers(image_id), LAYERS, strict=True)
        for a, b, layer in pairs:
            assert tree(a, layer) == tree(b, layer)
    finally:
        other.close()
