"""Copy-up from layer snapshots: the overlay merge (whiteouts, opaque dirs), attributes kept,
symlinks resolved inside the image only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dockyard.volumes.copyup import MergedImage, copy_up, image_path_kind


def _layers(tmp_path: Path) -> list[str]:
    low, top = tmp_path / "l0", tmp_path / "l1"
    (low / "data" / "sub").mkdir(parents=True)
    (low / "data" / "a").write_text("alpha")
    os.chown(low / "data" / "a", 1000, 1001)
    os.chmod(low / "data" / "a", 0o640)
    os.setxattr(low / "data" / "a", "user.test", b"x")
    os.link(low / "data" / "a", low / "data" / "a2")
    (low / "data" / "gone").write_text("deleted above")
    (low / "data" / "sub" / "old").write_text("hidden by an opaque dir")
    os.symlink("a", low / "data" / "link")
    os.mkfifo(low / "data" / "fifo")
    os.utime(low / "data" / "a", (1000000, 1000000))
    (low / "etc").mkdir()
    (low / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (top / "data" / "sub").mkdir(parents=True)
    os.setxattr(top / "data" / "sub", "trusted.overlay.opaque", b"y")
    (top / "data" / "sub" / "new").write_text("new")
    os.mknod(top / "data" / "gone", stat.S_IFCHR | 0o000, os.makedev(0, 0))
    os.chmod(top / "data", 0o750)  # the top layer's copy of a directory is what overlay shows
    os.chown(top / "data", 7, 8)
    os.symlink("/data", top / "vol")
    os.symlink("../../../../data", top / "escape")
    return [str(low), str(top)]


def test_copy_up_merges_layers_and_keeps_attributes(tmp_path: Path) -> None:
    lowers = _layers(tmp_path)
    dest = tmp_path / "vol"
    dest.mkdir()
    assert copy_up(lowers, "/data", str(dest))
    assert sorted(os.listdir(dest)) == ["a", "a2", "fifo", "link", "sub"]
    assert os.listdir(dest / "sub") == ["new"]
    st = os.lstat(dest / "a")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), st.st_mtime) == (1000, 1001, 0o640, 1000000)
    assert st.st_ino == os.lstat(dest / "a2").st_ino  # hardlinks stay hardlinks
    assert os.getxattr(dest / "a", "user.test") == b"x"
    assert os.readlink(dest / "link") == "a"
    assert stat.S_ISFIFO(os.lstat(dest / "fifo").st_mode)
    root = os.stat(dest)
    assert (root.st_uid, root.st_gid, stat.S_IMODE(root.st_mode)) == (7, 8, 0o750)
    with pytest.raises(OSError):
        os.getxattr(dest / "sub", "trusted.overlay.opaque")


def test_symlinks_resolve_inside_the_image(tmp_path: Path) -> None:
    lowers = _layers(tmp_path)
    image = MergedImage(lowers)
    assert image.lookup("/vol")[0] == "data"  # type: ignore[index]
    assert image.lookup("/escape/sub/new")[0] == "data/sub/new"  # type: ignore[index]
    assert image.lookup("/data/gone") is None
    assert image.lookup("/data/sub/old") is None
    assert image.lookup("/data/a/x") is None
    assert image_path_kind(lowers, "/etc/passwd") == "file"
    assert image_path_kind(lowers, "/vol") == "dir"
    assert image_path_kind(lowers, "/nope") == ""


def test_nothing_to_copy(tmp_path: Path) -> None:
    lowers = _layers(tmp_path)
    dest = tmp_path / "vol"
    dest.mkdir()
    assert not copy_up(lowers, "/missing", str(dest))
    assert not copy_up(lowers, "/etc/passwd", str(dest))
    assert not copy_up([], "/data", str(dest))
    assert os.listdir(dest) == []


def test_a_failed_copy_leaves_the_volume_empty(tmp_path: Path) -> None:
    """A volume too small for the image's content (a real ENOSPC from a 16 KiB tmpfs)."""
    from dockyard.linux import syscalls

    lowers = _layers(tmp_path)
    (Path(lowers[1]) / "data" / "zz").write_bytes(b"z" * (256 << 10))
    dest = tmp_path / "vol"
    dest.mkdir()
    syscalls.mount("tmpfs", str(dest), "tmpfs", 0, "size=16k")
    try:
        with pytest.raises(OSError, match="No space left"):
            copy_up(lowers, "/data", str(dest))
        assert os.listdir(dest) == []
    finally:
        syscalls.umount2(str(dest), 2)
