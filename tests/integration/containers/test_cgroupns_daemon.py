"""``--cgroupns`` through the Engine API (``HostConfig.CgroupnsMode``) and the daemon's
``--default-cgroupns-mode``: a ``host`` container sees its cgroup by its host path, as under
dockerd 20.10 (``/docker/<id>`` there; ``/dockyard/<id>`` here), a ``private`` one sees ``/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.linux import cgroups
from dockyard.testing.daemon import DaemonProcess

CMD = ["sh", "-c", "grep :memory: /proc/self/cgroup"]


@pytest.fixture(autouse=True)
def _v1() -> None:
    if cgroups.detected().mode != "v1":
        pytest.skip("recorded on cgroup v1 (the embryo path is v1's)")


def _memory_cgroup(api: Any, host_config: dict[str, Any]) -> tuple[str, str]:
    """The container's id and the memory cgroup it printed."""
    made = api.create_container("busybox", CMD, host_config={"NetworkMode": "none", **host_config})
    try:
        api.start(made["Id"])
        assert api.wait(made["Id"])["StatusCode"] == 0
        return made["Id"], api.logs(made["Id"]).decode().strip().split(":", 2)[2]
    finally:
        api.remove_container(made["Id"], force=True)


@pytest.mark.parametrize("mode", ["host", "private"])
def test_a_containers_cgroupns_mode_is_honoured(client: Any, mode: str) -> None:
    for _ in range(2):  # the second start may find an embryo waiting (which is private)
        cid, seen = _memory_cgroup(client.api, {"CgroupnsMode": mode})
        assert seen == (f"/{cgroups.DEFAULT_PARENT}/{cid}" if mode == "host" else "/")


def test_an_exec_joins_a_host_cgroupns_containers_cgroups(client: Any) -> None:
    """Every hierarchy's, as runc's exec: the init is in ``/dockyard/<id>`` of each."""
    api = client.api
    made = api.create_container("busybox", ["sleep", "60"],
                                host_config={"NetworkMode": "none", "CgroupnsMode": "host"})
    try:
        api.start(made["Id"])
        ex = api.exec_create(made["Id"], ["cat", "/proc/self/cgroup"])
        lines = api.exec_start(ex["Id"]).decode().splitlines()
        own = f"/{cgroups.DEFAULT_PARENT}/{made['Id']}"
        assert lines and all(line.split(":", 2)[2] == own for line in lines), lines
    finally:
        api.remove_container(made["Id"], force=True)


def test_the_daemons_default_cgroupns_mode_applies(busybox_archive: Path) -> None:
    with DaemonProcess(None, "--default-cgroupns-mode", "host") as daemon:
        daemon.load(busybox_archive)
        client = daemon.client()
        try:
            cid, seen = _memory_cgroup(client.api, {})
            assert seen == f"/{cgroups.DEFAULT_PARENT}/{cid}"
            cid, seen = _memory_cgroup(client.api, {"CgroupnsMode": "private"})
            assert seen == "/"
        finally:
            client.close()


def test_a_privileged_container_shares_the_hosts_cgroupns_by_default(client: Any) -> None:
    """dockerd 20.10 on a cgroup v1 host: a privileged create naming no mode is recorded (and
    runs) with the host's cgroup namespace, whatever the daemon's default; one naming
    ``private`` keeps it."""
    api = client.api
    cid, seen = _memory_cgroup(api, {"Privileged": True})
    assert seen == f"/{cgroups.DEFAULT_PARENT}/{cid}"
    made = api.create_container("busybox", ["true"], host_config={"Privileged": True})
    try:
        assert api.inspect_container(made["Id"])["HostConfig"]["CgroupnsMode"] == "host"
    finally:
        api.remove_container(made["Id"], force=True)
    cid, seen = _memory_cgroup(api, {"Privileged": True, "CgroupnsMode": "private"})
    assert seen == "/"


@pytest.mark.parametrize(("version", "expected"), [("1.40", "host"), ("1.41", "private")])
def test_a_client_older_than_api_1_41_gets_the_hosts_cgroupns(dockyard_daemon: Any, busybox_image: str,
                                                               version: str,
                                                               expected: str) -> None:
    """As dockerd gives it on a cgroup v1 host: clients before 1.41 knew no cgroup namespaces."""
    import docker

    api = docker.APIClient(base_url=dockyard_daemon.host, version=version, timeout=60)
    try:
        made = api.create_container("busybox", ["true"])
        try:
            assert api.inspect_container(made["Id"])["HostConfig"]["CgroupnsMode"] == expected
        finally:
            api.remove_container(made["Id"], force=True)
    finally:
        api.close()
