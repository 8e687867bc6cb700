"""A network endpoint's fields as a client of each API version sees them, side by side with a
private dockerd 20.10 (API 1.41).

dockerd 20.10's, recorded here: an endpoint in inspect has no ``DNSNames`` (API 1.44 added
it), and ``GET /containers/json`` lists each endpoint's ``Aliases`` as null (its list view
copies the addresses and ids alone; inspect has the aliases). From 1.44 dockyard answers as
before: ``DNSNames`` in both, the aliases in the list (though moby's list view,
daemon/container/view.go, copies neither at any version).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import docker
import pytest

from dockyard.testing.daemon import DaemonProcess
from dockyard.testing.dockerd import Dockerd

NETWORK = "dytest-epver"
NAME = "dytest-epver-c"


def _api(host: str, version: str) -> docker.APIClient:
    return docker.APIClient(base_url=host, version=version)


@pytest.fixture
def hosts(dockerd: Dockerd, dockyard_daemon: DaemonProcess,
          busybox_image: str) -> Iterator[dict[str, str]]:
    """Each daemon with a container on a network of its own, under the alias ``xx``."""
    hosts = {"dockerd": dockerd.host, "dockyard": dockyard_daemon.host}
    for host in hosts.values():
        api = _api(host, "1.41")
        api.create_network(NETWORK)
        made = api.create_container(
            "busybox", ["sleep", "300"], name=NAME,
            networking_config=api.create_networking_config(
                {NETWORK: api.create_endpoint_config(aliases=["xx"])}))
        api.start(made["Id"])
        api.close()
    try:
        yield hosts
    finally:
        for host in hosts.values():
            api = _api(host, "1.41")
            api.remove_container(NAME, force=True)
            api.remove_network(NETWORK)
            api.close()


def _seen(host: str, version: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The container's endpoint in inspect and in the list."""
    api = _api(host, version)
    try:
        inspected = api.inspect_container(NAME)["NetworkSettings"]["Networks"][NETWORK]
        listed = api.containers(filters={"name": NAME})[0]
        return inspected, listed["NetworkSettings"]["Networks"][NETWORK]
    finally:
        api.close()


def test_an_old_client_gets_dockerds_endpoint_fields(hosts: dict[str, str]) -> None:
    theirs, ours = _seen(hosts["dockerd"], "1.41"), _seen(hosts["dockyard"], "1.41")
    assert set(ours[0]) == set(theirs[0]) and "DNSNames" not in ours[0]
    assert set(ours[1]) == set(theirs[1]) and "DNSNames" not in ours[1]
    assert "xx" in theirs[0]["Aliases"] and "xx" in ours[0]["Aliases"]
    assert theirs[1]["Aliases"] is None and ours[1]["Aliases"] is None
    inspected, listed = _seen(hosts["dockyard"], "1.44")  # as before: a 1.44 client's fields
    assert "xx" in inspected["DNSNames"] and NAME in inspected["DNSNames"]
    assert listed["DNSNames"] == inspected["DNSNames"]
    assert listed["Aliases"] == ["xx"]
