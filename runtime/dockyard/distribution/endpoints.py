"""Where a reference's domain is served: mirrors, TLS or plain HTTP, as dockerd decides.

``docker.io`` is served by ``registry-1.docker.io`` (after any ``--registry-mirror``). A registry
is *insecure* — plain HTTP allowed, TLS tried first — when it is listed in
``--insecure-registry`` (``host[:port]`` or a CIDR) or its address is loopback
(``localhost``, 127.0.0.0/8, ::1), as dockerd treats 127.0.0.0/8.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field

from ..oci.reference import DEFAULT_DOMAIN

HUB_ENDPOINT = "registry-1.docker.io"
HUB_AUTH_KEY = "https://index.docker.io/v1/"
CERTS_DIRS = ("/etc/dockyard/certs.d", "/etc/docker/certs.d")
"""The key docker login stores Docker Hub credentials under in config.json."""


@dataclass(frozen=True)
class Endpoint:
    """One base URL to try for a registry domain."""

    domain: str  # as references name it: "docker.io", "localhost:5000"
    host: str  # host[:port] to connect to
    insecure: bool = False  # plain HTTP allowed (TLS tried first)
    mirror: bool = False
    certs_dir: str = ""  # <certs.d>/<host>: extra CAs (*.crt) and a client cert (*.cert + *.key)

    def url(self, scheme: str) -> str:
        return f"{scheme}://{self.host}"


@dataclass
class RegistryConfig:
    """The daemon's ``--insecure-registry`` and ``--registry-mirror`` values."""

    insecure: list[str] = field(default_factory=list)
    mirrors: list[str] = field(default_factory=list)
    certs_dirs: list[str] = field(default_factory=lambda: list(CERTS_DIRS))

    def is_insecure(self, host: str) -> bool:
        if host in self.insecure or _strip_scheme(host) in map(_strip_scheme, self.insecure):
            return True
        addresses = _addresses(host)
        if any(a.is_loopback for a in addresses):
            return True
        networks = [_network(x) for x in self.insecure]
        return any(a in n for a in addresses for n in networks if n is not None)

    def endpoints(self, domain: str) -> list[Endpoint]:
        """Endpoints to try in order; mirrors serve only Docker Hub, as in dockerd."""
        if domain == DEFAULT_DOMAIN:
            out = [Endpoint(domain, _strip_scheme(m), self.is_insecure(_strip_scheme(m)) or m.startswith("http://"),
                            mirror=True, certs_dir=self.certs_for(_strip_scheme(m))) for m in self.mirrors]
            return out + [Endpoint(domain, HUB_ENDPOINT, False, certs_dir=self.certs_for(HUB_ENDPOINT))]
        return [Endpoint(domain, domain, self.is_insecure(domain), certs_dir=self.certs_for(domain))]

    def certs_for(self, host: str) -> str:
        """``<dir>/<host>`` of the first certs.d directory that has one (dockerd's layout)."""
        for base in self.certs_dirs:
            path = os.path.join(base, host)
            if os.path.isdir(path):
                return path
        return ""


def auth_key(domain: str) -> str:
    """The server name credentials are looked up by (``docker login``'s key)."""
    return HUB_AUTH_KEY if domain == DEFAULT_DOMAIN else domain


def _strip_scheme(value: str) -> str:
    return value.split("://", 1)[-1].rstrip("/")


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if "/" not in value:
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    name = _hostname(host)
    if name == "localhost":
        return [ipaddress.ip_address("127.0.0.1")]
    try:
        return [ipaddress.ip_address(name)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    return [ipaddress.ip_address(info[4][0]) for info in infos]
