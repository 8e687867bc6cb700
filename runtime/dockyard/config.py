"""Daemon configuration: dockerd's flag names; the default locations are :mod:`.hosts`'s."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .hosts import client_host, default_data_root, default_host, default_socket, is_root

__all__ = ["DaemonConfig", "client_host", "default_data_root", "default_host", "default_socket", "is_root"]


@dataclass
class DaemonConfig:
    """What ``dockyard daemon`` was started with."""

    data_root: Path = field(default_factory=default_data_root)
    hosts: list[str] = field(default_factory=lambda: [default_host()])
    pidfile: Path | None = None
    log_level: str = "info"
    insecure_registries: list[str] = field(default_factory=list)
    registry_mirrors: list[str] = field(default_factory=list)
    bridge: str | None = None               # -b: the default bridge network's Linux bridge
    bip: str | None = None                  # --bip: its address/prefix (first use only)

    @property
    def rootless(self) -> bool:
        return not is_root()
