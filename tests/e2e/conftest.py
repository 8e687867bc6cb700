"""e2e fixtures: a private real dockerd (containers are not in dockyard's daemon yet) with a
busybox image in it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dockyard.testing.dockerd import Dockerd, load_busybox, start_dockerd, stop_dockerd


@pytest.fixture(scope="session")
def real_dockerd() -> Iterator[Dockerd]:
    daemon = start_dockerd()
    try:
        load_busybox(daemon, "busybox:latest")
        yield daemon
    finally:
        stop_dockerd(daemon)
