"""EXPOSE port specs (``80``, ``53/udp``, ``8000-8002/tcp``) → image-config port keys.

Same grammar and wording as docker/go-connections' ``nat.ParsePortSpecs``, which the
Dockerfile front end uses: a range expands to one key per port, protocols are
tcp/udp/sctp (case-insensitive), ``ip:host:container`` is accepted and the host part
ignored for EXPOSE.
"""

from __future__ import annotations

import ipaddress

from ..gostrconv import NumError, parse_uint

PROTOCOLS = ("tcp", "udp", "sctp")


def _uint16(text: str) -> int:
    """go-connections' ``strconv.ParseUint(text, 10, 16)`` (ASCII digits alone)."""
    try:
        return parse_uint(text, 16)
    except NumError:
        raise ValueError(text) from None


def port_range(text: str) -> tuple[int, int]:
    if not text:
        raise ValueError("empty string specified for ports")
    if "-" not in text:
        value = _uint16(text)
        return value, value
    start_s, end_s = text.split("-")[:2]
    start, end = _uint16(start_s), _uint16(end_s)
    if end < start:
        raise ValueError(f"invalid range specified for container port: {text}")
    return start, end


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
        start, end = port_range(container)
    except ValueError:
        raise ValueError(f"invalid containerPort: {container}") from None
    if host:
        try:
            port_range(host)
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
