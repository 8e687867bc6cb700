"""/sys/fs/cgroup of a container in a cgroup namespace of its own (``--cgroupns private``, and
dockyard's default), side by side with a private dockerd 20.10 on this cgroup-v1 host with a
v2 ``unified`` mount: a writable tmpfs (a file can be made in it) holding each v1 hierarchy,
read-only, as a cgroup mount of the container's namespace (root ``/``; name=systemd's source
``systemd``), and no ``unified`` one — runc lists v1 mounts only. ``--privileged``: dockerd
clears the cgroup mount's read-only flag (moby's ``WithMounts``), so the hierarchies are
writable too; dockerd cannot start a privileged container on this machine (runc: "unable to
apply caps: operation not permitted": CAP_SYS_RESOURCE is not in the bounding set), so that
case is asserted on dockyard alone. Under ``--userns-remap`` dockerd clears that flag too (the
remapped root may not write there all the same: "Permission denied"), in either cgroup
namespace mode; the tmpfs is the remapped root's.

The masked paths under /proc and /sys as dockerd's runc mounts them: a masked directory behind
a read-only tmpfs of the default size (``df`` in a container lists it with its size), a file
behind /dev/null, the read-only entries bound read-only — from an embryo's premade /proc
(dockyard's default) and from an init that mounts its own (``--cgroupns host``)."""

from __future__ import annotations

import re

import pytest

from dockyard.linux import cgroups
from dockyard.testing.daemon import DaemonProcess, DockerCLI
from dockyard.testing.dockerd import Dockerd

SEEN = ("grep ' - cgroup' /proc/self/mountinfo; grep ' /sys/fs/cgroup ' /proc/self/mountinfo; "
        "echo ---; ls /sys/fs/cgroup; touch /sys/fs/cgroup/x && echo tmpfs writable; "
        "mkdir /sys/fs/cgroup/memory/x && echo memory writable && rmdir /sys/fs/cgroup/memory/x; true")


@pytest.fixture(autouse=True)
def _v1() -> None:
    if cgroups.detected().mode != "v1":
        pytest.skip("recorded on cgroup v1")


def _seen(host: str, *flags: str) -> tuple[list[str], str]:
    """The cgroup mounts (mount id, parent and device number left out; a container's own
    cgroup, which a host cgroup namespace shows, as ``/ID``) and the rest."""
    done = DockerCLI(host)("run", "--rm", "--network", "none", "--cgroupns", "private", *flags,
                           "busybox", "sh", "-c", SEEN)
    assert done.returncode == 0, done.stderr
    table, _, rest = done.stdout.partition("---\n")
    return sorted(re.sub(r"^/(docker|dockyard)/[0-9a-f]{64} ", "/ID ", " ".join(line.split()[3:]))
                  for line in table.splitlines()), rest


def test_a_private_cgroupns_mounts_what_dockerds_does(dockerd: Dockerd,
                                                      dockyard_daemon: DaemonProcess,
                                                      busybox_image: str) -> None:
    theirs, ours = _seen(dockerd.host), _seen(dockyard_daemon.host)
    assert ours == theirs
    mounts, rest = ours
    assert "/ /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=755" in mounts
    assert "/ /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,memory" \
        in mounts
    assert "- cgroup systemd rw,name=systemd" in " ".join(mounts)
    assert "unified" not in rest.split() and "cgroup2" not in " ".join(mounts)
    assert "tmpfs writable" in rest and "memory writable" not in rest


def test_a_privileged_ones_hierarchies_are_writable(dockyard_daemon: DaemonProcess,
                                                    busybox_image: str) -> None:
    mounts, rest = _seen(dockyard_daemon.host, "--privileged")
    hierarchies = [m for m in mounts if " - cgroup " in m]
    assert hierarchies and all(m.split()[2].startswith("rw,") for m in hierarchies), mounts
    assert "/ /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=755" in mounts
    assert "unified" not in rest.split() and "cgroup2" not in " ".join(mounts)
    assert "tmpfs writable" in rest and "memory writable" in rest


@pytest.mark.parametrize("mode", ["private", "host"])
def test_under_the_remap_the_hierarchies_are_writable_as_dockerds(
        remapped_pair: tuple[str, str], mode: str) -> None:
    theirs, ours = (_seen(host, "--cgroupns", mode) for host in remapped_pair)
    assert ours == theirs
    mounts, rest = ours
    hierarchies = [m for m in mounts if " - cgroup " in m]
    assert hierarchies and all(m.split()[2].startswith("rw,") for m in hierarchies), mounts
    assert "tmpfs writable" in rest and "memory writable" not in rest


MASKS = "grep -E ' /(proc|sys)/' /proc/self/mountinfo | grep -v ' /sys/fs/cgroup'; df | grep -c ' /proc/acpi$'; true"


def _masks(host: str, *flags: str) -> list[str]:
    """The mounts under /proc and /sys but the cgroup tree (mount ids and devices left out),
    sorted (the premade ones come in another order), and df's count of /proc/acpi."""
    done = DockerCLI(host)("run", "--rm", "--network", "none", *flags, "busybox", "sh", "-c", MASKS)
    assert done.returncode == 0, done.stderr
    *table, listed = done.stdout.splitlines()
    return [*sorted(" ".join(line.split()[3:]) for line in table), f"df lists /proc/acpi: {listed}"]


@pytest.mark.parametrize("flags", [(), ("--cgroupns", "host")], ids=["premade", "own"])
def test_masked_paths_are_mounted_as_dockerds(dockerd: Dockerd, dockyard_daemon: DaemonProcess,
                                              busybox_image: str, flags: tuple[str, ...]) -> None:
    theirs, ours = _masks(dockerd.host, *flags), _masks(dockyard_daemon.host, *flags)
    assert ours == theirs
    assert "/ /proc/acpi ro,relatime - tmpfs tmpfs ro" in ours
    assert "/null /proc/keys rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755" in ours
    assert ours[-1] == "df lists /proc/acpi: 1"
