"""A dockyard daemon of its own for the builder's tests (restartable, private cache), with
busybox loaded, and a ``build`` helper that writes a context and collects the stream."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from buildhelp import Built, write_context

from dockyard.testing.daemon import DaemonProcess


@pytest.fixture(scope="module")
def daemon(busybox_archive: Path) -> Iterator[DaemonProcess]:
    if os.geteuid() != 0:
        pytest.skip("RUN steps need root (namespaces, overlayfs)")
    with DaemonProcess() as d:
        yield d.load(busybox_archive)


@pytest.fixture
def client(daemon: DaemonProcess) -> Iterator[Any]:
    c = daemon.client()
    yield c
    c.close()


@pytest.fixture
def build(client: Any, tmp_path: Path) -> Callable[..., Built]:
    def go(files: dict[str, str | bytes] | None = None, path: Path | None = None,
           **kwargs: Any) -> Built:
        ctx = path or write_context(tmp_path / "ctx", files or {})
        messages = list(client.api.build(path=str(ctx), decode=True, **kwargs))
        image = next((m["aux"]["ID"] for m in messages if "aux" in m), None)
        return Built(image, messages)
    return go
