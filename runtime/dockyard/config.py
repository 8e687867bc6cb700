"""Daemon configuration: dockerd's flag names, and the default locations users know.

root:     data ``/var/lib/dockyard``,              socket ``/run/dockyard/dockyard.sock``
non-root: data ``~/.local/share/dockyard``,        socket ``$XDG_RUNTIME_DIR/dockyard/dockyard.sock``
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def is_root() -> bool:
    return os.geteuid() == 0


def default_data_root() -> Path:
    if is_root():
        return Path("/var/lib/dockyard")
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(base) / "dockyard"


def default_socket() -> Path:
    if is_root():
        return Path("/run/dockyard/dockyard.sock")
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/dockyard-{os.getuid()}"
    return Path(runtime_dir) / "dockyard" / "dockyard.sock"


def default_host() -> str:
    """The daemon address a client uses when neither ``-H`` nor ``DOCKYARD_HOST`` is given."""
    return f"unix://{default_socket()}"


def client_host(explicit: str | None = None) -> str:
    """Host selection for clients: ``-H``, then ``DOCKYARD_HOST``, then the default socket."""
    return explicit or os.environ.get("DOCKYARD_HOST") or default_host()


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
