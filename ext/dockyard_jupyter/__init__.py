"""dockyard_jupyter: the notebook front end of dockyard (magics, widgets, server extension).

Entry points only; the magics and the server are imported when they are used, so
``%load_ext dockyard_jupyter`` pulls in no server code and the server no kernel code.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    from .magics import load

    load(ipython)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server import _jupyter_server_extension_points as points

    return points()


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab panel (built from labextension/; see docs/jupyterlab-panel.md)."""
    return [{"src": "labextension", "dest": "dockyard-jupyter"}]
