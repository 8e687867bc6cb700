"""The shim's end of a run: the exit is on disk and told to every client while the container's
root mount is still held; only then does the shim let the mount go (its release syncs the
whole upper file system, which no waiter should wait for)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from dockyard.containers.shim import Shim


class _Client:
    """A client socket as the shim sees one, noting whether the root mount was still held
    when the exit came."""

    def __init__(self, rootfs: int, root: Path) -> None:
        self.rootfs, self.root = rootfs, root
        self.exit: dict[str, object] | None = None
        self.root_held_at_exit = False

    def send(self, packet: bytes) -> int:
        if packet.startswith(b"x"):
            self.exit = json.loads(packet[1:])
            self.root_held_at_exit = _holds(self.rootfs, self.root)
        return len(packet)


def _holds(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False


def test_the_root_mount_goes_after_the_exit_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "merged"
    root.mkdir()
    log = os.open(tmp_path / "log", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o640)
    shim = Shim(None, None, {"dir": str(tmp_path), "log_fd": log, "id": "c" * 64,
                             "cgroup_parent": "dockyard-test-none"}, None)
    child = subprocess.Popen(["sh", "-c", "exit 3"])
    shim.pid, shim.pidfd = child.pid, os.pidfd_open(child.pid)
    shim.rootfs = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    client = _Client(shim.rootfs, root)
    shim.clients.append(client)  # type: ignore[arg-type]
    try:
        shim._finish()
    finally:
        os.close(log)
    assert client.exit is not None and client.exit["exit_code"] == 3
    assert json.loads((tmp_path / "exit.json").read_text())["exit_code"] == 3
    assert client.root_held_at_exit, "the shim let the root mount go before reporting the exit"
    assert not _holds(shim.rootfs, root), "the shim kept the root mount after the exit"
