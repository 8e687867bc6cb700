"""``GET /containers/{id}/stats`` in dockerd's shape, from the container's cgroups.

dockerd samples once a second and sends each sample with the previous one's CPU figures as
``precpu_stats``, so a client computes CPU % as ``Δcontainer / Δsystem × online_cpus × 100``.
``stream=false`` waits for a second sample so that figure is meaningful (dockerd does the same);
``one-shot=true`` answers at once with an empty ``precpu_stats``. A container that is not running
gets dockerd's all-zero object with only ``name`` and ``id`` set.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any, Final

from ..linux import cgstats
from ..linux.cgroups import Hierarchies, detect
from ..store.timefmt import ZERO_TIME, rfc3339_now

STREAM_INTERVAL: Final = 1.0
NO_STREAM_INTERVAL: Final = 0.25  # two samples this far apart answer stream=false
_BLKIO_KEYS: Final = ("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
                      "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
                      "io_time_recursive", "sectors_recursive")


def _mem_total() -> int:
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def empty_cpu() -> dict[str, Any]:
    return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def empty(name: str, container_id: str) -> dict[str, Any]:
    """dockerd's answer for a container that is not running."""
    return {"read": ZERO_TIME, "preread": ZERO_TIME,
            "pids_stats": {}, "blkio_stats": dict.fromkeys(_BLKIO_KEYS), "num_procs": 0,
            "storage_stats": {}, "cpu_stats": empty_cpu(), "precpu_stats": empty_cpu(),
            "memory_stats": {}, "name": name, "id": container_id}


def cpu_stats(s: cgstats.Sample) -> dict[str, Any]:
    usage: dict[str, Any] = {"total_usage": s.cpu_total, "usage_in_kernelmode": s.cpu_kernel,
                             "usage_in_usermode": s.cpu_user}
    if s.cpu_percpu:
        usage["percpu_usage"] = s.cpu_percpu
    return {"cpu_usage": usage, "system_cpu_usage": cgstats.system_cpu_ns(),
            "online_cpus": cgstats.online_cpus(), "throttling_data": s.throttling}


def memory_stats(s: cgstats.Sample, machine_memory: int) -> dict[str, Any]:
    """As dockerd: no limit (or one above the machine's memory) reads as the machine's memory."""
    limit = s.memory_limit if s.memory_limit is not None else machine_memory
    out: dict[str, Any] = {"usage": s.memory_usage or 0, "stats": s.memory_stat,
                           "limit": min(limit, machine_memory) if machine_memory else limit}
    if s.version == "v1":
        out["max_usage"] = s.memory_max_usage or 0
        if s.memory_failcnt:
            out["failcnt"] = s.memory_failcnt  # omitted when zero, as dockerd
    return out


def blkio_stats(s: cgstats.Sample) -> dict[str, Any]:
    """A running container's: on v1 every key a list (dockerd copies each runc gives, empty
    or not); on v2 ``io_service_bytes_recursive`` alone, from io.stat, the rest null."""
    return {key: s.blkio.get(key, [] if s.version == "v1" else None) for key in _BLKIO_KEYS}


def snapshot(pid: int, name: str, container_id: str, hier: Hierarchies,
             machine_memory: int) -> dict[str, Any]:
    """One sample of a running container (``precpu_stats``/``preread`` left empty)."""
    # a rootless daemon's containers have no cgroup of their own: the one /proc/<pid>/cgroup
    # names is the daemon's session's, whose figures are not the container's (dockerd
    # rootless on cgroup v1 has none either)
    s = cgstats.sample(pid, hier) if os.geteuid() == 0 else cgstats.Sample()
    pids: dict[str, Any] = {"current": s.pids_current or 0}
    if s.pids_limit:
        pids["limit"] = s.pids_limit
    out: dict[str, Any] = {
        "read": rfc3339_now(), "preread": ZERO_TIME, "pids_stats": pids,
        "blkio_stats": blkio_stats(s),
        "num_procs": 0, "storage_stats": {}, "cpu_stats": cpu_stats(s),
        "precpu_stats": empty_cpu(), "memory_stats": memory_stats(s, machine_memory),
        "name": name, "id": container_id,
    }
    networks = cgstats.net_dev(pid)
    if networks:
        out["networks"] = networks
    return out


def container_stats(containers: Any, name: str, stream: bool = True,
                    one_shot: bool = False) -> Iterator[dict[str, Any]]:
    """Samples of container ``name`` (looked up through ``containers.get``): endless with
    ``stream`` until the container stops, else exactly one."""
    record = containers.get(name)  # NotFound before the first byte
    return _samples(containers, record.id, record.name, stream, one_shot)


def _samples(containers: Any, container_id: str, name: str, stream: bool,
             one_shot: bool) -> Iterator[dict[str, Any]]:
    hier, memory = detect(), _mem_total()
    previous: dict[str, Any] | None = None
    while True:
        record = containers.get(container_id)
        pid = int(record.state.get("Pid") or 0)
        if not record.state.get("Running") or not pid:
            yield empty(name, container_id)
            return
        try:
            current = snapshot(pid, name, container_id, hier, memory)
        except (FileNotFoundError, ProcessLookupError):
            yield empty(name, container_id)  # it stopped between the check and the read
            return
        if previous is not None:
            current["precpu_stats"], current["preread"] = previous["cpu_stats"], previous["read"]
        if stream or one_shot or previous is not None:
            yield current
            if not stream:
                return
        previous = current
        time.sleep(STREAM_INTERVAL if stream else NO_STREAM_INTERVAL)
