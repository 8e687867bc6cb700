"""ipywidgets for the notebook: an image browser, a container list and a live log view.

Each widget is built over a small model (rows, filter, sort, actions) that holds no widget
state, so behaviour is tested without a front end; the widgets only mirror it.
"""

from __future__ import annotations

from typing import Any


def image_browser(host: str | None = None) -> Any:
    from ..client import get_client, resolve_host
    from .images import ImageBrowser

    return ImageBrowser(get_client(resolve_host(host)))


def container_list(host: str | None = None) -> Any:
    from ..client import get_client, resolve_host
    from .containers import ContainerList

    return ContainerList(get_client(resolve_host(host)))
