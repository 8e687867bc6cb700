"""``compat.migrate_mac_address``: the container-wide MAC address of a create request read as
dockerd 25+ reads it per API version (moby's handleMACAddressBC cases, and the default
network's names)."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.api.compat import MAC_CONFLICT, MAC_DEPRECATED, migrate_mac_address
from dockyard.errors import InvalidArgument

MAC = "11:22:33:44:55:66"


def _body(mac: str = "", mode: str = "", endpoints: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"Image": "busybox", "HostConfig": {"NetworkMode": mode} if mode else {}}
    if mac:
        body["MacAddress"] = mac
    if endpoints is not None:
        body["NetworkingConfig"] = {"EndpointsConfig": endpoints}
    return body


def _endpoints(body: dict[str, Any]) -> dict[str, Any]:
    return dict((body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {})


@pytest.mark.parametrize("version", ["1.24", "1.41", "1.43"])
def test_old_api_moves_it_to_the_main_endpoint_and_keeps_it(version: str) -> None:
    body = _body(MAC, "aNet")
    assert migrate_mac_address(body, version, "bridge") == []
    assert body["MacAddress"] == MAC and _endpoints(body) == {"aNet": {"MacAddress": MAC}}
    mixed = _body(MAC, "aNetId", {"aNetName": {}})  # the one endpoint, whatever its key
    migrate_mac_address(mixed, version, "bridge")
    assert _endpoints(mixed) == {"aNetName": {"MacAddress": MAC}}


def test_old_api_default_mode_is_the_default_network() -> None:
    for mode in ("", "default"):
        body = _body(MAC, mode, {"default": {"Aliases": ["a"]}})
        migrate_mac_address(body, "1.41", "bridge")
        assert _endpoints(body) == {"bridge": {"Aliases": ["a"], "MacAddress": MAC}}


def test_old_api_drops_an_endpoint_mac_it_did_not_know() -> None:
    body = _body("", "aNet", {"aNet": {"MacAddress": MAC}})
    migrate_mac_address(body, "1.43", "bridge")
    assert _endpoints(body) == {"aNet": {}}


@pytest.mark.parametrize("mode", ["host", "none", "container:abc", "default"])
def test_old_api_refuses_it_without_a_network_of_its_own(mode: str) -> None:
    with pytest.raises(InvalidArgument, match=f"^{MAC_CONFLICT}$"):
        migrate_mac_address(_body(MAC, mode), "1.43", "none")  # a rootless daemon's default


def test_new_api_migrates_with_a_warning_and_drops_the_field() -> None:
    body = _body(MAC, "aNet")
    assert migrate_mac_address(body, "1.44", "bridge") == [MAC_DEPRECATED]
    assert "MacAddress" not in body and _endpoints(body) == {"aNet": {"MacAddress": MAC}}
    same = _body(MAC, "aNet", {"aNet": {"MacAddress": MAC}})
    assert migrate_mac_address(same, "1.45", "bridge") == [MAC_DEPRECATED]
    assert _endpoints(same) == {"aNet": {"MacAddress": MAC}}


def test_new_api_without_it_changes_nothing() -> None:
    body = _body("", "aNet", {"aNet": {"MacAddress": MAC}})
    assert migrate_mac_address(body, "1.45", "bridge") == []
    assert _endpoints(body) == {"aNet": {"MacAddress": MAC}}


@pytest.mark.parametrize("mode", ["host", "none", "container:abc"])
def test_new_api_shared_networks_warn_and_ignore_it(mode: str) -> None:
    body = _body(MAC, mode)
    assert migrate_mac_address(body, "1.45", "bridge") == [MAC_DEPRECATED]
    assert "MacAddress" not in body and _endpoints(body) == {}


def test_new_api_conflicts() -> None:
    with pytest.raises(InvalidArgument, match="HostConfig.NetworkMode must match the identity"):
        migrate_mac_address(_body(MAC, "aNetId", {"aNetName": {}}), "1.44", "bridge")
    with pytest.raises(InvalidArgument, match="^the container-wide MAC address must match the "
                                              "endpoint-specific MAC address for the main network"):
        migrate_mac_address(_body(MAC, "aNet", {"aNet": {"MacAddress": "00:11:22:33:44:55"}}),
                            "1.44", "bridge")
