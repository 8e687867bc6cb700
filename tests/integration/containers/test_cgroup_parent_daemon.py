"""``docker run --cgroup-parent`` (``HostConfig.CgroupParent``) and the daemon's
``--cgroup-parent``, as dockerd 20.10's cgroupfs driver places them (recorded 2026-11-30 on
this cgroup-v1 host with a v2 ``unified`` mount): ``/P`` puts the container in ``/P/<id>`` of
every hierarchy (``/proc/self/cgroup`` with ``--cgroupns host`` shows it on every line, the v2
one included); ``P`` goes below the daemon's own cgroup in each hierarchy (here its memory
cgroup is ``/process_api/<x>``, the others ``/``). A memory limit on the parent bounds the
container. Pause, ``docker update``, top and an exec find the cgroup there; its removal leaves
the parent empty (``limited_parent`` removes it, and an ``rmdir`` of a non-empty one fails)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest

from dockyard.linux import cgroups
from dockyard.testing.daemon import DaemonProcess, PlacedDaemonProcess
from dockyard.testing.runprobes import limited_parent, own_cgroup

LIMIT = 48 << 20
PROBE = "cat /proc/self/cgroup; grep hierarchical_memory_limit /sys/fs/cgroup/memory/memory.stat"


@pytest.fixture(autouse=True)
def _v1() -> None:
    if cgroups.detected().mode != "v1":
        pytest.skip("recorded on cgroup v1")


def _parent() -> str:
    return f"dytest-cgp-{uuid.uuid4().hex[:8]}"


def _run(api: Any, cmd: str, host_config: dict[str, Any]) -> tuple[str, list[str], int]:
    """A host-cgroupns container's id, its /proc/self/cgroup paths and the memory limit it saw."""
    made = api.create_container("busybox", ["sh", "-c", cmd], host_config={
        "NetworkMode": "none", "CgroupnsMode": "host", **host_config})
    try:
        api.start(made["Id"])
        assert api.wait(made["Id"])["StatusCode"] == 0
        lines = api.logs(made["Id"]).decode().splitlines()
    finally:
        api.remove_container(made["Id"], force=True)
    paths = [line.split(":", 2)[2] for line in lines if line[:1].isdigit()]
    limit = next(int(x.split()[1]) for x in lines if x.startswith("hierarchical_memory_limit"))
    return made["Id"], paths, limit


def _gone(path: str, timeout: float = 10.0) -> bool:
    """Whether ``path`` is removed (a shim removes a cgroup just after reporting the exit)."""
    deadline = time.monotonic() + timeout
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not os.path.exists(path)


def test_an_absolute_parent_holds_the_container_in_every_hierarchy(client: Any) -> None:
    name = _parent()
    with limited_parent(f"/{name}", LIMIT):
        for _ in range(2):  # a second run may find an embryo waiting (it must not take it)
            cid, paths, limit = _run(client.api, PROBE, {"CgroupParent": f"/{name}"})
            assert paths and all(p == f"/{name}/{cid}" for p in paths), paths
            assert limit == LIMIT
            assert _gone(os.path.join(cgroups.detected().v1["memory"], name, cid))


def test_a_relative_parent_goes_below_the_daemons_own_cgroup(dockyard_daemon: DaemonProcess,
                                                             client: Any) -> None:
    name, pid = _parent(), dockyard_daemon.pid
    assert pid is not None
    memory = f"{own_cgroup(pid, 'memory').rstrip('/')}/{name}"
    with limited_parent(memory, LIMIT):
        try:
            cid, paths, limit = _run(client.api, PROBE, {"CgroupParent": name})
            assert f"{memory}/{cid}" in paths
            assert f"/{own_cgroup(pid, 'pids').strip('/')}/{name}/{cid}".replace("//", "/") \
                in paths
            assert limit == LIMIT
            assert _gone(os.path.join(cgroups.detected().v1["memory"], memory.lstrip("/"), cid))
        finally:
            _rmdir_below_mounts(name)


def test_pause_update_top_and_exec_find_the_cgroup_under_its_parent(client: Any) -> None:
    api, name = client.api, _parent()
    hier = cgroups.detected().v1
    with limited_parent(f"/{name}", LIMIT):
        made = api.create_container("busybox", ["sleep", "60"], host_config={
            "NetworkMode": "none", "CgroupParent": f"/{name}"})
        cid = made["Id"]
        try:
            api.start(cid)
            mine = Path(hier["memory"], name, cid)
            api.pause(cid)
            assert Path(hier["freezer"], name, cid, "freezer.state").read_text().strip() == "FROZEN"
            api.unpause(cid)
            assert Path(hier["freezer"], name, cid, "freezer.state").read_text().strip() == "THAWED"
            api.update_container(cid, mem_limit=32 << 20, memswap_limit=64 << 20)
            assert int((mine / "memory.limit_in_bytes").read_text()) == 32 << 20
            pid = api.inspect_container(cid)["State"]["Pid"]
            assert str(pid) in [row[1] for row in api.top(cid)["Processes"]]
            ex = api.exec_create(cid, ["sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes"])
            assert int(api.exec_start(ex["Id"]).decode()) == 32 << 20  # its cgroup, not the daemon's
        finally:
            api.remove_container(cid, force=True)
        assert _gone(str(Path(hier["memory"], name, cid)))


def test_the_daemons_cgroup_parent_is_the_default(busybox_archive: Path) -> None:
    name = _parent()
    with limited_parent(f"/{name}", LIMIT), \
            DaemonProcess(None, "--cgroup-parent", f"/{name}") as daemon:
        daemon.load(busybox_archive)
        client = daemon.client()
        try:
            cid, paths, limit = _run(client.api, PROBE, {})
            assert paths and all(p == f"/{name}/{cid}" for p in paths), paths
            assert limit == LIMIT
            assert _gone(os.path.join(cgroups.detected().v1["memory"], name, cid))
        finally:
            client.close()


def _rmdir_below_mounts(*names: str) -> None:
    """``names`` (deepest first) in every hierarchy, waiting for leaving processes."""
    for name in names:
        for mount in {*cgroups.detected().v1.values(), *filter(None, [cgroups.detected().v2])}:
            path, deadline = os.path.join(mount, name), time.monotonic() + 10
            while os.path.exists(path):
                try:
                    os.rmdir(path)
                except OSError:
                    assert time.monotonic() < deadline, f"{path} stays"
                    time.sleep(0.05)


def _kill_past_a_blocker(api: Any, daemon: DaemonProcess, cid: str, pids_dir: Path) -> None:
    """Kill ``cid`` with a child cgroup in its pids cgroup (``pids_dir``), which its shim then
    cannot remove: once the shim has said so in the daemon's log, the daemon's sweep is the
    one to remove it."""
    blocker = pids_dir / "blocker"
    blocker.mkdir()
    try:
        api.kill(cid)
        assert api.wait(cid, timeout=10)["StatusCode"] == 137
        deadline = time.monotonic() + 30
        while f"the shim of {cid} left its cgroup" not in daemon.log():
            assert time.monotonic() < deadline, daemon.log()
            time.sleep(0.05)
    finally:
        blocker.rmdir()


def test_a_restarted_daemon_finds_the_cgroup_under_its_parent(busybox_daemon: DaemonProcess) -> None:
    """The re-adopted container (through its shim's socket) pauses in its parent's freezer,
    and its exit removes its cgroup there."""
    name, hier = _parent(), cgroups.detected().v1
    with limited_parent(f"/{name}", LIMIT):
        client = busybox_daemon.client()
        c = client.containers.run("busybox", ["sleep", "60"], detach=True, network_mode="none",
                                  cgroup_parent=f"/{name}")
        client.close()
        busybox_daemon.restart()
        client = busybox_daemon.client()
        try:
            client.api.pause(c.id)
            state = Path(hier["freezer"], name, c.id, "freezer.state")
            assert state.read_text().strip() == "FROZEN"
            client.api.unpause(c.id)
            client.api.kill(c.id)
            assert client.api.wait(c.id, timeout=10)["StatusCode"] == 137
            assert _gone(str(Path(hier["pids"], name, c.id)))
        finally:
            client.api.remove_container(c.id, force=True)
            client.close()


def test_a_cgroup_its_shim_left_under_a_parent_is_removed(busybox_daemon: DaemonProcess) -> None:
    """As under dockyard/ (test_restart_and_leaks): a child cgroup keeps the kernel saying
    EBUSY until the shim gives up; the daemon's sweep must look under the container's parent."""
    name, hier = _parent(), cgroups.detected().v1
    with limited_parent(f"/{name}", LIMIT):
        client = busybox_daemon.client()
        c = client.containers.run("busybox", ["sleep", "60"], detach=True, network_mode="none",
                                  cgroup_parent=f"/{name}")
        _kill_past_a_blocker(client.api, busybox_daemon, c.id, Path(hier["pids"], name, c.id))
        try:
            assert _gone(str(Path(hier["pids"], name, c.id)), timeout=30)
        finally:
            client.api.remove_container(c.id, force=True)
            client.close()


def test_a_parent_through_a_file_is_refused_in_dockerds_words(client: Any) -> None:
    api = client.api
    made = api.create_container("busybox", ["true"], host_config={
        "NetworkMode": "none", "CgroupParent": "/cgroup.procs/x"})
    try:
        with pytest.raises(docker.errors.APIError) as caught:
            api.start(made["Id"])
        freezer = cgroups.detected().v1["freezer"]
        words = ("failed to create shim task: OCI runtime create failed: runc create failed: "
                 f"unable to get cgroup freezer state: openat2 {freezer}/cgroup.procs/x/"
                 f"{made['Id']}/freezer.state: not a directory: unknown: Are you trying to mount "
                 "a directory onto a file (or vice-versa)? Check if the specified host path "
                 "exists and is the expected type")
        assert (caught.value.status_code, caught.value.explanation) == (400, words)
        state = api.inspect_container(made["Id"])["State"]  # dockerd: ENOTDIR's words are 127
        assert (state["Status"], state["ExitCode"], state["Error"]) == ("created", 127, words)
    finally:
        api.remove_container(made["Id"], force=True)


def _placed(name: str) -> list[Path]:
    """The memory, freezer and pids cgroups ``/<name>`` (made), for a daemon to start in."""
    hier = cgroups.detected().v1
    dirs = [Path(hier[c], name) for c in ("memory", "freezer", "pids")]
    for d in dirs:
        d.mkdir()
    return [d / "cgroup.procs" for d in dirs]


def test_a_daemon_restarted_in_another_cgroup_finds_a_relative_parents_cgroup(
        busybox_archive: Path) -> None:
    """A relative parent is below the daemon's own cgroup when the container starts; a daemon
    restarted in another one re-adopts the container, and pause, update, top, exec, the sweep
    of the cgroup its shim left and a next start all use where it went (kept in the record),
    not a place below the daemon's new cgroup."""
    name, rel, hier = _parent(), f"rel-{uuid.uuid4().hex[:8]}", cgroups.detected().v1
    first, then = f"{name}-a", f"{name}-b"
    daemon = PlacedDaemonProcess(_placed(first))
    try:
        _placed(then)
        with daemon:
            daemon.load(busybox_archive)
            client = daemon.client()
            c = client.containers.run("busybox", ["sleep", "300"], detach=True,
                                      network_mode="none", cgroup_parent=rel)
            client.close()
            mine = {k: Path(hier[k], first, rel, c.id) for k in ("memory", "freezer", "pids")}
            assert all(p.is_dir() for p in mine.values())
            daemon.procs = [Path(hier[k], then, "cgroup.procs") for k in mine]
            daemon.restart()
            assert own_cgroup(daemon.pid or 0, "memory") == f"/{then}"
            client = daemon.client()
            api = client.api
            try:
                api.pause(c.id)
                assert (mine["freezer"] / "freezer.state").read_text().strip() == "FROZEN"
                api.unpause(c.id)
                api.update_container(c.id, mem_limit=32 << 20, memswap_limit=64 << 20)
                assert int((mine["memory"] / "memory.limit_in_bytes").read_text()) == 32 << 20
                pid = api.inspect_container(c.id)["State"]["Pid"]
                assert str(pid) in [row[1] for row in api.top(c.id)["Processes"]]
                ex = api.exec_create(c.id, ["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"])
                assert int(api.exec_start(ex["Id"])) == 32 << 20
                _kill_past_a_blocker(api, daemon, c.id, mine["pids"])  # the daemon's sweep
                assert all(_gone(str(p), timeout=30) for p in mine.values())
                api.start(c.id)  # where its first start put it, not below the daemon's new one
                pid = api.inspect_container(c.id)["State"]["Pid"]
                assert own_cgroup(pid, "memory") == f"/{first}/{rel}/{c.id}"
                assert not Path(hier["memory"], then, rel).exists()
            finally:
                api.remove_container(c.id, force=True)
                client.close()
            assert all(_gone(str(p)) for p in mine.values())
    finally:
        _rmdir_below_mounts(f"{first}/{rel}", f"{then}/{rel}", rel, first, then)
