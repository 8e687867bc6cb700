"""Where a container's port is reachable from the Jupyter server's host, so
``/dockyard/containers/<id>/ports/<port>/`` can open a web app in a container from the browser
(also on a remote Jupyter). Pure: decides from the container's inspect JSON."""

from __future__ import annotations

from typing import Any

from dockyard.errors import NotFound


def resolve_port(container: dict[str, Any], port: int) -> tuple[str, int]:
    """A published host port first, then host networking, then the container's own address."""
    settings = container.get("NetworkSettings") or {}
    for binding in (settings.get("Ports") or {}).get(f"{port}/tcp") or []:
        if binding.get("HostPort"):
            host = binding.get("HostIp") or "127.0.0.1"
            return ("127.0.0.1" if host in {"0.0.0.0", "::", ""} else host,
                    int(binding["HostPort"]))
    if (container.get("HostConfig") or {}).get("NetworkMode") == "host":
        return "127.0.0.1", port
    for network in (settings.get("Networks") or {}).values():
        if network.get("IPAddress"):
            return str(network["IPAddress"]), port
    name = str(container.get("Name", "")).lstrip("/") or str(container.get("Id", ""))[:12]
    raise NotFound(f"container {name} has no reachable port {port} (publish it with -p, or "
                   "give it a network)")
