"""The init layer under a RUN step (build/initlayer.py): what it holds for an image, made once
per variant and shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.build import initlayer

ME = (os.geteuid(), os.getegid())


def _layer(root: Path, *dirs: str) -> str:
    for rel in dirs:
        (root / rel).mkdir(parents=True)
    return str(root)


def test_an_image_without_etc_dev_proc_sys_gets_them(tmp_path: Path) -> None:
    image = [_layer(tmp_path / "l0", "bin")]
    fs = Path(initlayer.lower_dir(tmp_path / "snapshots", image, ME))
    assert sorted(os.listdir(fs)) == [".dockerenv", "dev", "etc", "proc", "sys"]
    assert sorted(os.listdir(fs / "etc")) == ["hostname", "hosts", "mtab", "resolv.conf"]
    assert os.readlink(fs / "etc" / "mtab") == "/proc/mounts"
    st = os.stat(fs / ".dockerenv")
    assert (st.st_mode & 0o7777, st.st_size) == (0o755, 0)
    assert os.stat(fs / "etc").st_mode & 0o7777 == 0o755


def test_etc_keeps_the_images_mode_owner_and_xattrs_and_each_variant_is_made_once(
        tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("an /etc of another owner needs root")
    snapshots = tmp_path / "snapshots"
    low = _layer(tmp_path / "l0", "etc", "dev", "proc", "sys")
    top = _layer(tmp_path / "l1", "etc")  # the top-most /etc is the one a copy-up takes
    os.chmod(Path(top) / "etc", 0o750)
    os.chown(Path(top) / "etc", 5, 6)
    os.setxattr(Path(top) / "etc", "user.note", b"kept")
    fs = Path(initlayer.lower_dir(snapshots, [low, top], ME))
    st = os.stat(fs / "etc")
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o750, 5, 6)
    assert os.getxattr(fs / "etc", "user.note") == b"kept"
    assert sorted(os.listdir(fs)) == [".dockerenv", "etc"]  # the image has dev, proc, sys
    assert initlayer.lower_dir(snapshots, [low, top], ME) == str(fs)
    assert initlayer.lower_dir(snapshots, [low], ME) != str(fs)  # its /etc is 0755 root's
    assert not [p for p in snapshots.iterdir() if not p.name.startswith(initlayer.PREFIX)]
