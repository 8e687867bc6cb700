"""Fixtures for the interop tests that drive the session daemon: cleanup of every container a
test leaves behind (the real docker CLI creates them beside docker-py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def client(dockyard_client: Any, busybox_image: str) -> Iterator[Any]:
    """docker-py client of the session daemon; containers the test made are removed after it."""
    before = {c["Id"] for c in dockyard_client.api.containers(all=True)}
    yield dockyard_client
    for c in dockyard_client.api.containers(all=True):
        if c["Id"] not in before:
            dockyard_client.api.remove_container(c["Id"], force=True, v=True)
