"""A container an older daemon started, before every container got a devices cgroup of its
own (f2a2a6a): its processes are in the devices cgroup its launcher was in, and it has no
``devices/<parent>/<id>``. The state is made for real — a running container's processes moved
to its launcher's devices cgroup and its own removed, as an old daemon left them — and each
verb that walks the container's cgroups must go on working with the hierarchies it has: exec
(joins what ``/proc/<pid>/cgroup`` names), ``docker update`` (refused before as if the container
had no cgroup at all: "the container has no cgroup of its own (rootless)"), pause, top, stats,
and its exit removes what it has."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from dockyard.linux import cgroups
from dockyard.testing.daemon import DaemonProcess
from dockyard.testing.runprobes import own_cgroup


@pytest.fixture(autouse=True)
def _v1_devices() -> None:
    if cgroups.detected().mode != "v1" or "devices" not in cgroups.detected().v1:
        pytest.skip("a v1 devices hierarchy (the upgrade concerns cgroup v1 only)")


def _as_an_old_daemon_left_it(launchers: str, cid: str) -> Path:
    """Move the container's processes to its launcher's devices cgroup (``launchers``, the
    daemon's), remove its own one."""
    devices = cgroups.detected().v1["devices"]
    mine = Path(devices, "dockyard", cid)
    for pid in (mine / "cgroup.procs").read_text().split():
        Path(devices, launchers.lstrip("/"), "cgroup.procs").write_text(pid)
    mine.rmdir()
    return mine


def test_a_container_without_a_devices_cgroup_of_its_own(busybox_daemon: DaemonProcess) -> None:
    """The state made while the daemon is down; a daemon started after (an upgrade) re-adopts
    the container and works with it."""
    hier = cgroups.detected().v1
    client = busybox_daemon.client()
    cid = client.containers.run("busybox", ["sleep", "60"], detach=True, network_mode="none").id
    client.close()
    assert busybox_daemon.pid is not None
    launchers = own_cgroup(busybox_daemon.pid, "devices")
    busybox_daemon.stop()
    try:
        gone = _as_an_old_daemon_left_it(launchers, cid)
    finally:
        busybox_daemon.start()
    client = busybox_daemon.client()
    try:
        _exercise(client.api, hier, cid, launchers)
        assert not gone.exists()
    finally:
        client.api.remove_container(cid, force=True)
        client.close()


def _exercise(api: Any, hier: dict[str, str], cid: str, launchers: str) -> None:
    """Exec, update, pause, top, stats and the exit's removal."""
    pid = api.inspect_container(cid)["State"]["Pid"]
    assert own_cgroup(pid, "devices") == launchers

    ex = api.exec_create(cid, ["echo", "in"])
    assert api.exec_start(ex["Id"]) == b"in\n"
    assert api.exec_inspect(ex["Id"])["ExitCode"] == 0
    api.update_container(cid, mem_limit=32 << 20, memswap_limit=64 << 20, cpu_quota=50000)
    memory = Path(hier["memory"], "dockyard", cid)
    assert int((memory / "memory.limit_in_bytes").read_text()) == 32 << 20
    assert (Path(hier["cpu"], "dockyard", cid) / "cpu.cfs_quota_us").read_text().strip() \
        == "50000"
    ex = api.exec_create(cid, ["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"])
    assert int(api.exec_start(ex["Id"])) == 32 << 20  # the exec is in its memory cgroup
    api.pause(cid)
    assert (Path(hier["freezer"], "dockyard", cid) / "freezer.state").read_text().strip() \
        == "FROZEN"
    api.unpause(cid)
    assert str(pid) in [row[1] for row in api.top(cid)["Processes"]]
    assert api.stats(cid, stream=False)["memory_stats"]["limit"] == 32 << 20

    api.kill(cid)
    assert api.wait(cid, timeout=10)["StatusCode"] == 137
    deadline = time.monotonic() + 10
    while memory.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not memory.exists() and not os.path.exists(Path(hier["cpu"], "dockyard", cid))
