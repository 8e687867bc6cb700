"""Fixtures for container tests through the real Engine API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import DaemonProcess, DockerCLI


@pytest.fixture
def client(dockyard_tidy_client: Any) -> Any:
    """``dockyard_tidy_client`` (the plugin's): containers a test leaves behind are removed."""
    return dockyard_tidy_client


@pytest.fixture(scope="module")
def busybox_daemon(busybox_archive: Path) -> Iterator[DaemonProcess]:
    """A daemon of the module's own with busybox loaded: for tests that restart it."""
    with DaemonProcess() as d:
        yield d.load(busybox_archive)


@pytest.fixture
def docker(dockyard_daemon: DaemonProcess, client: Any) -> DockerCLI:
    """The docker CLI against the session daemon (``client``: busybox loaded, containers
    removed after the test)."""
    return DockerCLI(dockyard_daemon.host)
