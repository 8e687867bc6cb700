"""Per-version shapes: the engine answers in API v1.45 terms, older clients get theirs, and
their requests are read as dockerd reads them (the container-wide MAC address, the cgroup
namespace an old client gets).

Only fields whose presence or form changed between MIN_API_VERSION and API_VERSION live here
(the Engine API's version-history page lists them).
"""

from __future__ import annotations

from typing import Any

from ..containers.links import user_defined
from ..errors import InvalidArgument
from ..store.timefmt import ZERO_TIME
from .handlers.base import parse_version

V1_41 = (1, 41)
V1_42 = (1, 42)
V1_44 = (1, 44)
V1_45 = (1, 45)


def adapt_image_summaries(images: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    """Before 1.44 untagged images read ``<none>:<none>`` and carry ``VirtualSize``."""
    wanted = parse_version(version)
    for image in images:
        if wanted < V1_44:
            image.setdefault("VirtualSize", image.get("Size", 0))
            if not image.get("RepoTags"):
                image["RepoTags"] = ["<none>:<none>"]
                if not image.get("RepoDigests"):
                    image["RepoDigests"] = ["<none>@<none>"]
        else:
            image.pop("VirtualSize", None)
    return images


def adapt_image_inspect(image: dict[str, Any], version: str) -> dict[str, Any]:
    """``VirtualSize`` left in 1.44, ``Container``/``ContainerConfig`` in 1.45."""
    wanted = parse_version(version)
    if wanted < V1_44:
        image.setdefault("VirtualSize", image.get("Size", 0))
    else:
        image.pop("VirtualSize", None)
    if wanted >= V1_45:
        image.pop("Container", None)
        image.pop("ContainerConfig", None)
    return image


def adapt_disk_usage(usage: dict[str, Any], version: str) -> dict[str, Any]:
    """``/system/df``: build cache ``Parent`` became ``Parents`` in 1.42, when dockerd also
    stopped sending the deprecated ``BuilderSize`` (the sum of the records' sizes before)."""
    wanted = parse_version(version)
    usage["Images"] = adapt_image_summaries(usage.get("Images") or [], version)
    records = usage.get("BuildCache") or []
    for record in records:
        parent = record.pop("Parent", "")
        if wanted < V1_42:
            record["Parent"] = parent
        elif parent:
            record["Parents"] = [parent]
    if wanted < V1_42:
        usage["BuilderSize"] = sum(int(r.get("Size") or 0) for r in records)
    return usage


def adapt_container_inspect(container: dict[str, Any], version: str) -> dict[str, Any]:
    """An endpoint's ``DNSNames`` came with API 1.44: an older client's has none. Before 1.45
    an endpoint's ``Aliases`` on a user-defined network end with the short id and hostname
    (:func:`_legacy_aliases`); from 1.45 they are the ones asked for, as moby's."""
    wanted = parse_version(version)
    if wanted < V1_44:
        for endpoint in _endpoints(container):
            endpoint.pop("DNSNames", None)
    if wanted < V1_45:
        _legacy_aliases(container)
    return container


def _legacy_aliases(container: dict[str, Any]) -> None:
    """dockerd 20.10 (API 1.41), and each daemon up to moby 25 (1.44), appends the short id,
    then the hostname, to an endpoint's aliases on a user-defined network when it joins it —
    at a start, or a ``network connect`` even of a stopped container — each unless there
    already; moby 26 keeps the aliases asked for and adds them back for clients below 1.45.
    An endpoint joined: the container has started once, or its endpoint names its network, or
    a connect made it — one of a network other than the create's (a create's endpoint has
    NetworkID "" until the first start, and so has a created container's connect)."""
    if not _endpoints(container):  # (copied: the record's stay as asked)
        return
    started = (container.get("State") or {}).get("StartedAt", ZERO_TIME) != ZERO_TIME
    created_on = (container.get("HostConfig") or {}).get("NetworkMode")
    extra = [container["Id"][:12], (container.get("Config") or {}).get("Hostname") or ""]
    for name, endpoint in container["NetworkSettings"]["Networks"].items():
        joined = started or endpoint.get("NetworkID") or name != created_on
        if isinstance(endpoint, dict) and user_defined(name) and joined:
            aliases = list(endpoint.get("Aliases") or [])
            for alias in extra:
                if alias and alias not in aliases:
                    aliases.append(alias)
            endpoint["Aliases"] = aliases


def adapt_container_summaries(items: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    """``GET /containers/json``: before 1.44 no endpoint has ``DNSNames``, and its ``Aliases``
    are null, as dockerd 20.10's list view (checked at API 1.41) carries none."""
    if parse_version(version) < V1_44:
        for item in items:
            for endpoint in _endpoints(item):
                endpoint.pop("DNSNames", None)
                endpoint["Aliases"] = None
    return items


def _endpoints(container: dict[str, Any]) -> list[dict[str, Any]]:
    """The container's endpoints, copied into it in place of the ones its record holds."""
    settings = container.get("NetworkSettings")
    if not isinstance(settings, dict) or not settings.get("Networks"):
        return []
    networks = {name: dict(endpoint) if isinstance(endpoint, dict) else endpoint
                for name, endpoint in settings["Networks"].items()}
    container["NetworkSettings"] = {**settings, "Networks": networks}
    return [endpoint for endpoint in networks.values() if isinstance(endpoint, dict)]


def complete_version(body: dict[str, Any]) -> dict[str, Any]:
    """Fields ``docker version`` prints that dockerd always sends (Details are strings)."""
    for component in body.get("Components") or []:
        if component.get("Name") == "Engine":
            component.setdefault("Details", {}).setdefault("Experimental", "false")
    body.setdefault("Experimental", False)
    return body


# ---- requests ------------------------------------------------------------------------------

MAC_DEPRECATED = ("The container-wide MacAddress field is now deprecated. It should be "
                  "specified in EndpointsConfig instead.")
MAC_CONFLICT = "conflicting options: mac-address and the network mode"


def migrate_mac_address(body: dict[str, Any], version: str, default_network: str) -> list[str]:
    """``POST /containers/create``'s container-wide ``MacAddress`` moved to the endpoint of the
    container's main network (its network mode's) as dockerd 25+ does, in place; the create
    response's warnings come back. Before 1.44 it is the only MAC a client may set (an
    endpoint's is dropped) and stays in ``Config``; from 1.44 it is deprecated, taken off
    ``Config`` with a warning, and must agree with the endpoint's own."""
    mac = str(body.get("MacAddress") or "")
    mode = str((body.get("HostConfig") or {}).get("NetworkMode") or "default")
    main = default_network if mode == "default" else mode
    private = main in ("host", "none") or main.startswith("container:")
    networking = body.get("NetworkingConfig") or {}
    endpoints = dict(networking.get("EndpointsConfig") or {})
    if "default" in endpoints:  # the docker CLI's name for the default network
        endpoints[default_network] = endpoints.pop("default")
    if parse_version(version) < V1_44:
        if not mac:
            for endpoint in endpoints.values():
                if isinstance(endpoint, dict):
                    endpoint.pop("MacAddress", None)
            return []
        if private:
            raise InvalidArgument(MAC_CONFLICT)
        for key in endpoints or [main]:
            endpoints[key] = {**(endpoints.get(key) or {}), "MacAddress": mac}
    else:
        body.pop("MacAddress", None)
        if not mac:
            return []
        if not private:
            _migrate_mac(endpoints, main, mac)
    body["NetworkingConfig"] = {**networking, "EndpointsConfig": endpoints}
    return [MAC_DEPRECATED] if parse_version(version) >= V1_44 else []


def _migrate_mac(endpoints: dict[str, Any], main: str, mac: str) -> None:
    if not endpoints:
        endpoints[main] = {"MacAddress": mac}
        return
    if main not in endpoints:
        raise InvalidArgument("if a container-wide MAC address is supplied, HostConfig.NetworkMode "
                              "must match the identity of a network in NetworkSettings.Networks")
    endpoint = endpoints[main] = dict(endpoints[main] or {})
    if not endpoint.get("MacAddress"):
        endpoint["MacAddress"] = mac
    elif endpoint["MacAddress"] != mac:
        raise InvalidArgument("the container-wide MAC address must match the endpoint-specific "
                              "MAC address for the main network, or be left empty")


def refuse_endpoints(body: dict[str, Any], version: str) -> None:
    """A create through API < 1.44 may name one network endpoint at the most (1.44 let a
    container be created on several): refused with dockerd 20.10's 400 and words (API 1.41,
    checked here), the names in the request's order (Go's map order, which varies). dockerd
    25+ refuses it for those clients too, worded "Container cannot be created with multiple
    network endpoints: …"."""
    endpoints = (body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    if parse_version(version) < V1_44 and len(endpoints) > 1:
        raise InvalidArgument("Container cannot be connected to network endpoints: "
                              + ", ".join(endpoints))


def refuse_old_subpath(body: dict[str, Any], version: str) -> None:
    """``Mounts[].VolumeOptions.Subpath`` came with API 1.45: an older client naming it is
    refused with dockerd 26+'s 400 and words (moby's container create router), not ignored."""
    if parse_version(version) >= V1_45:
        return
    for mount in (body.get("HostConfig") or {}).get("Mounts") or []:
        options = mount.get("VolumeOptions") if isinstance(mount, dict) else None
        if isinstance(options, dict) and options.get("Subpath"):
            raise InvalidArgument("VolumeOptions.Subpath needs API v1.45 or newer")


def old_cgroupns_default(body: dict[str, Any], version: str, v1_host: bool) -> None:
    """A create through API < 1.41 that names no cgroup namespace mode gets the host's on a
    cgroup v1 host, as dockerd gives it (those clients predate private cgroup namespaces there),
    whatever the daemon's default; in place."""
    if v1_host and parse_version(version) < V1_41:
        host_config = body.get("HostConfig")
        if isinstance(host_config, dict) and not host_config.get("CgroupnsMode"):
            host_config["CgroupnsMode"] = "host"
        elif host_config is None:
            body["HostConfig"] = {"CgroupnsMode": "host"}


def ignore_kernel_memory(body: dict[str, Any], version: str) -> None:
    """From 1.42 a create's ``KernelMemory`` is ignored (set to 0), as current dockerd's
    router does ("removed in API 1.42"); an older client's is kept and warned of as dockerd
    20.10 warns (``containers.create``); in place."""
    host_config = body.get("HostConfig")
    if parse_version(version) >= V1_42 and isinstance(host_config, dict) \
            and host_config.get("KernelMemory"):
        host_config["KernelMemory"] = 0


def network_check_duplicate(body: dict[str, Any], version: str) -> bool:
    """Whether ``POST /networks/create`` refuses a name a network has already. Below API 1.44
    only when the request's ``CheckDuplicate`` says so, as dockerd 20.10 (absent or null is
    false: docker-py's default makes a second network; the docker CLI sends true); from 1.44
    always ("CheckDuplicate is now always enabled", the field deprecated)."""
    return parse_version(version) >= V1_44 or bool(body.get("CheckDuplicate"))
