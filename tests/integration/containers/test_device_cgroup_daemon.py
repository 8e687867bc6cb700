"""The devices cgroup (v1) through the real docker CLI and docker-py, as dockerd 20.10 has runc
set it: a node the container makes (``mknod``, allowed by Docker's CAP_MKNOD) cannot be used
unless it is one of the default ones, ``--device``, ``--device-cgroup-rule`` or
``--privileged`` allows it; the container's ``devices.list`` reads as under dockerd (the lists
below are a private dockerd 20.10's).

The nodes used are harmless: ``c 42:0`` has no driver (an open the cgroup lets through fails
with ENXIO, one it refuses with EPERM), and the host's tty1 (``c 4:1``) is only opened where
the cgroup refuses it. Each run is made twice: the second may take an embryo."""

from __future__ import annotations

import io
from typing import Any

import pytest
from docker.errors import APIError, BuildError

from dockyard.linux import cgroups
from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.skipif(cgroups.detected().mode != "v1"
                                or "devices" not in cgroups.detected().v1,
                                reason="the devices cgroup is v1's (v2's eBPF program: not done)")

DOCKERD_DEFAULT = ["b *:* m", "c *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm",
                   "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 10:200 rwm",
                   "c 136:* rwm"]
# dockerd 20.10: --device /dev/zero:/dev/myzero --device /dev/null:/dev/n2:r
#   --device-cgroup-rule 'c 42:* rmw' --device-cgroup-rule 'b 7:3 r' --device-cgroup-rule 'c *:3 w'
DOCKERD_EXTRA = ["b *:* m", "c *:* m", "c *:3 w", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",
                 "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "b 7:3 r",
                 "c 10:200 rwm", "c 42:* rwm", "c 136:* rwm"]
EXTRA = ["--device", "/dev/zero:/dev/myzero", "--device", "/dev/null:/dev/n2:r",
         "--device-cgroup-rule", "c 42:* rmw", "--device-cgroup-rule", "b 7:3 r",
         "--device-cgroup-rule", "c *:3 w"]
PROBE = "mknod /tmp/x c 42 0 && cat /tmp/x"  # no driver: ENXIO once the cgroup lets it through
REFUSED = "Operation not permitted"
PASSED = "No such device or address"


def _run(docker: DockerCLI, *args: str) -> tuple[int, str]:
    done = docker("run", "--rm", "--network", "none", *args)
    return done.returncode, str(done.stdout) + str(done.stderr)


def _devices_list(docker: DockerCLI, *args: str) -> list[str]:
    """The ``devices.list`` of a running container's cgroup (found from its init's)."""
    done = docker("run", "-d", "--network", "none", *args, "busybox", "sleep", "60")
    assert done.returncode == 0, done.stderr
    cid = done.stdout.strip()
    try:
        pid = docker("inspect", "-f", "{{.State.Pid}}", cid).stdout.strip()
        with open(f"/proc/{pid}/cgroup", encoding="ascii") as f:
            path = next(line.split(":", 2)[2] for line in f.read().splitlines()
                        if "devices" in line.split(":")[1].split(","))
        with open(f"{cgroups.detected().v1['devices']}{path}/devices.list", encoding="ascii") as f:
            return f.read().splitlines()
    finally:
        docker("rm", "-f", cid)


def test_a_node_made_in_the_container_is_refused_by_default(docker: DockerCLI) -> None:
    for _ in range(2):
        code, out = _run(docker, "busybox", "sh", "-c", PROBE)
        assert code != 0 and REFUSED in out, out
        # the host's tty1: refused at the open, so nothing is written there
        code, out = _run(docker, "busybox", "sh", "-c", "mknod /tmp/t c 4 1 && printf '' > /tmp/t")
        assert code != 0 and REFUSED in out, out


def test_the_default_devices_and_a_terminal_still_work(docker: DockerCLI) -> None:
    script = ("echo x > /dev/null && head -c 3 /dev/zero | wc -c && head -c 2 /dev/urandom "
              "| wc -c && echo y > $(tty) && echo z > /dev/tty && ls /dev/pts")
    for _ in range(2):
        code, out = _run(docker, "-t", "busybox", "sh", "-c", script)
        assert code == 0, out
        assert out.split()[:2] == ["3", "2"] and "y" in out and "z" in out and "ptmx" in out


def test_device_and_device_cgroup_rule_allow_their_nodes(docker: DockerCLI) -> None:
    for _ in range(2):
        code, out = _run(docker, "--device", "/dev/zero:/dev/myzero", "busybox", "sh", "-c",
                         "head -c 5 /dev/myzero | wc -c")
        assert (code, out.strip()) == (0, "5"), out
        code, out = _run(docker, "--device-cgroup-rule", "c 42:* rmw", "busybox", "sh", "-c",
                         PROBE)
        assert PASSED in out and REFUSED not in out, out


def test_privileged_uses_any_node(docker: DockerCLI) -> None:
    for _ in range(2):
        _code, out = _run(docker, "--privileged", "busybox", "sh", "-c", PROBE)
        assert PASSED in out and REFUSED not in out, out


def test_devices_list_is_dockerds(docker: DockerCLI) -> None:
    for _ in range(2):
        assert _devices_list(docker) == DOCKERD_DEFAULT
        assert _devices_list(docker, *EXTRA) == DOCKERD_EXTRA
        assert _devices_list(docker, "--device-cgroup-rule", "a 1:3 r") == ["a *:* rwm"]
        assert _devices_list(docker, "--privileged") == ["a *:* rwm"]


def test_an_update_keeps_the_device_rules(docker: DockerCLI) -> None:
    done = docker("run", "-d", "--network", "none", "--device-cgroup-rule", "c 42:* rmw",
                  "busybox", "sleep", "60")
    assert done.returncode == 0, done.stderr
    cid = done.stdout.strip()
    try:
        assert docker("update", "--cpu-shares", "512", cid).returncode == 0
        done = docker("exec", cid, "sh", "-c", PROBE)
        assert PASSED in done.stderr and REFUSED not in done.stderr, done.stderr
    finally:
        docker("rm", "-f", cid)


def test_a_malformed_rule_fails_the_start_in_dockerds_words(client: Any) -> None:
    container = client.containers.create("busybox", "true", network_mode="none",
                                         device_cgroup_rules=["c 1:x rwm"])
    with pytest.raises(APIError) as info:
        container.start()
    assert info.value.status_code == 500
    assert info.value.explanation == "invalid device cgroup rule format: 'c 1:x rwm'"


def test_a_build_step_has_the_default_rules(client: Any) -> None:
    """A RUN step is a container too: its node is refused, the default ones work."""
    step = f"RUN head -c 1 /dev/zero > /dev/null && {PROBE}"
    with pytest.raises(BuildError) as info:
        client.images.build(fileobj=io.BytesIO(f"FROM busybox\n{step}\n".encode()), rm=True,
                            forcerm=True, network_mode="none")
    logs = "".join(str(chunk.get("stream") or chunk.get("error") or "")
                   for chunk in info.value.build_log)
    assert REFUSED in logs and PASSED not in logs, logs
