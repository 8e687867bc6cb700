"""``--memory-reservation``, ``--memory-swappiness``, ``--oom-kill-disable``, ``--oom-score-adj``
and ``--blkio-weight`` through docker-py and a real daemon, read back from the host's cgroup
files and ``/proc/<pid>/oom_score_adj``, as dockerd 20.10 (cgroupfs, this hybrid host) writes
them; the refusals and warnings in its words."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import docker
import pytest

from dockyard.linux import cgroups
from dockyard.testing.daemon import NetnsDaemonProcess

MIB = 1024 * 1024


def _memory_dir(pid: int) -> str:
    """The container's memory cgroup on the host, from its init's /proc/<pid>/cgroup."""
    hier = cgroups.detect()
    with open(f"/proc/{pid}/cgroup", encoding="utf-8") as f:
        for line in f:
            _num, names, path = line.rstrip("\n").split(":", 2)
            if "memory" in names.split(",") and "memory" in hier.v1:
                return hier.v1["memory"] + path
            if not names and hier.mode == "v2" and hier.v2 is not None:
                return hier.v2 + path
    raise AssertionError(f"no memory cgroup for {pid}")


def _read(path: str) -> str:
    with open(path, encoding="ascii") as f:
        return f.read().strip()


def _run(client: Any, **kw: Any) -> tuple[Any, dict[str, Any]]:
    host = client.api.create_host_config(**kw)
    made = client.api.create_container("busybox", ["sleep", "100"], host_config=host)
    client.api.start(made["Id"])
    return client.containers.get(made["Id"]), made


def _pid(container: Any) -> int:
    container.reload()
    return int(container.attrs["State"]["Pid"])


def test_memory_reservation_is_the_soft_limit_and_updates(client: Any) -> None:
    c, _ = _run(client, mem_reservation="20m", mem_limit="100m")
    mem = _memory_dir(_pid(c))
    v1 = os.path.exists(f"{mem}/memory.soft_limit_in_bytes")
    soft = f"{mem}/memory.soft_limit_in_bytes" if v1 else f"{mem}/memory.low"
    assert _read(soft) == str(20 * MIB)
    assert c.attrs["HostConfig"]["MemoryReservation"] == 20 * MIB
    assert client.api.update_container(c.id, mem_reservation="30m")["Warnings"] in (None, [])
    assert _read(soft) == str(30 * MIB)
    c.reload()
    assert c.attrs["HostConfig"]["MemoryReservation"] == 30 * MIB
    plain, _ = _run(client)  # none asked: the parent's default, untouched
    assert _read(f"{_memory_dir(_pid(plain))}/{os.path.basename(soft)}") in (
        "9223372036854771712", "0")


@pytest.mark.parametrize(("kw", "words"), [
    ({"mem_reservation": "5m"}, "Minimum memory reservation allowed is 6MB"),
    ({"mem_reservation": "20m", "mem_limit": "10m"},
     "Minimum memory limit can not be less than memory reservation limit, see usage"),
    ({"oom_score_adj": 1001}, "Invalid value 1001, range for oom score adj is [-1000, 1000]"),
    ({"oom_score_adj": -1001}, "Invalid value -1001, range for oom score adj is [-1000, 1000]"),
    ({"mem_swappiness": 101}, "Invalid value: 101, valid memory swappiness range is 0-100"),
])
def test_refusals_in_dockerds_words(client: Any, kw: dict[str, Any], words: str) -> None:
    with pytest.raises(docker.errors.APIError) as err:
        client.api.create_container("busybox", ["true"], host_config=client.api.create_host_config(**kw))
    assert err.value.status_code == 400 and err.value.explanation == words


def test_update_refuses_a_small_reservation(client: Any) -> None:
    c, _ = _run(client)
    with pytest.raises(docker.errors.APIError) as upd:
        client.api.update_container(c.id, mem_reservation="5m")
    assert upd.value.explanation == "Minimum memory reservation allowed is 6MB"


def test_memory_swappiness_is_written_only_when_asked(client: Any) -> None:
    if "swappiness" not in cgroups.supported():  # cgroup v2: discarded with dockerd's warning
        c, made = _run(client, mem_swappiness=10)
        assert "Memory swappiness discarded" in made["Warnings"][0]
        assert c.attrs["HostConfig"]["MemorySwappiness"] is None
        return
    c, made = _run(client, mem_swappiness=0)
    assert not made["Warnings"]
    assert _read(f"{_memory_dir(_pid(c))}/memory.swappiness") == "0"
    assert c.attrs["HostConfig"]["MemorySwappiness"] == 0
    c, _ = _run(client, mem_swappiness=100)
    assert _read(f"{_memory_dir(_pid(c))}/memory.swappiness") == "100"
    plain, _ = _run(client)
    mem = _memory_dir(_pid(plain))
    assert _read(f"{mem}/memory.swappiness") == _read(f"{os.path.dirname(mem)}/memory.swappiness")
    assert plain.attrs["HostConfig"]["MemorySwappiness"] is None


def test_oom_kill_disable_sets_oom_control(client: Any) -> None:
    if "oom_kill_disable" not in cgroups.supported():
        c, made = _run(client, oom_kill_disable=True, mem_limit="10m")
        assert made["Warnings"] == [("Your kernel does not support OomKillDisable. "
                                     "OomKillDisable discarded.")]
        return
    c, made = _run(client, oom_kill_disable=True)
    assert made["Warnings"] == [("OOM killer is disabled for the container, but no memory limit "
                                 "is set, this can result in the system running out of resources.")]
    assert "oom_kill_disable 1" in _read(f"{_memory_dir(_pid(c))}/memory.oom_control")
    assert c.attrs["HostConfig"]["OomKillDisable"] is True
    limited, made = _run(client, oom_kill_disable=True, mem_limit="10m")
    assert not made["Warnings"]
    assert "oom_kill_disable 1" in _read(f"{_memory_dir(_pid(limited))}/memory.oom_control")
    plain, _ = _run(client)
    assert "oom_kill_disable 0" in _read(f"{_memory_dir(_pid(plain))}/memory.oom_control")


def test_oom_score_adj_reaches_the_init_its_children_and_execs(client: Any) -> None:
    c, _ = _run(client, oom_score_adj=500)
    assert _read(f"/proc/{_pid(c)}/oom_score_adj") == "500"
    assert c.attrs["HostConfig"]["OomScoreAdj"] == 500
    code, out = c.exec_run(["sh", "-c", "cat /proc/self/oom_score_adj"])
    assert (code, out.strip()) == (0, b"500")
    plain, _ = _run(client)
    assert _read(f"/proc/{_pid(plain)}/oom_score_adj") == "0"


def _own_score(value: str) -> None:
    with open("/proc/self/oom_score_adj", "w", encoding="ascii") as f:
        f.write(value)


def test_a_container_does_not_keep_a_raised_daemons_score(busybox_archive: Path) -> None:
    """A daemon started with a raised ``oom_score_adj`` (as under systemd --user, 100): its
    containers and their execs get their own, 0 unless asked, as runc writes dockerd's value
    — they kept the daemon's."""
    _own_score("100")  # the daemon inherits it; raising needs no privilege, 0 is this one's again
    try:
        with NetnsDaemonProcess() as daemon:
            _own_score("0")
            daemon.load(busybox_archive)
            with contextlib.closing(daemon.client()) as client:
                c, _ = _run(client, network_mode="none")
                asked, _ = _run(client, network_mode="none", oom_score_adj=300)
                code, out = c.exec_run(["cat", "/proc/self/oom_score_adj"])
                seen = (_read(f"/proc/{daemon.pid}/oom_score_adj"),
                        _read(f"/proc/{_pid(c)}/oom_score_adj"), (code, out),
                        _read(f"/proc/{_pid(asked)}/oom_score_adj"))
    finally:
        _own_score("0")
    assert seen == ("100", "0", (0, b"0\n"), "300")


def test_blkio_weight_where_the_kernel_lacks_it_is_discarded_with_a_warning(client: Any) -> None:
    if "blkio_weight" in cgroups.supported():  # written there (tests/unit/linux/test_blkio_writes)
        pytest.skip("this host's blkio hierarchy has a weight file: nothing is discarded")
    c, made = _run(client, blkio_weight=500)
    assert made["Warnings"] == [("Your kernel does not support Block I/O weight or the cgroup is "
                                 "not mounted. Weight discarded.")]
    assert c.attrs["HostConfig"]["BlkioWeight"] == 0
    # discarded before dockerd's range check: 5 is not refused either
    _c, made = _run(client, blkio_weight=5)
    assert "Weight discarded." in made["Warnings"][0]
    assert client.api.update_container(c.id, blkio_weight=300)["Warnings"] == [
        ("Your kernel does not support Block I/O weight or the cgroup is not mounted. "
         "Weight discarded.")]
    c.reload()
    assert c.attrs["HostConfig"]["BlkioWeight"] == 0
