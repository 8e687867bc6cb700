"""e2e fixtures: a private real dockerd with a busybox image in it, for the tests that show the
magics, widgets and server extension drive a real Docker as well as dockyard's daemon."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dockyard.testing.dockerd import (
    Dockerd,
    load_busybox,
    skip_unless_root,
    start_dockerd,
    stop_dockerd,
)


@pytest.fixture(scope="session")
def real_dockerd() -> Iterator[Dockerd]:
    skip_unless_root()
    daemon = start_dockerd()
    try:
        load_busybox(daemon, "busybox:latest")
        yield daemon
    finally:
        stop_dockerd(daemon)
