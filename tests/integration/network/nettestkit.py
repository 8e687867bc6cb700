"""Helpers shared by the network tests (a module of its own: ``conftest`` names collide)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.containers.runtime import Container
from dockyard.network import nat, netlink
from dockyard.network.manager import NetworkManager


@dataclass
class Record:
    """The fields of H1's ContainerRecord the hooks read and fill."""

    id: str
    name: str
    dir: Path
    config: dict[str, Any] = field(default_factory=dict)
    host_config: dict[str, Any] = field(default_factory=dict)
    network_settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class Running:
    container: Container
    out: list[bytes]

    def wait(self, timeout: float = 20) -> tuple[int, str]:
        self.container.wait(timeout)
        status = self.container.cleanup(timeout)
        time.sleep(0.01)  # the output pipe drains on its own thread
        return status.exit_code, b"".join(self.out).decode()


def destroy(mgr: NetworkManager) -> None:
    """Remove every bridge and rule the manager made (the daemon itself leaves them, as dockerd)."""
    mgr.close()
    for net in mgr.state.networks.values():
        if net.driver == "bridge":
            nat.remove(net.bridge)
            link = netlink.Netlink()
            link.delete_link(net.bridge)
            link.close()


def drain(fd: int, sink: list[bytes]) -> None:
    while chunk := os.read(fd, 65536):
        sink.append(chunk)
    os.close(fd)
