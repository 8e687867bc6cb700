"""Fixtures for volume tests through the real Engine API: the session daemon with busybox
loaded; every container and volume a test made is removed after it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def client(dockyard_client: Any, busybox_image: str) -> Iterator[Any]:
    api = dockyard_client.api
    before = {c["Id"] for c in api.containers(all=True)}
    volumes = {v["Name"] for v in api.volumes()["Volumes"] or []}
    yield dockyard_client
    for c in api.containers(all=True):
        if c["Id"] not in before:
            api.remove_container(c["Id"], force=True, v=True)
    for v in api.volumes()["Volumes"] or []:
        if v["Name"] not in volumes:
            api.remove_volume(v["Name"])


@pytest.fixture
def run(client: Any) -> Any:
    """``run(CMD, **kwargs)``: ``docker run --rm busybox sh -c CMD`` (no network); its output."""

    def run_(cmd: str, image: str = "busybox", **kwargs: Any) -> str:
        kwargs.setdefault("network_mode", "none")
        out: bytes = client.containers.run(image, ["sh", "-c", cmd], remove=True, **kwargs)
        return out.decode()
    return run_
