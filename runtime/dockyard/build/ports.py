"""EXPOSE port specs (``80``, ``53/udp``, ``8000-8002/tcp``) → image-config port keys.

Same grammar and wording as docker/go-connections' ``nat.ParsePortSpecs``, which the
Dockerfile front end uses (its ``ParsePortRange`` is ``network.ports.parse_port_range``): a range expands to one key per port, protocols are
tcp/udp/sctp (case-insensitive), ``ip:host:container`` is accepted and the host part
ignored for EXPOSE.
"""

from __future__ import annotations

import ipaddress

from ..network.ports import parse_port_range

PROTOCOLS = ("tcp", "udp", "sctp")


def _split(raw: str) -> tuple[str, str, str]:
    parts = raw.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def _check_ip(ip: str) -> None:
    bare = ip[1:-1] if ip.startswith("[") and ip.endswith("]") else ip
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        raise ValueError(f"invalid IP address: {ip}") from None


def parse_port(raw: str) -> list[str]:
    """One spec → its ``port/proto`` keys."""
    ip, host, container = _split(raw)
    container, _, proto = container.partition("/")
    proto = (proto or "tcp").lower()
    if ip:
        _check_ip(ip)
    if not container:
        raise ValueError(f"no port specified: {raw}<empty>")
    try:
        start, end = parse_port_range(container)
    except ValueError:
        raise ValueError(f"invalid containerPort: {container}") from None
    if host:
        try:
            parse_port_range(host)
        except ValueError:
            raise ValueError(f"invalid hostPort: {host}") from None
    if proto not in PROTOCOLS:
        raise ValueError(f"invalid proto: {proto}")
    return [f"{p}/{proto}" for p in range(start, end + 1)]


def parse_ports(specs: list[str]) -> list[str]:
    """All keys, de-duplicated and sorted as the image config's map serialises them."""
    keys: set[str] = set()
    for spec in specs:
        keys.update(parse_port(spec))
    return sorted(keys)
