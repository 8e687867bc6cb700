"""Where a container's port is reached from the Jupyter server."""

from __future__ import annotations

import pytest

from dockyard.errors import NotFound
from dockyard_jupyter.server.ports import resolve_port


def test_published_port_wins() -> None:
    c = {"NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]},
                             "Networks": {"bridge": {"IPAddress": "172.17.0.2"}}}}
    assert resolve_port(c, 80) == ("127.0.0.1", 8080)
    c["NetworkSettings"]["Ports"]["80/tcp"] = [{"HostIp": "127.0.0.5", "HostPort": "9"}]
    assert resolve_port(c, 80) == ("127.0.0.5", 9)


def test_host_network_then_container_address() -> None:
    assert resolve_port({"HostConfig": {"NetworkMode": "host"}}, 8888) == ("127.0.0.1", 8888)
    bridged = {"NetworkSettings": {"Ports": {}, "Networks": {"n": {"IPAddress": "10.1.0.3"}}}}
    assert resolve_port(bridged, 5000) == ("10.1.0.3", 5000)


def test_unreachable_port_is_a_named_not_found() -> None:
    isolated = {"Name": "/quiet", "HostConfig": {"NetworkMode": "none"},
                "NetworkSettings": {"Networks": {"none": {"IPAddress": ""}}}}
    with pytest.raises(NotFound, match="container quiet has no reachable port 80"):
        resolve_port(isolated, 80)
