"""Engine API views of container records: inspect, the ``ps`` summaries and their filters, top.

Pure formatting over :class:`~dockyard.containers.record.ContainerRecord` (plus /proc reads for
``top``), shaped as Engine API v1.45 bodies.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Final, NamedTuple

from ..diskusage import files_size
from ..errors import DockyardError
from ..filters import Filters, InvalidFilter, bool_filter, check_keys, go_match, prune_until
from ..gostrconv import atoi as go_atoi
from ..network import ports
from ..network.views import MACS
from ..store.timefmt import filter_time, parse_ns, parse_unix
from ..units import human_duration
from . import health, links
from .create import command, go_config
from .record import ContainerRecord
from .skeleton import MTAB_TARGET

HOST_CONFIG_ZERO: dict[str, Any] = {
    **dict.fromkeys(("BlkioDeviceReadBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteBps",
                     "BlkioDeviceWriteIOps", "BlkioWeightDevice", "DeviceCgroupRules", "DeviceRequests",
                     "Devices", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd", "Links",
                     "SecurityOpt", "Ulimits", "VolumesFrom")),
    **dict.fromkeys(("Cgroup", "CgroupParent", "ContainerIDFile", "CpusetCpus", "CpusetMems",
                     "Isolation", "PidMode", "UTSMode", "UsernsMode", "VolumeDriver"), ""),
    **dict.fromkeys(("BlkioWeight", "CpuCount", "CpuPercent", "CpuRealtimePeriod", "CpuRealtimeRuntime",
                     "IOMaximumBandwidth", "IOMaximumIOps", "KernelMemory", "KernelMemoryTCP",
                     "MemoryReservation", "OomScoreAdj"), 0),
    "OomKillDisable": False,
}
"""Inspect's ``HostConfig`` fields a client left out, as dockerd shows them: Go's zero values
(its struct is encoded whole; docker-py sends only what it was given)."""

_STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


def _network_mode(record: ContainerRecord) -> str:
    """``HostConfig.NetworkMode`` as recorded and shown: dockerd keeps "default" (what clients
    send for no ``--network``), and the records of older versions hold the network it meant."""
    return str(record.host_config.get("NetworkMode") or "default")


def _network_settings(record: ContainerRecord) -> dict[str, Any]:
    """The record's settings (the network manager fills ``Networks`` at create); a record
    without them names its mode's network, "default" being dockerd's "bridge"."""
    settings = {k: v for k, v in record.network_settings.items() if not k.startswith("_")}
    mode = _network_mode(record)
    mode = "bridge" if mode == "default" else mode
    base: dict[str, Any] = {
        "Bridge": "", "SandboxID": "", "HairpinMode": False, "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0, "Ports": {}, "SandboxKey": "", "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None, "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0, "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
        "MacAddress": "",
        "Networks": {mode: {"IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": "",
                            "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                            "MacAddress": "", "DriverOpts": None}}
        if not mode.startswith("container:") else {},
    }
    base.update(settings)
    return base


def _log_path(record: ContainerRecord) -> str:
    """dockerd's: the json-file driver's file once the container has started ("" before, and
    for every other driver, whose logs the shim keeps all the same)."""
    driver = ((record.host_config or {}).get("LogConfig") or {}).get("Type") or "json-file"
    return record.log_path if driver == "json-file" and record.has_been_started else ""


def inspect(record: ContainerRecord, size: bool = False) -> dict[str, Any]:
    """``GET /containers/{id}/json`` (``size``: SizeRw and SizeRootFs too)."""
    args = command(record.config)
    sizes = {k: v for k, v in summary(record, True).items() if k.startswith("Size")} if size \
        else {}
    return {**sizes,
        "Id": record.id, "Created": record.created, "Path": args[0] if args else "",
        "Args": args[1:], "State": dict(record.state), "Image": record.image_id,
        **_etc_paths(record), "LogPath": _log_path(record),
        "Name": record.name, "RestartCount": record.restart_count, "Driver": "overlay2",
        "Platform": "linux", "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
        "ExecIDs": None, "HostConfig": {**HOST_CONFIG_ZERO, **record.host_config},
        "GraphDriver": {"Name": "overlay2", "Data": {
            "LowerDir": ":".join(reversed(record.lower_dirs)), "MergedDir": record.rootfs,
            "UpperDir": record.upper_dir, "WorkDir": record.work_dir}},
        "Mounts": record.mounts, "Config": _config(record),
        "NetworkSettings": _network_settings(record),
    }


def _config(record: ContainerRecord) -> dict[str, Any]:
    """``Config`` with dockerd's container-wide ``MacAddress`` (omitted when empty): as created
    through API < 1.44, else the MAC address asked for on the main network's endpoint — dockerd
    25+ fills it in from there for every client, whichever field set it."""
    config = go_config(record.config)
    mac = config.get("MacAddress") or _main_endpoint_mac(record)
    if mac:
        config["MacAddress"] = mac
    else:
        config.pop("MacAddress", None)
    return config


def _main_endpoint_mac(record: ContainerRecord) -> str:
    mode = _network_mode(record)
    if mode in ("host", "none") or mode.startswith("container:"):
        return ""
    macs = record.network_settings.get(MACS) or {}
    return str(macs.get("bridge" if mode == "default" else mode) or "")


def status_text(record: ContainerRecord, now: float | None = None) -> str:
    now = time.time() if now is None else now
    state = record.state
    if state["Status"] == "removing":
        return "Removal In Progress"
    if state["Running"] and not state["Restarting"]:
        up = f"Up {human_duration(now - parse_unix(state['StartedAt']))}"
        if state["Paused"]:
            return up + " (Paused)"
        checks = health.ps_text(state)
        return f"{up} ({checks})" if checks else up
    if state["Restarting"]:
        ago = human_duration(now - parse_unix(state["FinishedAt"]))
        return f"Restarting ({state['ExitCode']}) {ago} ago"
    if state["Status"] == "created" or not record.has_been_started:
        return "Created"
    ago = human_duration(now - parse_unix(state["FinishedAt"]))
    return f"Exited ({state['ExitCode']}) {ago} ago"


def summary(record: ContainerRecord, size: bool = False,
            link_names: list[str] | None = None) -> dict[str, Any]:
    """One ``GET /containers/json`` entry; its Names are its name and the names of the links
    to it, sorted (dockerd's name index order)."""
    item: dict[str, Any] = {
        "Id": record.id, "Names": sorted([record.name, *(link_names or [])]), "Image": record.image,
        "ImageID": record.image_id, "Command": summary_command(command(record.config)),
        "Created": parse_unix(record.created), "Ports": _ports(record),
        "Labels": record.config.get("Labels") or {}, "State": record.state["Status"],
        "Status": status_text(record),
        "HostConfig": {"NetworkMode": _network_mode(record)},
        "NetworkSettings": {"Networks": _network_settings(record)["Networks"]},
        "Mounts": record.mounts,
    }
    if size:
        item["SizeRw"] = size_rw(record)
        item["SizeRootFs"] = item["SizeRw"] + files_size(record.lower_dirs)
    return item


def _etc_paths(record: ContainerRecord) -> dict[str, str]:
    """Where the container's /etc files are, once a start has written them ("" before a
    first start); a ``container:`` joiner's are its donor's from its first start on, named
    even once the donor has gone (``ContainerRecord.etc_dir``), as dockerd 20.10's."""
    names = (("ResolvConfPath", "resolv.conf"), ("HostnamePath", "hostname"), ("HostsPath", "hosts"))
    if record.etc_dir:
        return {key: str(Path(record.etc_dir, name)) for key, name in names}
    return {key: str(path) if (path := record.dir / name).exists() else "" for key, name in names}


def size_rw(record: ContainerRecord) -> int:
    """dockerd's SizeRw (GetContainerLayerSize): the container's own files, each inode once,
    without its init layer's — what ps -s shows and a prune reclaims."""
    return max(files_size([record.upper_dir]) - _runtime_files_size(record), 0)


def _runtime_files_size(record: ContainerRecord) -> int:
    """The upper dir's share of dockerd's init layer, which SizeRw leaves out: the
    /etc/mtab link (the mountpoints and /.dockerenv are empty)."""
    mtab = Path(record.upper_dir, "etc", "mtab")
    try:
        return len(MTAB_TARGET) if os.readlink(mtab) == MTAB_TARGET else 0
    except OSError:
        return 0


def summary_command(args: list[str]) -> str:
    """dockerd's list ``Command``: the path, then the args, those with a space in single quotes."""
    return " ".join(args[:1] + [f"'{a}'" if " " in a else a for a in args[1:]])


def _ports(record: ContainerRecord) -> list[dict[str, Any]]:
    keys = (record.network_settings.get("Ports") or {}) if record.running else {}
    out: list[dict[str, Any]] = []
    for key, bindings in keys.items():
        port, _, proto = key.partition("/")
        for b in bindings or [{}]:
            entry: dict[str, Any] = {"PrivatePort": int(port), "Type": proto or "tcp"}
            if b.get("HostPort"):
                entry.update(IP=b.get("HostIp") or "0.0.0.0", PublicPort=int(b["HostPort"]))
            out.append(entry)
    return out


def _label_match(labels: dict[str, str], spec: str) -> bool:
    key, eq, value = spec.partition("=")
    return key in labels and (not eq or labels[key] == value)


_PS_FILTERS: Final = ("status", "name", "id", "label", "ancestor", "exited", "network", "volume",
                      "before", "since", "health", "is-task", "publish", "expose",
                      "isolation")  # taken and ignored on Linux, as dockerd's (list_unix.go)


class PsFilters(NamedTuple):
    """What :func:`check_filters` read of a ps request's values, once for every container:
    ``exited``'s codes, ``is-task``, each ``publish``/``expose`` value's ``port/proto``
    keys, and each ``ancestor`` value's image IDs."""

    exit_codes: frozenset[int]
    is_task: bool | None
    ports: dict[str, dict[str, set[str]]]
    ancestors: dict[str, frozenset[str]]


def check_filters(filters: Filters,
                  lineage: Callable[[str], frozenset[str]] = lambda _: frozenset()) -> PsFilters:
    """``docker ps --filter`` keys and values dockerd refuses, in its words and its order
    (foldFilter's), before any container is looked at; what it read of them. ``lineage``: the
    image IDs an ``ancestor`` value stands for (the image store's; dockerd's GetImage and the
    images built on it — a container matches by its image's ID, never by the name it was
    created with)."""
    check_keys(filters, _PS_FILTERS)
    codes = _exit_codes(filters)
    for v in filters.get("status", []):
        if v not in _STATUSES:
            raise InvalidFilter("status", v)
    is_task = _is_task(filters)
    health.check_filter(filters.get("health", []))
    port_sets = {key: {v: _port_set(v, key) for v in filters.get(key, [])}
                 for key in ("publish", "expose")}
    return PsFilters(codes, is_task, port_sets, {v: lineage(v) for v in filters.get("ancestor", [])})


def _exit_codes(filters: Filters) -> frozenset[int]:
    """``exited``: the exit codes asked for, each read by Go's Atoi as dockerd's foldFilter reads
    it (``+3`` and ``03`` are 3; out of int64's range refused), its error dockerd's 500."""
    try:
        return frozenset(go_atoi(v) for v in filters.get("exited", []))
    except ValueError as e:
        raise DockyardError(str(e)) from None


def _is_task(filters: Filters) -> bool | None:
    """``is-task``: whether swarm's task containers are asked for (dockerd reads "true" and
    "false" alone); no container here is one."""
    return bool_filter(filters, "is-task", ("true",), ("false",))


def _port_set(value: str, key: str = "publish") -> set[str]:
    """``8080``, ``8080/udp``, ``8000-8090/tcp`` as the ``port/proto`` keys they cover, read as
    dockerd's ``portOp`` reads them (go-connections' ``nat``); its words, and its 500, for what
    it cannot read."""
    if ":" in value:
        raise DockyardError(f"filter for '{key}' should not contain ':': {value}")
    proto, port = ports.split_proto_port(value)
    try:
        first, last = ports.parse_port_range(port)
    except ValueError as e:
        raise DockyardError(f"error while looking up for {key} {value}: {e}") from None
    return {f"{p}/{proto}" for p in range(first, last + 1)}


def _published(record: ContainerRecord) -> set[str]:
    """The host ports a running container publishes, as ``port/proto``."""
    keys = (record.network_settings.get("Ports") or {}) if record.running else {}
    return {f"{b['HostPort']}/{key.partition('/')[2] or 'tcp'}"
            for key, bindings in keys.items() for b in bindings or [] if b.get("HostPort")}


def _on_network(record: ContainerRecord, value: str) -> bool:
    """dockerd 20.10's ps ``network`` filter: a network the container is on, by its name or
    by a prefix of the id its endpoint names (any prefix, "" too) — which a created
    container's endpoints do not until its first start (``NetworkID`` ""): by name alone."""
    networks = _network_settings(record)["Networks"]
    return value in networks or any(str((ep or {}).get("NetworkID") or "").startswith(value)
                                    for ep in networks.values())


def matches(record: ContainerRecord, filters: dict[str, list[str]],
            read: PsFilters | None = None) -> bool:
    """``docker ps --filter``: each key must match one of its values; ``read``: the filters as
    :func:`check_filters` read them (checked and read here without)."""
    read = check_filters(filters) if read is None else read
    checks: dict[str, Callable[[str], bool]] = {
        "status": lambda v: bool(record.state["Status"] == v),
        "name": lambda v: go_match(v, record.name) or go_match(v, record.name.removeprefix("/")),
        "id": lambda v: record.id.startswith(v),
        "label": lambda v: _label_match(record.config.get("Labels") or {}, v),
        "ancestor": lambda v: record.image_id in read.ancestors[v],
        "exited": lambda v: (record.has_been_started and not record.running
                             and record.state["ExitCode"] in read.exit_codes),
        "network": lambda v: _on_network(record, v),
        "volume": lambda v: any(v in (m.get("Name"), m.get("Destination"))
                                for m in record.mounts),
        "publish": lambda v: bool(read.ports["publish"][v] & _published(record)),
        "expose": lambda v: bool(read.ports["expose"][v]
                                 & set(_network_settings(record)["Ports"] or {})),
        "health": lambda v: health.status_of(record.state) == v,
    }
    if read.is_task:
        return False
    for key, values in filters.items():
        check = checks.get(key)
        if check is not None and values and not any(check(v) for v in values):
            return False
    return True


def check_prune_filters(filters: Filters) -> None:
    check_keys(filters, ("label", "label!", "until"))
    prune_until(filters)  # a bad one fails the prune before anything goes


def matches_prune(record: ContainerRecord, filters: dict[str, list[str]]) -> bool:
    for spec in filters.get("label", []):
        if not _label_match(record.config.get("Labels") or {}, spec):
            return False
    for spec in filters.get("label!", []):
        if _label_match(record.config.get("Labels") or {}, spec):
            return False
    for until in filters.get("until", []):  # dockerd: kept if created after it, to the nanosecond
        if parse_ns(record.created) / 1e9 > filter_time(until):
            return False
    return True


def _bounds(records: list[ContainerRecord], filters: dict[str, list[str]]
            ) -> tuple[ContainerRecord | None, ContainerRecord | None]:
    """The containers ``before`` and ``since`` name; of several, the oldest before and the
    newest since (dockerd 20.10 keeps whichever its map walks last: any of them)."""
    def find(ref: str) -> ContainerRecord:
        for r in records:
            if ref in (r.id, r.name, r.name.lstrip("/")) or (len(ref) >= 3 and r.id.startswith(ref)):
                return r
        raise DockyardError(f"no such container {ref}")  # dockerd's words, and its 500
    before = min((find(v) for v in filters.get("before", [])), key=_created, default=None)
    since = max((find(v) for v in filters.get("since", [])), key=_created, default=None)
    return before, since


def _created(record: ContainerRecord) -> tuple[int, str]:
    """dockerd 20.10's byCreatedDescending key: the creation time itself, then the ID."""
    return parse_ns(record.created), record.id


def newest_first(records: Iterable[ContainerRecord]) -> list[ContainerRecord]:
    """The containers as dockerd 20.10's List gives them (ps, a prune's walk)."""
    return sorted(records, key=_created, reverse=True)


def _between(ordered: list[ContainerRecord], before: ContainerRecord | None,
             since: ContainerRecord | None) -> Iterator[ContainerRecord]:
    """dockerd 20.10's walk of the list, newest first: ``before`` skips the containers up to its
    own, that one too; ``since`` stops at its own — met only once before's is passed
    (before=B since=B lists what is older than B)."""
    for r in ordered:
        if before is not None:
            if r.id == before.id:
                before = None
            continue
        if since is not None and r.id == since.id:
            return
        yield r


def listing(records: list[ContainerRecord], all_: bool, limit: int, size: bool,
            filters: dict[str, list[str]],
            lineage: Callable[[str], frozenset[str]] = lambda _: frozenset()) -> list[dict[str, Any]]:
    read = check_filters(filters, lineage)
    before, since = _bounds(records, filters)
    ordered = newest_first(records)
    chosen = [r for r in _between(ordered, before, since)
              if (all_ or limit > 0 or r.running or "status" in filters or "exited" in filters)
              and matches(r, filters, read)]
    if limit > 0:
        chosen = chosen[:limit]
    names = links.names_by_child(records)
    return [summary(r, size, names.get(r.id)) for r in chosen]


# ---- top -------------------------------------------------------------------------------------


def top(record: ContainerRecord, ps_args: str = "", cg: Any = None) -> dict[str, Any]:
    """``docker top``: ps -ef columns for every process in the container's cgroup ``cg`` (a
    ``cgroups.Cgroup``; none: the init alone); with ``ps_args``, the host's ``ps`` run with
    them and its rows kept for those processes."""
    pids = sorted(cg.pids()) if cg is not None else [int(record.state["Pid"])]
    if ps_args.strip():
        return _ps_top(ps_args, pids)
    tick = os.sysconf("SC_CLK_TCK")
    boot = time.time() - float(Path("/proc/uptime").read_text().split()[0])
    rows = [row for pid in pids if (row := _ps_row(pid, tick, boot)) is not None]
    return {"Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
            "Processes": rows}


def _ps_row(pid: int, tick: int, boot: float) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    cpu = (int(fields[11]) + int(fields[12])) // tick
    start = time.strftime("%H:%M", time.localtime(boot + int(fields[19]) / tick))
    cmd = cmdline.replace(b"\0", b" ").decode(errors="replace").strip() \
        or "[" + stat[stat.index("(") + 1:stat.rindex(")")] + "]"
    return ["root" if uid == 0 else str(uid), str(pid), fields[1], "0", start, "?",
            time.strftime("%H:%M:%S", time.gmtime(cpu)), cmd]


_PS_PID_RENAME: Final = re.compile(r"\s+([^\s]*)=\s*(PID[^\s]*)")


def _ps_top(ps_args: str, pids: list[int]) -> dict[str, Any]:
    """dockerd's way with ``docker top CONTAINER ARGS``: run ps, find the PID column in its
    header, keep the rows of the container's processes (the last column keeps its spaces);
    its errors and wording (500s, ps's first line of complaint)."""
    for key, value in _PS_PID_RENAME.findall(ps_args):
        if key != "pid":
            raise DockyardError(f'specifying "{key}={value}" is not allowed')
    done = subprocess.run(["ps", *ps_args.split()], capture_output=True, check=False)
    if done.returncode != 0:
        first = done.stderr.split(b"\n", 1)[0].decode(errors="replace")
        raise DockyardError(f"ps: {first or f'exit status {done.returncode}'}")
    lines = done.stdout.decode(errors="replace").splitlines()
    titles = lines[0].split() if lines else []
    if "PID" not in titles:
        raise DockyardError("Couldn't find PID field in ps output")
    column, wanted, rows = titles.index("PID"), {str(p) for p in pids}, []
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > column and fields[column] in wanted:
            rows.append([*fields[:len(titles) - 1], " ".join(fields[len(titles) - 1:])])
    return {"Titles": titles, "Processes": rows}
