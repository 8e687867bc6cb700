"""The shim's end of a run: the exit is on disk and told to every client while the container's
root mount and namespaces are still held; only then does the shim let them go (releasing them
unmounts everything and syncs the whole upper file system, which no waiter should wait for)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from dockyard.containers.shim import Shim


class _Client:
    """A client socket as the shim sees one, noting whether the root mount was still held
    when the exit came."""

    def __init__(self, held: list[tuple[int, Path]]) -> None:
        self.held = held
        self.exit: dict[str, object] | None = None
        self.held_at_exit = False

    def send(self, packet: bytes) -> int:
        if packet.startswith(b"x"):
            self.exit = json.loads(packet[1:])
            self.held_at_exit = all(_holds(fd, path) for fd, path in self.held)
        return len(packet)


def _holds(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False


def test_the_root_mount_and_namespaces_go_after_the_exit_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "merged"
    root.mkdir()
    log = os.open(tmp_path / "log", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o640)
    shim = Shim(None, None, {"dir": str(tmp_path), "log_fd": log, "id": "c" * 64,
                             "cgroup_parent": "dockyard-test-none"}, None)
    child = subprocess.Popen(["sh", "-c", "exit 3"])
    shim.pid, shim.pidfd = child.pid, os.pidfd_open(child.pid)
    mnt = Path(f"/proc/{os.getpid()}/ns/mnt")  # stands for the init's namespaces
    held = [(os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC), root),
            (os.open(mnt, os.O_RDONLY | os.O_CLOEXEC), mnt)]
    shim.held = [fd for fd, _ in held]
    client = _Client(held)
    shim.clients.append(client)  # type: ignore[arg-type]
    try:
        shim._finish()
    finally:
        os.close(log)
    assert client.exit is not None and client.exit["exit_code"] == 3
    assert json.loads((tmp_path / "exit.json").read_text())["exit_code"] == 3
    assert client.held_at_exit, "the shim let the root mount go before reporting the exit"
    assert not any(_holds(fd, path) for fd, path in held), "the shim kept them after the exit"
