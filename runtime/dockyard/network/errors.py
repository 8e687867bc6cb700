"""Network errors, worded as dockerd words them (clients match on the text).

::

    NetworkError (DockyardError)        500  plumbing failed (netlink, iptables, a proxy)
    │   └── ExternalConnectivity         500  a start's published ports: "driver failed programming
    │                                         external connectivity on endpoint NAME (ID): CAUSE"
    ├── NetworkNotFound (NotFound)      404  "network x not found"
    ├── NetworkExists (Conflict)        409  "network with name x already exists"
    ├── NetworkAmbiguous (InvalidArgument) 400  a name two networks share, an ID prefix several have
    ├── NetworkForbidden (Forbidden)    403  pre-defined networks, active endpoints, pool overlap
    ├── PortAllocated (DockyardError)   500  "Bind for 0.0.0.0:8080 failed: port is already allocated"
    └── NetworkUnavailable (Unavailable) 503 rootless bridge: names the missing capability
"""

from __future__ import annotations

from typing import Literal

from ..errors import Conflict, DockyardError, Forbidden, InvalidArgument, NotFound, Unavailable

Asker = Literal["engine", "inspect", "remove"]


class NetworkError(DockyardError):
    """Kernel or tool plumbing failed; the message says which step."""


class ExternalConnectivity(NetworkError):
    """A published port a start could not serve, as dockerd's bridge driver words it: the
    endpoint, then the cause (``invalid transport protocol: 0``, ``Error starting userland
    proxy: protocol not supported``)."""

    def __init__(self, name: str, endpoint_id: str, cause: str) -> None:
        super().__init__("driver failed programming external connectivity on endpoint "
                         f"{name} ({endpoint_id}): {cause}")


class NetworkNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"network {name} not found")


class NetworkExists(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"network with name {name} already exists")


class NetworkAmbiguous(InvalidArgument):
    """More than one network answers to ``term``: a name two share (a create with
    ``CheckDuplicate`` false makes a second) or an ID prefix. dockerd 20.10 words it by who
    looked: its daemon's FindNetwork (a start, connect, disconnect), the router's inspect, and
    its remove."""

    def __init__(self, term: str, count: int, by_name: bool, asker: Asker = "engine") -> None:
        basis = "name" if by_name else "ID prefix"
        if asker == "inspect":
            text = f"{count} matches found based on {basis}: network {term} is ambiguous"
        elif asker == "remove" or not by_name:
            text = f"network {term} is ambiguous ({count} matches found based on {basis})"
        else:
            text = f"network {term} is ambiguous ({count} matches found on name)"
        super().__init__(text)


class NetworkForbidden(Forbidden):
    pass


class PortAllocated(DockyardError):
    """dockerd answers 500 for a published port already taken; the docker CLI prints it as is."""

    def __init__(self, host_ip: str, port: int) -> None:
        super().__init__(f"Bind for {host_ip}:{port} failed: port is already allocated")

    @classmethod
    def on_endpoint(cls, exc: PortAllocated, name: str, endpoint_id: str) -> PortAllocated:
        """What dockerd says when a container's start meets the taken port."""
        out = cls.__new__(cls)
        DockyardError.__init__(out, "driver failed programming external connectivity on endpoint "
                                    f"{name} ({endpoint_id}): {exc}")
        return out


class NetworkUnavailable(Unavailable):
    pass
