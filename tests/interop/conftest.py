"""Fixtures for the interop tests that drive the session daemon."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.testing.dockerd import Dockerd, load_busybox, start_dockerd, stop_dockerd


@pytest.fixture
def client(dockyard_tidy_client: Any) -> Any:
    """``dockyard_tidy_client`` (the plugin's): containers a test leaves behind are removed."""
    return dockyard_tidy_client


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    """A private dockerd 20.10 with busybox loaded, for one test module's side-by-side runs."""
    daemon = start_dockerd()
    try:
        load_busybox(daemon)
        yield daemon
    finally:
        stop_dockerd(daemon)
