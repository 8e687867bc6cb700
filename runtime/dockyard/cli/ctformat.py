"""docker's container output: ``ps`` rows (status, ports, quoted commands), ``stats`` figures.

Pure functions over the Engine API's JSON, so the wording is tested without a daemon.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..units import bytes_size
from . import formatting as fmt

PS_TABLE = "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
PS_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "RunningFor": "CREATED",
              "CreatedAt": "CREATED AT", "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES",
              "Size": "SIZE", "State": "STATE", "Labels": "LABELS", "Mounts": "MOUNTS",
              "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES"}
STATS_TABLE = ("{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t"
               "{{.BlockIO}}\t{{.PIDs}}")
STATS_HEADERS = {"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
                 "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
                 "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}


def quote(text: str) -> str:
    """Go's ``strconv.Quote`` for printable text."""
    return json.dumps(text, ensure_ascii=False)


def names(container: Mapping[str, Any]) -> str:
    """docker ps shows a container's own names (not link aliases ``/a/b``), without the slash."""
    own = [n[1:] for n in container.get("Names") or [] if n.count("/") == 1]
    return ",".join(own)


def _join_host_port(ip: str, port: str) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"  # Go's net.JoinHostPort


def _port_sort_key(port: Mapping[str, Any]) -> tuple[int, str, int, str]:
    return (int(port.get("PrivatePort") or 0), str(port.get("IP") or ""),
            int(port.get("PublicPort") or 0), str(port.get("Type") or ""))


def _port_group(ip: str, kind: str, first: int, last: int) -> str:
    span = str(first) if first == last else f"{first}-{last}"
    return f"{_join_host_port(ip, span)}->{span}/{kind}" if ip else f"{span}/{kind}"


def display_ports(ports: Sequence[Mapping[str, Any]] | None) -> str:
    """docker ps's PORTS: runs of consecutive ports folded (``8000-8002/tcp``, or
    ``0.0.0.0:8000-8001->8000-8001/tcp`` when published on the same numbers), then the ports
    published on other numbers (``0.0.0.0:8080->80/tcp``), in docker's order."""
    groups: dict[tuple[str, str], list[int]] = {}  # (ip, type) -> [first, last], in first-seen order
    folded: list[str] = []
    mappings: list[str] = []
    for port in sorted(ports or [], key=_port_sort_key):
        private, kind, ip = int(port.get("PrivatePort") or 0), str(port.get("Type") or "tcp"), str(port.get("IP") or "")
        if ip and int(port.get("PublicPort") or 0) != private:
            mappings.append(f"{_join_host_port(ip, str(port.get('PublicPort')))}->{private}/{kind}")
            continue
        group = groups.get((ip, kind))
        if group is not None and private == group[1] + 1:
            group[1] = private
            continue
        if group is not None:
            folded.append(_port_group(ip, kind, *group))
        groups[(ip, kind)] = [private, private]
    folded += [_port_group(ip, kind, *span) for (ip, kind), span in groups.items()]
    return ", ".join(folded + mappings)


def image_name(image: str, no_trunc: bool) -> str:
    if not no_trunc and image.startswith("sha256:"):
        return fmt.short_id(image)
    return image


def size_text(container: Mapping[str, Any]) -> str:
    rw = fmt.human_size(float(container.get("SizeRw") or 0))
    root = int(container.get("SizeRootFs") or 0)
    return f"{rw} (virtual {fmt.human_size(float(root))})" if root > 0 else rw


def ps_row(container: Mapping[str, Any], no_trunc: bool) -> dict[str, Any]:
    """The ``docker ps`` formatting context for one ``/containers/json`` entry."""
    cid = str(container.get("Id", ""))
    command = str(container.get("Command", ""))
    created = float(container.get("Created") or 0)
    labels = container.get("Labels") or {}
    networks = (container.get("NetworkSettings") or {}).get("Networks") or {}
    mounts = [m.get("Name") or m.get("Source", "") for m in container.get("Mounts") or []]
    return {
        "Command": quote(command if no_trunc else fmt.ellipsis(command, 20)),
        "CreatedAt": fmt.go_time(created), "ID": cid if no_trunc else cid[:12],
        "Image": image_name(str(container.get("Image", "")), no_trunc),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "LocalVolumes": str(sum(1 for m in container.get("Mounts") or [] if m.get("Type") == "volume")),
        "Mounts": ",".join(m if no_trunc else fmt.ellipsis(m, 15) for m in mounts),
        "Names": names(container), "Networks": ",".join(sorted(networks)),
        "Platform": container.get("ImageManifestDescriptor", {}).get("platform"),
        "Ports": display_ports(container.get("Ports")), "RunningFor": fmt.since(created),
        "Size": size_text(container), "State": str(container.get("State", "")),
        "Status": str(container.get("Status", "")),
    }


# ---- stats --------------------------------------------------------------------------------


def cpu_percent(stats: Mapping[str, Any]) -> float:
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    return delta / system * online * 100.0 if delta > 0 and system > 0 else 0.0


def memory_usage(stats: Mapping[str, Any]) -> tuple[float, float]:
    """(usage minus page cache, limit), as the docker CLI computes them on cgroup v1 and v2."""
    memory = stats.get("memory_stats") or {}
    detail = memory.get("stats") or {}
    cache = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    usage = float(memory.get("usage", 0))
    return (usage - cache if cache < usage else usage), float(memory.get("limit", 0))


def io_totals(stats: Mapping[str, Any]) -> tuple[float, float, float, float]:
    networks = (stats.get("networks") or {}).values()
    rx = sum(n.get("rx_bytes", 0) for n in networks)
    tx = sum(n.get("tx_bytes", 0) for n in networks)
    blkio = (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    read = sum(e.get("value", 0) for e in blkio if str(e.get("op", "")).lower() == "read")
    write = sum(e.get("value", 0) for e in blkio if str(e.get("op", "")).lower() == "write")
    return rx, tx, read, write


def stats_row(stats: Mapping[str, Any], name: str, no_trunc: bool = False) -> dict[str, str]:
    """The ``docker stats`` context for one stats sample."""
    used, limit = memory_usage(stats)
    rx, tx, read, write = io_totals(stats)
    cid = str(stats.get("id", ""))
    size = fmt.human_size
    return {
        "BlockIO": f"{size(read)} / {size(write)}", "CPUPerc": f"{cpu_percent(stats):.2f}%",
        "Container": name or cid[:12], "ID": cid if no_trunc else cid[:12],
        "MemPerc": f"{used / limit * 100.0 if limit else 0.0:.2f}%",
        "MemUsage": f"{bytes_size(used)} / {bytes_size(limit)}",
        "Name": name.lstrip("/") or "--", "NetIO": f"{size(rx)} / {size(tx)}",
        "PIDs": str((stats.get("pids_stats") or {}).get("current", 0)),
    }
