"""Raw resource figures of a running process's cgroups, for ``docker stats``.

The cgroups are found from ``/proc/<pid>/cgroup`` (as the host sees them), so this works for
whatever cgroup layout started the process. cgroup v1 and v2 are read into one neutral
:class:`Sample` (nanoseconds, bytes, counts); the Engine API shape is made in
:mod:`dockyard.containers.stats`. Also the host's CPU time (``/proc/stat``) and the process's
network counters (``/proc/<pid>/net/dev``, i.e. its network namespace).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Final

from .cgroups import Hierarchies, detect

USER_HZ: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_NS_PER_TICK: Final = 1_000_000_000 // USER_HZ
UNLIMITED: Final = 1 << 62  # v1 reports "no limit" as a page-rounded 2^63 - 1


@dataclass
class Sample:
    cpu_total: int = 0                       # ns
    cpu_percpu: list[int] = field(default_factory=list)
    cpu_kernel: int = 0                      # ns
    cpu_user: int = 0                        # ns
    throttling: dict[str, int] = field(default_factory=lambda: {
        "periods": 0, "throttled_periods": 0, "throttled_time": 0})
    memory_usage: int | None = None
    memory_max_usage: int | None = None
    memory_failcnt: int | None = None
    memory_limit: int | None = None          # None: unlimited
    memory_stat: dict[str, int] = field(default_factory=dict)
    pids_current: int | None = None
    pids_limit: int | None = None            # None: unlimited
    blkio: dict[str, list[dict[str, int | str]]] = field(default_factory=dict)
    """``blkio_stats`` lists by key (``io_service_bytes_recursive``, ``io_serviced_recursive``):
    what the cgroup has; a key it lacks is dockerd's empty list (v1) or null (v2)."""
    version: str = "v1"


def cgroup_paths(pid: int) -> dict[str, str]:
    """controller → path relative to its hierarchy; ``""`` is the v2 (unified) path."""
    paths: dict[str, str] = {}
    with open(f"/proc/{pid}/cgroup", encoding="utf-8") as f:
        for line in f.read().splitlines():
            _hid, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    return paths


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as f:
            return f.read()
    except OSError:
        return None


def _int(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _keyed(text: str | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def sample(pid: int, hier: Hierarchies | None = None) -> Sample:
    """Read every figure for ``pid``'s cgroups now (raises FileNotFoundError once it is gone)."""
    hier = hier or detect()
    paths = cgroup_paths(pid)
    if hier.mode == "v2" and hier.v2 is not None:
        return _sample_v2(os.path.join(hier.v2, paths.get("", "/").lstrip("/")))
    return _sample_v1(hier, paths)


def _dir(hier: Hierarchies, paths: dict[str, str], controller: str) -> str | None:
    if controller not in hier.v1 or controller not in paths:
        return None
    return os.path.join(hier.v1[controller], paths[controller].lstrip("/"))


def _sample_v1(hier: Hierarchies, paths: dict[str, str]) -> Sample:
    s = Sample()
    if (acct := _dir(hier, paths, "cpuacct")) is not None:
        s.cpu_total = _int(_read(f"{acct}/cpuacct.usage")) or 0
        s.cpu_percpu = [int(v) for v in (_read(f"{acct}/cpuacct.usage_percpu") or "").split()]
        ticks = _keyed(_read(f"{acct}/cpuacct.stat"))
        s.cpu_user, s.cpu_kernel = ticks.get("user", 0) * _NS_PER_TICK, ticks.get("system", 0) * _NS_PER_TICK
    if (cpu := _dir(hier, paths, "cpu")) is not None:
        stat = _keyed(_read(f"{cpu}/cpu.stat"))
        s.throttling = {"periods": stat.get("nr_periods", 0),
                        "throttled_periods": stat.get("nr_throttled", 0),
                        "throttled_time": stat.get("throttled_time", 0)}
    if (mem := _dir(hier, paths, "memory")) is not None:
        s.memory_usage = _int(_read(f"{mem}/memory.usage_in_bytes"))
        s.memory_max_usage = _int(_read(f"{mem}/memory.max_usage_in_bytes"))
        s.memory_failcnt = _int(_read(f"{mem}/memory.failcnt"))
        limit = _int(_read(f"{mem}/memory.limit_in_bytes"))
        s.memory_limit = limit if limit is not None and limit < UNLIMITED else None
        s.memory_stat = _keyed(_read(f"{mem}/memory.stat"))
    if (pids := _dir(hier, paths, "pids")) is not None:
        s.pids_current = _int(_read(f"{pids}/pids.current"))
        s.pids_limit = _int(_read(f"{pids}/pids.max"))
    if (blkio := _dir(hier, paths, "blkio")) is not None and paths["blkio"] != "/":
        # runc's choice here: the throttle layer's counts (no CFQ, and BFQ's full set only
        # with its debug files). The kernel counts there only once some cgroup has a throttle
        # on the device (blk_throtl_activated): until then every count is 0 and no line shows.
        s.blkio = {key: _blkio_v1(_read(f"{blkio}/blkio.throttle.{key}"))
                   for key in ("io_service_bytes_recursive", "io_serviced_recursive")}
    return s


def _blkio_v1(text: str | None) -> list[dict[str, int | str]]:
    entries: list[dict[str, int | str]] = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0]:
            major, minor = parts[0].split(":")
            entries.append({"major": int(major), "minor": int(minor), "op": parts[1],
                            "value": int(parts[2])})
    return entries


def _sample_v2(path: str) -> Sample:
    s = Sample(version="v2")
    cpu = _keyed(_read(f"{path}/cpu.stat"))
    s.cpu_total, s.cpu_user = cpu.get("usage_usec", 0) * 1000, cpu.get("user_usec", 0) * 1000
    s.cpu_kernel = cpu.get("system_usec", 0) * 1000
    s.throttling = {"periods": cpu.get("nr_periods", 0), "throttled_periods": cpu.get("nr_throttled", 0),
                    "throttled_time": cpu.get("throttled_usec", 0) * 1000}
    s.memory_usage = _int(_read(f"{path}/memory.current"))
    s.memory_max_usage = _int(_read(f"{path}/memory.peak"))
    s.memory_limit = _int(_read(f"{path}/memory.max"))  # "max" → None
    s.memory_stat = _keyed(_read(f"{path}/memory.stat"))
    s.pids_current = _int(_read(f"{path}/pids.current"))
    s.pids_limit = _int(_read(f"{path}/pids.max"))
    entries = _io_v2(_read(f"{path}/io.stat"))
    if entries:
        s.blkio = {"io_service_bytes_recursive": entries}
    return s


def _io_v2(text: str | None) -> list[dict[str, int | str]]:
    """io.stat "MAJ:MIN rbytes=… wbytes=…" as ``read`` and ``write`` entries of
    ``io_service_bytes_recursive``, the only key dockerd 20.10 fills on v2 (its stats_unix)."""
    entries: list[dict[str, int | str]] = []
    for line in (text or "").splitlines():
        device, *pairs = line.split()
        major, _, minor = device.partition(":")
        values = dict(p.split("=", 1) for p in pairs if "=" in p)
        for op, key in (("read", "rbytes"), ("write", "wbytes")):
            if values.get(key, "").isdigit():
                entries.append({"major": int(major), "minor": int(minor), "op": op,
                                "value": int(values[key])})
    return entries


def system_cpu_ns() -> int:
    """The host's total CPU time (all CPUs, all states but guest), as dockerd reads it."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = f.readline().split()
    return sum(int(v) for v in fields[1:8]) * _NS_PER_TICK


def online_cpus() -> int:
    return os.sysconf("SC_NPROCESSORS_ONLN")


def net_dev(pid: int) -> dict[str, dict[str, int]]:
    """Counters of every interface but ``lo`` in ``pid``'s network namespace."""
    text = _read(f"/proc/{pid}/net/dev") or ""
    names = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped")
    out: dict[str, dict[str, int]] = {}
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        values = [int(v) for v in rest.split()]
        if name.strip() == "lo" or len(values) < 12:
            continue
        out[name.strip()] = {**dict(zip(names, values[0:4], strict=True)),
                             "tx_bytes": values[8], "tx_packets": values[9],
                             "tx_errors": values[10], "tx_dropped": values[11]}
    return out
