"""The local driver on disk: atomic creation, metadata, option rules, and removal that never
reaches through a mount into a bind-mounted device."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument, NotFound
from dockyard.volumes.local import LocalDriver, mount_args, mounted, mounts_below


def test_create_get_list_remove(tmp_path: Path) -> None:
    driver = LocalDriver(tmp_path / "volumes")
    volume, new = driver.create("v1", None, {"a": "b"})
    assert new and volume.data == tmp_path / "volumes" / "v1" / "_data" and volume.data.is_dir()
    meta = json.loads((tmp_path / "volumes" / "v1" / "volume.json").read_text())
    assert meta["Name"] == "v1" and meta["Labels"] == {"a": "b"} and meta["Options"] is None
    again, new = driver.create("v1", {"type": "tmpfs", "device": "tmpfs"}, None)
    assert not new and again.options is None
    assert [v.name for v in driver.all()] == ["v1"]
    driver.remove(volume)
    assert os.listdir(tmp_path / "volumes") == []
    with pytest.raises(NotFound, match="^get v1: no such volume$"):
        driver.get("v1")


def test_half_made_volumes_are_swept_and_never_listed(tmp_path: Path) -> None:
    root = tmp_path / "volumes"
    (root / ".new-abc" / "_data").mkdir(parents=True)
    (root / ".gone-abc").mkdir()
    (root / "nometa" / "_data").mkdir(parents=True)
    driver = LocalDriver(root)
    assert sorted(os.listdir(root)) == ["nometa"]
    assert driver.all() == []
    for bad in ("", ".", "..", ".new-abc", "a/b"):
        with pytest.raises(NotFound):
            driver.get(bad)


@pytest.mark.parametrize("opts, message", [
    ({"colour": "x"}, 'create v2: invalid option: "colour"'),
    ({"type": "tmpfs"}, 'create v2: missing required option: "device"'),
    ({"o": "size=1m", "device": "tmpfs"}, 'create v2: missing required option: "type"'),
    ({"size": "1g"}, "create v2: quota size requested but no quota support"),
])
def test_option_rules(tmp_path: Path, opts: dict[str, str], message: str) -> None:
    driver = LocalDriver(tmp_path)
    with pytest.raises(InvalidArgument) as info:
        driver.create("v2", opts, None)
    assert str(info.value) == message
    assert driver.all() == []


def test_mount_args() -> None:
    assert mount_args({"type": "tmpfs", "device": "tmpfs", "o": "size=1m,ro,uid=5"}) == \
        ("tmpfs", "tmpfs", 1, "size=1m,uid=5")
    assert mount_args({"type": "none", "device": "/srv", "o": "bind,rw"}) == ("/srv", None, 4096, "")


def test_removal_unmounts_a_bind_device_first(tmp_path: Path) -> None:
    device = tmp_path / "device"
    device.mkdir()
    (device / "precious").write_text("keep me")
    driver = LocalDriver(tmp_path / "volumes")
    volume, _ = driver.create("bound", {"type": "none", "device": str(device), "o": "bind"}, None)
    try:
        assert driver.mountpoint(volume) == str(volume.data)
        assert mounted(volume.data) and not os.path.ismount(volume.data)  # same-fs bind
        assert (volume.data / "precious").exists()
        driver.mountpoint(volume)
        assert len(mounts_below(volume.path)) == 1  # mounted once, not stacked
    finally:
        driver.remove(volume)
    assert (device / "precious").read_text() == "keep me"
    assert mounts_below(tmp_path) == []


def test_a_device_that_cannot_be_mounted(tmp_path: Path) -> None:
    driver = LocalDriver(tmp_path / "volumes")
    volume, _ = driver.create("bad", {"type": "none", "device": "/nope-h4", "o": "bind"}, None)
    with pytest.raises(Exception, match="failed to mount local volume: mount /nope-h4:.*no such file"):
        driver.mountpoint(volume)
    driver.remove(volume)
    assert mounts_below(tmp_path) == []
