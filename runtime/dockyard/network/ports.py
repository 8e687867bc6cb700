"""Published ports: ``HostConfig.PortBindings`` / ``PublishAllPorts`` + ``Config.ExposedPorts``
into a list of bindings, and back into ``NetworkSettings.Ports`` as dockerd shows it::

    {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": null}
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from ..errors import InvalidArgument
from ..gostrconv import parse_uint
from ..gostrconv import quote as go_quote


@dataclass(frozen=True)
class PortBinding:
    proto: str            # tcp | udp | sctp; icmp or "0" (an unknown name) fail the start
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


# libnetwork's types.Protocol numbers (types.ParseProtocol): any other name is 0
PROTOCOLS: Final = {"icmp": 1, "tcp": 6, "udp": 17, "sctp": 132}


def split_proto_port(raw: str) -> tuple[str, str]:
    """go-connections' ``nat.SplitProtoPort``: ``"80"`` → (tcp, 80), ``"80/"`` → (tcp, 80),
    ``"80/udp/x"`` → (udp, 80), ``"/tcp"`` → ("", "") — the protocol as written (``TCP``)."""
    parts = raw.split("/")
    if not raw or not parts[0]:
        return "", ""
    if len(parts) == 1:
        return "tcp", raw
    return parts[1] or "tcp", parts[0]


def parse_port(text: str) -> int:
    """``nat.ParsePort``: "" is 0; anything but a 16-bit number is refused (ValueError)."""
    return parse_uint(text, 16) if text else 0


_RANGE_WORDS: Final = {  # (empty, backwards) of go-connections' ParsePortRange
    False: ("Empty string specified for ports.", "Invalid range specified for the Port: {}"),
    True: ("empty string specified for ports", "invalid range specified for port: {}"),
}


def parse_port_range(text: str, cli: bool = False) -> tuple[int, int]:
    """go-connections' ``nat.ParsePortRange`` as dockerd 20.10 vendors it, in its words (a ps
    ``publish``/``expose`` filter shows them; ``cli``: the newer ones the docker 28 CLI
    vendors): ``"8080"``, ``"8080-8081"``, a third part ignored (``1-2-3`` is 1-2); "" and a
    range that runs backwards are refused, each number as ``strconv.ParseUint(…, 10, 16)``
    reads it. ValueError."""
    empty, backwards = _RANGE_WORDS[cli]
    if not text:
        raise ValueError(empty)
    if "-" not in text:
        port = parse_uint(text, 16)
        return port, port
    parts = text.split("-")
    first, last = parse_uint(parts[0], 16), parse_uint(parts[1], 16)
    if last < first:
        raise ValueError(backwards.format(text))
    return first, last


def port_range(text: str) -> tuple[int, int]:
    """``nat.ParsePortRangeToInt`` (a create's ``HostPort``): "" is (0, 0), any other text
    :func:`parse_port_range`'s."""
    return parse_port_range(text) if text else (0, 0)


def port_int(key: str) -> int:
    """``nat.Port.Int``: the port number of a key, 0 where it is none (``abc/tcp``)."""
    try:
        return parse_port(split_proto_port(key)[1])
    except ValueError:
        return 0


def protocol(key: str) -> str:
    """The protocol libnetwork makes of a key (``types.ParseProtocol``, then its ``String``):
    tcp, udp, sctp or icmp whatever their case, and "0" for any other (``80/foo``, ``/tcp``)."""
    name = split_proto_port(key)[0].lower()
    return name if name in PROTOCOLS else "0"


def check_bindings(host_config: dict[str, Any]) -> None:
    """dockerd 20.10's ``validatePortBindings`` at create: each key's port part (the key itself
    is taken as written: ``80/foo``, ``80/``, ``/tcp``, ``0/tcp``), then each binding's
    ``HostPort`` (a port or range, a ``/proto`` after it ignored); both quoted as Go's %q."""
    for key, entries in (host_config.get("PortBindings") or {}).items():
        port_text = split_proto_port(key)[1]
        try:
            parse_port(port_text)
        except ValueError:
            raise InvalidArgument(f"invalid port specification: {go_quote(port_text)}") from None
        for entry in entries or []:
            host_port = str((entry or {}).get("HostPort") or "")
            try:
                port_range(split_proto_port(host_port)[1])
            except ValueError:
                raise InvalidArgument(f"invalid port specification: {go_quote(host_port)}") from None


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


def _host_ip(text: str) -> str:
    """A binding's host address as Go's ``net.ParseIP`` reads it: one it cannot read is none
    (both families, as no address), never a name to look up."""
    try:
        return str(ipaddress.ip_address(text)) if text else ""
    except ValueError:
        return ""


def bindings(config: dict[str, Any], host_config: dict[str, Any]) -> list[PortBinding]:
    """Every port to publish, as dockerd 20.10 picks them: an ``ExposedPorts`` key's bindings
    are ``PortBindings``' under the very same string (``80/TCP`` or ``80/`` bound while
    ``80/tcp`` is exposed publishes nothing, nor does a binding nothing exposes); a null or
    empty list publishes nothing unless ``PublishAllPorts``, which gives every exposed key
    without bindings an ephemeral port. Bound keys first, in the order given."""
    declared = host_config.get("PortBindings") or {}
    exposed = list(config.get("ExposedPorts") or {})
    out: list[PortBinding] = []
    for key in [k for k in declared if k in exposed] + [k for k in exposed if k not in declared]:
        proto, port = protocol(key), port_int(key)
        entries = declared.get(key) or []
        for entry in entries:
            host_ip = _host_ip(str((entry or {}).get("HostIp") or ""))
            first, last = port_range(split_proto_port(str((entry or {}).get("HostPort") or ""))[1])
            out.append(PortBinding(proto, port, host_ip or "0.0.0.0",
                                   tuple(range(first, last + 1)), not host_ip))
        if not entries and host_config.get("PublishAllPorts"):
            out.append(PortBinding(proto, port, "0.0.0.0", (0,), True))
    return out


def exposed_keys(config: dict[str, Any]) -> list[str]:
    """``NetworkSettings.Ports``' keys of a running container: one per ``ExposedPorts`` key,
    as libnetwork gives them back (``80/TCP`` and ``80/`` → ``80/tcp``, ``80/foo`` → ``80/0``,
    ``abc/tcp`` → ``0/tcp``); a ``PortBindings`` key nothing exposes is not among them."""
    return sorted({f"{port_int(k)}/{protocol(k)}" for k in config.get("ExposedPorts") or {}})


def settings(keys: list[str], published: list[tuple[str, str, int, int]]) -> dict[str, Any]:
    """``NetworkSettings.Ports`` from ``(proto, host_ip, host_port, container_port)`` tuples."""
    ports: dict[str, Any] = {key: None for key in keys}
    for proto, host_ip, host_port, container_port in published:
        entry = {"HostIp": host_ip, "HostPort": str(host_port)}
        key = f"{container_port}/{proto}"
        ports[key] = [*(ports.get(key) or []), entry]
    return ports
