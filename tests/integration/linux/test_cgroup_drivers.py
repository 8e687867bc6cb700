"""One suite for both cgroup drivers, run against the real hierarchies of this host.

On a hybrid host the v2 ``unified`` mount exists but lends no memory/cpu/pids controller:
the v2 driver must still create, join and remove, and must refuse limits naming what is
missing."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import Unavailable
from dockyard.linux import cgroups
from dockyard.linux.cgroups import Limits

HIER = cgroups.detect()
DRIVERS = [m for m in ("v1", "v2") if (m == "v1" and HIER.v1) or (m == "v2" and HIER.v2)]


@pytest.fixture(params=DRIVERS)
def cgroup(request: pytest.FixtureRequest) -> Iterator[cgroups.Cgroup]:
    if os.geteuid() != 0:
        pytest.skip("creating cgroups needs root")
    cg = cgroups.for_container(f"dytest-cg-{uuid.uuid4().hex[:8]}", HIER, mode=request.param)
    assert cg is not None
    yield cg
    cg.remove()


def test_detects_what_is_really_mounted() -> None:
    assert HIER.mode in ("v1", "v2")
    if HIER.v1 and HIER.v2:  # hybrid: v1 wins, whatever the unified mount claims
        assert HIER.mode == "v1"


def test_create_join_list_remove(cgroup: cgroups.Cgroup) -> None:
    cgroup.create(Limits())
    assert all(os.path.isdir(p) for p in cgroup.paths)
    proc = subprocess.Popen(["sleep", "30"])
    try:
        cgroup.join(proc.pid)
        assert cgroup.pids() == [proc.pid]
        with open(f"/proc/{proc.pid}/cgroup", encoding="ascii") as f:
            assert os.path.basename(cgroup.paths[0]) in f.read()
    finally:
        cgroup.remove()  # kills what is still inside
        proc.wait(5)
    assert proc.returncode == -9
    assert not any(os.path.exists(p) for p in cgroup.paths)


def test_limits_are_written_or_refused_by_name(cgroup: cgroups.Cgroup) -> None:
    limits = Limits(memory=32 << 20, pids=7)
    if isinstance(cgroup, cgroups.CgroupV2) and "memory" not in cgroup.available:
        with pytest.raises(Unavailable, match="controller 'memory' is not available in"):
            cgroup.create(limits)
        assert not os.path.exists(cgroup.paths[0])
        return
    cgroup.create(limits)
    assert cgroup.memory_usage() is not None and not cgroup.oom_killed()
    texts = {name: Path(p, name).read_text(encoding="ascii").strip()
             for p in cgroup.paths for name in os.listdir(p)
             if name in ("memory.limit_in_bytes", "memory.max", "pids.max")}
    assert texts.get("pids.max") == "7"
    assert str(32 << 20) in (texts.get("memory.limit_in_bytes"), texts.get("memory.max"))


def test_update_raises_and_lowers_limits_in_place(cgroup: cgroups.Cgroup) -> None:
    """``docker update``: raising memory past the v1 memory+swap bound needs that bound moved
    first (EINVAL otherwise); a refused value leaves the cgroup and its process alone."""
    if isinstance(cgroup, cgroups.CgroupV2) and "memory" not in cgroup.available:
        cgroup.create(Limits())  # a hybrid host: the limit has nowhere to go, the cgroup stays
        with pytest.raises(OSError):
            cgroup.update(Limits(memory=256 << 20))
        assert os.path.isdir(cgroup.paths[0])
        return
    cgroup.create(Limits(memory=32 << 20, pids=7))
    proc = subprocess.Popen(["sleep", "30"])
    try:
        cgroup.join(proc.pid)
        memory = next(Path(p, n) for p in cgroup.paths for n in ("memory.limit_in_bytes", "memory.max")
                      if Path(p, n).exists())
        pids = next(Path(p, "pids.max") for p in cgroup.paths if Path(p, "pids.max").exists())
        cgroup.update(Limits(memory=256 << 20, pids=-1))
        assert (memory.read_text().strip(), pids.read_text().strip()) == (str(256 << 20), "max")
        cgroup.update(Limits(memory=16 << 20))
        assert memory.read_text().strip() == str(16 << 20)
        with pytest.raises(OSError):
            cgroup.update(Limits(cpu_quota=500, cpu_period=10))
        assert cgroup.pids() == [proc.pid]
    finally:
        cgroup.remove()
        proc.wait(5)


def test_remove_is_idempotent(cgroup: cgroups.Cgroup) -> None:
    cgroup.create(Limits())
    cgroup.remove()
    cgroup.remove()


def test_stats_and_freeze(cgroup: cgroups.Cgroup) -> None:
    cgroup.create(Limits())
    proc = subprocess.Popen(["sh", "-c", "while :; do :; done"])
    try:
        cgroup.join(proc.pid)
        cgroup.freeze(True)
        state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{proc.pid}/wchan", encoding="ascii") as f:
            assert state in ("D", "S") or "freez" in f.read()  # a busy loop, frozen
        cgroup.freeze(False)
        stats = cgroup.stats()
        if isinstance(cgroup, cgroups.CgroupV1):
            assert stats.pids == 1 and stats.memory_usage is not None and stats.cpu_usage_ns
            assert stats.memory_limit is None
    finally:
        cgroup.remove()
        proc.wait(5)


def _status(pid: int, field: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_every_container_has_a_cpuset_of_its_own(cgroup: cgroups.Cgroup) -> None:
    """v1: a cpuset cgroup for every container, as runc makes one, with its parent's CPUs and
    memory nodes filled in, which a join takes a task into — so a container in a cgroup
    namespace of its own has it as its root, and a cpuset given later (``docker update``)
    shows there; a rename (an embryo's) carries it along; removal takes it too."""
    if isinstance(cgroup, cgroups.CgroupV2):
        cgroup.create(Limits())
        if "cpuset" not in cgroup.available:  # a hybrid host: nowhere to put it
            with pytest.raises(Unavailable, match="controller 'cpuset' is not available"):
                cgroup.update(Limits(cpuset_cpus="0"))
            return
    cgroup.create(Limits())
    last = str(max(os.sched_getaffinity(0)))
    procs = [subprocess.Popen(["sleep", "30"]) for _ in range(2)]
    try:
        for proc in procs:
            cgroup.join(proc.pid)
        if isinstance(cgroup, cgroups.CgroupV1):
            assert cgroup.cpuset is not None
            joined = Path(cgroup.cpuset, "cgroup.procs").read_text().split()
            assert sorted(joined) == sorted(str(p.pid) for p in procs)
            mems = Path(cgroup.cpuset, "..", "..", "cpuset.mems").read_text()
            assert Path(cgroup.cpuset, "cpuset.mems").read_text() == mems
            renamed = cgroup.rename(cgroup.cpuset.rsplit("/", 1)[1] + "-renamed")
            assert renamed.cpuset is not None and os.path.isdir(renamed.cpuset)
            assert not os.path.exists(cgroup.cpuset)
            cgroup = renamed
        cgroup.update(Limits(cpuset_cpus=last))
        assert [_status(p.pid, "Cpus_allowed_list") for p in procs] == [last, last]
    finally:
        cgroup.remove()
        for proc in procs:
            proc.wait(5)
    if isinstance(cgroup, cgroups.CgroupV1):
        assert cgroup.cpuset is not None and not os.path.exists(cgroup.cpuset)


def test_a_cloned_init_joins_its_cpuset(cgroup: cgroups.Cgroup) -> None:
    """A cgroup created with a cpuset (a start that clones its init): ``join`` takes the task
    into the cpuset cgroup too."""
    if isinstance(cgroup, cgroups.CgroupV2) and "cpuset" not in cgroup.available:
        with pytest.raises(Unavailable, match="controller 'cpuset' is not available"):
            cgroup.create(Limits(cpuset_cpus="0"))
        return
    cgroup.create(Limits(cpuset_cpus="0", cpuset_mems="0"))
    proc = subprocess.Popen(["sleep", "30"])
    try:
        cgroup.join(proc.pid)
        assert _status(proc.pid, "Cpus_allowed_list") == "0"
    finally:
        cgroup.remove()
        proc.wait(5)


def test_memory_swap_is_the_bound_asked_for(cgroup: cgroups.Cgroup) -> None:
    """``--memory-swap``: the memory+swap bound as given (it was always twice the memory), -1
    lifting it; ``docker update`` moves it in the order the kernel accepts."""
    if isinstance(cgroup, cgroups.CgroupV2) and "memory" not in cgroup.available:
        with pytest.raises(Unavailable, match="controller 'memory' is not available"):
            cgroup.create(Limits(memory=32 << 20, memory_swap=48 << 20))
        return
    v1 = isinstance(cgroup, cgroups.CgroupV1)
    memory = cgroup.dirs["memory"] if isinstance(cgroup, cgroups.CgroupV1) else cgroup.paths[0]
    swap = Path(memory, "memory.memsw.limit_in_bytes" if v1 else "memory.swap.max")
    cgroup.create(Limits(memory=32 << 20, memory_swap=48 << 20))
    if not swap.exists():
        return  # a kernel without swap accounting: the bound has nowhere to go (dockerd drops it)
    unlimited = Path(os.path.dirname(os.path.dirname(memory)), swap.name).read_text() if v1 else "max\n"
    assert swap.read_text() == f"{(48 if v1 else 16) << 20}\n"
    cgroup.update(Limits(memory=32 << 20, memory_swap=-1))
    assert swap.read_text() == unlimited
    cgroup.update(Limits(memory=16 << 20, memory_swap=24 << 20))  # lowered below the old memory
    assert swap.read_text() == f"{(24 if v1 else 8) << 20}\n"
    if v1:  # a bound below the memory limit: the kernel's EINVAL, in runc's words
        with pytest.raises(OSError, match=r'^\[Errno 22\] failed to write "8388608": write .*memsw'):
            cgroup.update(Limits(memory_swap=8 << 20))
