"""``nsmodes.check_decoded``: dockerd 20.10's ``validateNetMode`` (recorded side by side in
tests/interop/test_namespace_modes_dockerd.py), its checks in its order."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.containers import links, nsmodes
from dockyard.errors import InvalidArgument

CONTAINER = {"NetworkMode": "container:abc"}


@pytest.mark.parametrize(("config", "hc", "words"), [
    ({}, {"NetworkMode": "container:"}, "Invalid network mode: invalid container format container:<name|id>"),
    ({}, {"NetworkMode": "container"}, "Invalid network mode: invalid container format container:<name|id>"),
    ({"Hostname": "x"}, {**CONTAINER, "Links": ["a:b"]}, "conflicting options: hostname and the network mode"),
    ({}, {**CONTAINER, "Links": ["a:b"], "Dns": ["10.0.0.1"]}, links.CONTAINER_AND_LINKS),
    ({}, {**CONTAINER, "Dns": ["1.1.1.1"], "ExtraHosts": ["a:1.2.3.4"]},
     "conflicting options: dns and the network mode"),
    ({}, {**CONTAINER, "ExtraHosts": ["a:1.2.3.4"], "PublishAllPorts": True},
     "conflicting options: custom host-to-IP mapping and the network mode"),
    ({"ExposedPorts": {"80/tcp": {}}}, {**CONTAINER, "PublishAllPorts": True},
     "conflicting options: port publishing and the container type network mode"),
    ({"ExposedPorts": {"80/tcp": {}}}, CONTAINER,
     "conflicting options: port exposing and the container type network mode"),
    ({"Hostname": "x"}, {"UTSMode": "host", "NetworkMode": "host", "Links": ["a:b"]},
     "conflicting options: hostname and the UTS mode"),
    ({}, {"NetworkMode": "host", "Links": ["a:b"]}, links.HOST_AND_LINKS),
])
def test_the_first_conflict_is_refused_in_dockerds_words(config: dict[str, Any], hc: dict[str, Any],
                                                          words: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        nsmodes.check_decoded(config, hc)
    assert str(caught.value) == words


@pytest.mark.parametrize(("config", "hc"), [
    ({"Hostname": "", "ExposedPorts": {}}, {**CONTAINER, "PortBindings": {}, "Dns": [], "DnsSearch": ["a"]}),
    ({"Hostname": "x", "ExposedPorts": {"80/tcp": {}}}, {"NetworkMode": "host", "Dns": ["1.1.1.1"]}),
    ({"Hostname": "x"}, {"NetworkMode": "none", "Links": ["a:b"], "UTSMode": ""}),
])
def test_what_leaves_room_is_taken(config: dict[str, Any], hc: dict[str, Any]) -> None:
    nsmodes.check_decoded(config, hc)
