"""A create naming several network endpoints (``NetworkingConfig.EndpointsConfig``) through
API < 1.44, side by side with a private dockerd 20.10 (API 1.41): refused with its 400 and
words, naming the endpoints (dockerd in Go's map order, which varies; dockyard in the
request's). From 1.44 a container may be created on several networks: dockyard takes it."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from dockyard.testing.daemon import DaemonProcess
from dockyard.testing.dockerd import Dockerd

ENDPOINTS = {"dytest-ep-a": {}, "dytest-ep-b": {}}


def _refusal(host: str, version: str) -> tuple[int, str]:
    api = docker.APIClient(base_url=host, version=version)
    try:
        with pytest.raises(docker.errors.APIError) as caught:
            api.create_container("busybox", ["true"],
                                 networking_config={"EndpointsConfig": ENDPOINTS})
    finally:
        api.close()
    return caught.value.status_code, str(caught.value.explanation)


def _named(message: str) -> tuple[str, set[str]]:
    words, _, names = message.partition(": ")
    return words, set(names.split(", "))


@pytest.mark.parametrize("version", ["1.24", "1.41"])
def test_several_endpoints_are_refused_below_1_44(dockerd: Dockerd, dockyard_daemon: DaemonProcess,
                                                  version: str) -> None:
    theirs, ours = _refusal(dockerd.host, version), _refusal(dockyard_daemon.host, version)
    assert theirs[0] == ours[0] == 400
    assert _named(theirs[1]) == _named(ours[1]) == (
        "Container cannot be connected to network endpoints", set(ENDPOINTS))
    assert ours[1] == f"Container cannot be connected to network endpoints: {', '.join(ENDPOINTS)}"


@pytest.fixture
def two_networks(dockyard_daemon: DaemonProcess) -> Iterator[None]:
    client = dockyard_daemon.client()
    made = [client.networks.create(name) for name in ENDPOINTS]
    try:
        yield
    finally:
        for network in made:
            network.remove()
        client.close()


def test_from_1_44_a_container_is_created_on_several_networks(
        dockyard_daemon: DaemonProcess, two_networks: None, busybox_image: str) -> None:
    api = docker.APIClient(base_url=dockyard_daemon.host, version="1.44")
    try:
        made = api.create_container("busybox", ["true"],
                                    networking_config={"EndpointsConfig": ENDPOINTS})
        try:
            networks = api.inspect_container(made["Id"])["NetworkSettings"]["Networks"]
            assert set(ENDPOINTS) <= set(networks)
        finally:
            api.remove_container(made["Id"], force=True)
    finally:
        api.close()
