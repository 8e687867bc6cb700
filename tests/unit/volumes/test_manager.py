"""VolumeManager in-process with a stand-in engine: device volumes at daemon stop, users."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from dockyard.volumes.local import mounted, mounts_below
from dockyard.volumes.manager import VolumeManager


class Containers:
    """The part of ContainerManager the volumes read: ``all()`` records with ``mounts``."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def all(self) -> list[Any]:
        return list(self.records)


def test_close_unmounts_only_unused_device_volumes(tmp_path: Path) -> None:
    containers = Containers()
    manager = VolumeManager(SimpleNamespace(data_root=str(tmp_path), containers=containers))
    opts = {"type": "tmpfs", "device": "tmpfs", "o": "size=64k"}
    try:
        for name in ("used", "idle"):
            manager.create({"Name": name, "DriverOpts": opts})
            manager.driver.mountpoint(manager.driver.get(name))
        containers.records.append(SimpleNamespace(id="c1", mounts=[{"Type": "volume", "Name": "used"}]))
        manager.close()
        assert mounted(manager.driver.get("used").data)
        assert not mounted(manager.driver.get("idle").data)
        assert manager.users("used") == ["c1"] and manager.users("idle") == []
    finally:
        containers.records.clear()
        for name in ("used", "idle"):
            manager.remove(name, force=True)
    assert mounts_below(tmp_path) == []
