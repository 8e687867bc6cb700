"""Fixtures for the interop tests that drive the session daemon."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI, remapped_daemon
from dockyard.testing.dockerd import (
    Dockerd,
    load_busybox,
    skip_unless_root,
    start_dockerd,
    stop_dockerd,
)


@pytest.fixture
def client(dockyard_tidy_client: Any) -> Any:
    """``dockyard_tidy_client`` (the plugin's): containers a test leaves behind are removed."""
    return dockyard_tidy_client




@pytest.fixture
def both(dockerd: Dockerd, dockyard_daemon: Any, client: Any) -> Iterator[dict[str, Any]]:
    """The private dockerd and the session daemon side by side: name → (docker CLI, docker-py
    client); busybox is in each (the fixtures load it). Modules wanting another shape define
    their own ``both``."""
    theirs = dockerd.client()
    yield {"dockerd": (DockerCLI(dockerd.host), theirs),
           "dockyard": (DockerCLI(dockyard_daemon.host), client)}
    theirs.close()


@pytest.fixture(scope="module")
def remapped_pair(busybox_archive: Path) -> Iterator[tuple[str, str]]:
    """A private dockerd and a dockyard daemon, each with ``--userns-remap default`` and busybox:
    their hosts (``unix://…``), dockerd's first."""
    skip_unless_root()
    theirs = start_dockerd(extra_args=("--userns-remap", "default"))
    try:
        load_busybox(theirs)
        with remapped_daemon() as ours:
            ours.load(busybox_archive)
            yield theirs.host, ours.host
    finally:
        stop_dockerd(theirs)
