"""Network errors, worded as dockerd words them (clients match on the text).

::

    NetworkError (DockyardError)        500  plumbing failed (netlink, iptables, a proxy)
    ├── NetworkNotFound (NotFound)      404  "network x not found"
    ├── NetworkExists (Conflict)        409  "network with name x already exists"
    ├── NetworkForbidden (Forbidden)    403  pre-defined networks, active endpoints, pool overlap
    ├── PortAllocated (DockyardError)   500  "Bind for 0.0.0.0:8080 failed: port is already allocated"
    └── NetworkUnavailable (Unavailable) 503 rootless bridge: names the missing capability
"""

from __future__ import annotations

from ..errors import Conflict, DockyardError, Forbidden, NotFound, Unavailable


class NetworkError(DockyardError):
    """Kernel or tool plumbing failed; the message says which step."""


class NetworkNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"network {name} not found")


class NetworkExists(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"network with name {name} already exists")


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
