"""dockyard's Jupyter server extension: an Engine API proxy under ``/dockyard/`` with Jupyter's
authentication, and a manager for the bundled daemon."""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import DockyardExtension

    return [{"module": "dockyard_jupyter.server", "app": DockyardExtension}]
