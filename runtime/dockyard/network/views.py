"""The Engine API JSON shapes of networks and endpoints (dockerd v1.45), built from state."""

from __future__ import annotations

import ipaddress
from typing import Any

from . import ipam
from .state import Endpoint, Network

DEFAULT_BRIDGE_OPTIONS = {
    "com.docker.network.bridge.default_bridge": "true",
    "com.docker.network.bridge.enable_icc": "true",
    "com.docker.network.bridge.enable_ip_masquerade": "true",
    "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
    "com.docker.network.driver.mtu": "1500",
}


def prefixlen(net: Network) -> int:
    return ipaddress.IPv4Network(net.subnet).prefixlen if net.subnet else 0


def prefixlen6(net: Network) -> int:
    return ipaddress.IPv6Network(net.subnet6).prefixlen if net.subnet6 else 0


def gateway6(net: Network) -> str:
    """The IPv6 gateway the bridge holds: the one given, else the first address of the pool's
    range (``ipam.default_gateway``; dockerd's inspect shows only a given one)."""
    if net.gateway6 or not net.subnet6:
        return net.gateway6
    ip_range = ipaddress.IPv6Network(net.ip_range6) if net.ip_range6 else None
    return str(ipam.default_gateway(ipaddress.IPv6Network(net.subnet6), ip_range))


def network_json(net: Network, endpoints: list[Endpoint], with_containers: bool = True) -> dict[str, Any]:
    config = [_ipam_entry(net.subnet, net.ip_range, net.gateway if net.gateway_given else "", net.aux),
              _ipam_entry(net.subnet6, net.ip_range6, net.gateway6, net.aux6)]
    containers = {e.container_id: {
        "Name": e.name, "EndpointID": e.endpoint_id, "MacAddress": e.mac,
        "IPv4Address": f"{e.ip}/{prefixlen(net)}",
        "IPv6Address": f"{e.ip6}/{prefixlen6(net)}" if e.ip6 else ""} for e in endpoints}
    return {
        "Name": net.name, "Id": net.id, "Created": net.created, "Scope": "local",
        "Driver": net.driver, "EnableIPv6": net.ipv6,
        "IPAM": {"Driver": "default", "Options": None if net.predefined else net.ipam_options,
                 "Config": [entry for entry in config if entry]},
        "Internal": net.internal, "Attachable": net.attachable, "Ingress": False,
        "ConfigFrom": {"Network": net.config_from}, "ConfigOnly": net.config_only,
        "Containers": containers if with_containers else {},
        "Options": dict(net.options), "Labels": dict(net.labels),
    }


def _ipam_entry(subnet: str, ip_range: str, gateway: str, aux: dict[str, str]) -> dict[str, Any]:
    """One pool of ``IPAM.Config`` in dockerd's order (Subnet, IPRange, Gateway,
    AuxiliaryAddresses), each key only when set; ``{}`` for no pool."""
    if not subnet:
        return {}
    entry: dict[str, Any] = {"Subnet": subnet}
    if ip_range:
        entry["IPRange"] = ip_range
    if gateway:
        entry["Gateway"] = gateway
    if aux:
        entry["AuxiliaryAddresses"] = dict(aux)
    return entry


MACS = "_macs"
"""``NetworkSettings``' private key (views drop "_" keys): each network's configured MAC address,
as asked at create — kept across starts, where the live ``MacAddress`` may be a generated one
(dockerd's ``DesiredMacAddress``)."""


def endpoint_settings(net: Network | None, ep: Endpoint | None, request: dict[str, Any] | None,
                      dns_names: list[str] | None = None) -> dict[str, Any]:
    """``NetworkSettings.Networks[name]``: the request's Aliases/IPAMConfig, and the live
    endpoint's addresses while the container runs (empty strings otherwise, as dockerd; but
    a created container shows the MAC address it asked for, as dockerd's request copy)."""
    request = request or {}
    running = ep is not None and net is not None
    return {
        "IPAMConfig": request.get("IPAMConfig"), "Links": request.get("Links"),
        "Aliases": request.get("Aliases"),
        "MacAddress": ep.mac if ep else str(request.get("MacAddress") or ""),
        "DriverOpts": request.get("DriverOpts"),
        "NetworkID": net.id if net else "", "EndpointID": ep.endpoint_id if ep else "",
        "Gateway": net.gateway if running and net and net.gateway else "",
        "IPAddress": ep.ip if ep else "", "IPPrefixLen": prefixlen(net) if running and net else 0,
        "IPv6Gateway": gateway6(net) if running and net and ep and ep.ip6 else "",
        "GlobalIPv6Address": ep.ip6 if ep else "",
        "GlobalIPv6PrefixLen": prefixlen6(net) if running and net and ep and ep.ip6 else 0,
        "DNSNames": dns_names if running else None,
    }


def empty_settings() -> dict[str, Any]:
    return {
        "Bridge": "", "SandboxID": "", "SandboxKey": "", "HairpinMode": False,
        "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "Ports": {},
        "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None, "EndpointID": "",
        "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "",
        "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "", "Networks": {},
    }
