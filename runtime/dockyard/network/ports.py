"""Published ports: ``HostConfig.PortBindings`` / ``PublishAllPorts`` + ``Config.ExposedPorts``
into a list of bindings, and back into ``NetworkSettings.Ports`` as dockerd shows it::

    {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": null}
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from ..errors import InvalidArgument


@dataclass(frozen=True)
class PortBinding:
    proto: str            # tcp | udp
    container_port: int
    host_ip: str          # "0.0.0.0" when unspecified
    host_ports: tuple[int, ...]  # candidates in order; (0,) = ephemeral (EphemeralPorts)
    dual: bool = False    # no host IP given: [::] too, on the same port, where IPv6 is (dockerd)


PORT_RANGE_FILE: Final = "/proc/sys/net/ipv4/ip_local_port_range"


class EphemeralPorts:
    """Host ports for ``-p 80`` and ``-P`` in dockerd's order: from the start of the kernel's
    ephemeral range (32768 here), each after the last one handed out, wrapping at the end —
    so the first container gets 32768, the next 32769, whatever the kernel would pick."""

    ATTEMPTS: Final = 10  # ports in use by another program skipped before the kernel chooses

    def __init__(self, range_file: str = PORT_RANGE_FILE) -> None:
        try:
            with open(range_file) as f:
                low, high = (int(v) for v in f.read().split())
        except (OSError, ValueError):
            low, high = 49153, 65535  # dockerd's fallback
        self.low, self.high = low, high
        self._last: dict[str, int] = {}
        self._lock = threading.Lock()

    def candidates(self, proto: str) -> Iterator[int]:
        """Up to ATTEMPTS ports to try in turn; ``taken`` says which one bound."""
        with self._lock:
            last = self._last.get(proto, self.high)
        span = self.high - self.low + 1
        for step in range(1, min(self.ATTEMPTS, span) + 1):
            yield self.low + (last - self.low + step) % span

    def taken(self, proto: str, port: int) -> None:
        if self.low <= port <= self.high:
            with self._lock:
                self._last[proto] = port


def parse_port_key(key: str) -> tuple[int, str]:
    """``"80"``, ``"80/tcp"``, ``"53/udp"`` → (port, proto)."""
    port_text, _, proto = key.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp") or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InvalidArgument(f"invalid port specification: \"{key}\"")
    if proto == "sctp":
        raise InvalidArgument("sctp ports are not supported by dockyard")
    return int(port_text), proto


def _host_ports(text: str, key: str) -> tuple[int, ...]:
    if not text:
        return (0,)
    low, _, high = text.partition("-")
    try:
        first, last = int(low), int(high or low)
    except ValueError:
        raise InvalidArgument(f"invalid hostPort: {text}") from None
    if not 0 <= first <= last < 65536:
        raise InvalidArgument(f"invalid hostPort: {text}")
    return tuple(range(first, last + 1))


def bindings(config: dict[str, Any], host_config: dict[str, Any]) -> list[PortBinding]:
    """Every port to publish, validated (bad input is a 400 at create time)."""
    out: list[PortBinding] = []
    declared = host_config.get("PortBindings") or {}
    for key, entries in declared.items():
        port, proto = parse_port_key(key)
        for entry in entries or [{}]:
            host_ip = (entry or {}).get("HostIp") or ""
            out.append(PortBinding(proto, port, host_ip or "0.0.0.0",
                                   _host_ports((entry or {}).get("HostPort") or "", key), not host_ip))
    if host_config.get("PublishAllPorts"):
        done = {parse_port_key(k) for k in declared}
        for key in config.get("ExposedPorts") or {}:
            port, proto = parse_port_key(key)
            if (port, proto) not in done:
                out.append(PortBinding(proto, port, "0.0.0.0", (0,), True))
    return out


def go_port_map(declared: dict[str, Any] | None) -> dict[str, Any] | None:
    """``HostConfig.PortBindings`` as dockerd stores and shows it, Go's ``nat.PortMap``: keys
    sorted, each binding with both ``HostIp`` and ``HostPort`` ("" when missing) and nothing
    else; a key's null or empty list kept as sent."""
    if declared is None:
        return None
    return {key: None if entries is None else
            [{"HostIp": str((e or {}).get("HostIp") or ""), "HostPort": str((e or {}).get("HostPort") or "")}
             for e in entries]
            for key, entries in sorted(declared.items())}


def exposed_keys(config: dict[str, Any], host_config: dict[str, Any]) -> list[str]:
    """Every port key inspect lists, published or not, normalised to ``port/proto``."""
    keys = [*(config.get("ExposedPorts") or {}), *(host_config.get("PortBindings") or {})]
    return sorted({"{}/{}".format(*parse_port_key(k)) for k in keys})


def settings(keys: list[str], published: list[tuple[str, str, int, int]]) -> dict[str, Any]:
    """``NetworkSettings.Ports`` from ``(proto, host_ip, host_port, container_port)`` tuples."""
    ports: dict[str, Any] = {key: None for key in keys}
    for proto, host_ip, host_port, container_port in published:
        entry = {"HostIp": host_ip, "HostPort": str(host_port)}
        key = f"{container_port}/{proto}"
        ports[key] = [*(ports.get(key) or []), entry]
    return ports
