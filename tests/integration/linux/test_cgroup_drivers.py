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
