"""What a crashed build leaves is cleaned when the builder next starts: scratch dirs, the
context, and a read-only image view still mounted under ``snapshots/tmp-ro-*``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.config import DaemonConfig
from dockyard.engine import Engine
from dockyard.linux import syscalls


def _mounted(path: Path) -> bool:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return any(line.split()[4] == str(path) for line in f)


def test_builder_start_removes_what_a_crash_left(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    root = tmp_path / "root"
    view = root / "snapshots" / "tmp-ro-deadbeef" / "merged"
    view.mkdir(parents=True)
    syscalls.mount("tmpfs", str(view), "tmpfs", 0, "size=1m")
    (root / "build" / "tmp" / "context-x").mkdir(parents=True)
    try:
        engine = Engine(DaemonConfig(data_root=root))
        try:
            assert engine.builder.disk_usage() == []
            assert not _mounted(view) and not view.parent.exists()
            assert os.listdir(root / "build" / "tmp") == []
        finally:
            engine.close()
    finally:
        if _mounted(view):
            syscalls.umount2(str(view), syscalls.MNT_DETACH)
