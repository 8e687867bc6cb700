"""``--cgroupns host`` through the runtime, asserted from inside the container, as dockerd 20.10
(runc) showed it on this cgroup-v1 host (2026-11-30): ``/proc/self/cgroup`` gives the
container's cgroup by its host path in every hierarchy (``/docker/<id>`` there,
``/dockyard/<id>`` here: a container in the host's namespace joins all, removed after it), and
/sys/fs/cgroup is a writable tmpfs with each v1 hierarchy bound read-only from that cgroup
(mountinfo's root field is its path), no ``unified`` one. ``private`` (the default here) shows
each hierarchy's root. An embryo has a cgroup namespace of its own, so a host spec handed to a
spare is started by a clone: the embryo path must show the host paths all the same."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from containerprobe import collect, through_a_shim

from dockyard.containers.runtime import Runtime
from dockyard.containers.spec import ContainerSpec
from dockyard.linux import cgroups

SEEN = ("cat /proc/self/cgroup; echo ---; grep ' /sys/fs/cgroup' /proc/self/mountinfo; echo ---; "
        "ls /sys/fs/cgroup; echo ---; cat /sys/fs/cgroup/memory/cgroup.procs; "
        "mkdir /sys/fs/cgroup/x && echo tmpfs writable; touch /sys/fs/cgroup/memory/x 2>&1")


def _memory_path(out: str) -> str:
    table = out.split("---\n")[0]
    return next(line.split(":", 2)[2] for line in table.splitlines()
                if "memory" in line.split(":")[1].split(","))


def _every_mount() -> list[str]:
    """Every cgroup hierarchy's mountpoint here (v1's, named ones, a hybrid host's v2 one)."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return [line.split()[4] for line in f if line.partition(" - ")[2].startswith("cgroup")]


def _left(own: str, patience: float) -> list[str]:
    """The hierarchies still holding cgroup ``own`` once ``patience`` seconds have passed."""
    deadline = time.monotonic() + patience
    while (left := [m for m in _every_mount() if os.path.exists(os.path.join(m, own.lstrip("/")))]) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _cgroup_mounts(out: str) -> dict[str, tuple[str, str, str]]:
    """Mountpoint → (root, mount options, file system type) of the cgroup mounts."""
    found = {}
    for line in out.split("---\n")[1].splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        found[fields[4]] = (fields[3], fields[5], right.split()[0])
    return found


@pytest.fixture(autouse=True)
def _v1() -> None:
    if cgroups.detected().mode != "v1":
        pytest.skip("the host cgroup namespace's mounts are recorded on cgroup v1")


@pytest.mark.parametrize("way", ["clone", "shim"])
def test_a_host_cgroupns_shows_the_hosts_paths(runtime: Runtime, tmp_path: Path,
                                               make_spec: Callable[..., ContainerSpec],
                                               way: str) -> None:
    spec = make_spec(["sh", "-c", SEEN], cgroupns="host")
    out = collect(runtime, spec).out if way == "clone" else through_a_shim(runtime, spec, tmp_path)
    own = f"/{cgroups.DEFAULT_PARENT}/{spec.id}"
    assert _memory_path(out) == own, out
    table = out.split("---\n")[0].splitlines()  # in every hierarchy, as runc puts it
    assert table and all(line.split(":", 2)[2] == own for line in table), out
    assert not _left(own, patience=0 if way == "clone" else 10)  # a shim removes after the news
    mounts = _cgroup_mounts(out)
    assert mounts["/sys/fs/cgroup"][1].startswith("rw,") and "tmpfs writable" in out
    assert {r for r, _o, _t in list(mounts.values())[1:]} == {own}, out
    assert all(o.startswith("ro,nosuid,nodev,noexec") for _r, o, _t in list(mounts.values())[1:])
    assert {t for _r, _o, t in mounts.values()} == {"tmpfs", "cgroup"}  # no cgroup2 one
    assert "unified" not in out.split("---\n")[2].split()
    assert "1" in out.split("---\n")[3].split()  # its own init is in the memory cgroup shown
    assert "Read-only file system" in out


def test_a_private_cgroupns_shows_each_root(run: Callable[..., object]) -> None:
    r = run(SEEN)
    out = r.out  # type: ignore[attr-defined]
    assert _memory_path(out) == "/"
    assert _cgroup_mounts(out)["/sys/fs/cgroup/memory"][0] == "/"
