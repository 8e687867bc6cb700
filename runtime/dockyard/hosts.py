"""The default locations users know, and which daemon a client talks to.

root:     data ``/var/lib/dockyard``,              socket ``/run/dockyard/dockyard.sock``
non-root: data ``~/.local/share/dockyard``,        socket ``$XDG_RUNTIME_DIR/dockyard/dockyard.sock``

Apart from :mod:`.config` (which re-exports all of it) so that a client — ``dockyard run``,
``dockyard version`` — does not import ``dataclasses`` (and ``inspect``, ``ast``, ``dis``) to
find its socket.
"""

from __future__ import annotations

import os
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
