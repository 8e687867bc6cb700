"""Two networks of one name survive a daemon restart, as under dockerd 20.10 (recorded by hand
with a private one, restarted: both listed, each with its bridge; a container stopped on the
first starts on it again, by the ``NetworkID`` its record holds, not on the second)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockyard.testing.daemon import DaemonProcess


@pytest.fixture
def daemon(busybox_archive: Path) -> Iterator[DaemonProcess]:
    proc = DaemonProcess(None)
    try:
        proc.start()
        with contextlib.closing(proc.client()) as client, open(busybox_archive, "rb") as f:
            client.images.load(f.read())
        yield proc
    finally:
        proc.cleanup()


def _members(api: docker.APIClient, network_id: str) -> list[str]:
    return sorted(c["Name"] for c in (api.inspect_network(network_id)["Containers"] or {}).values())


def test_both_networks_of_a_name_and_a_container_s_own_survive_a_restart(daemon: DaemonProcess) -> None:
    api = docker.APIClient(base_url=daemon.host, version="1.41", timeout=30)
    one = api.create_network("twin")["Id"]
    cid = api.create_container("busybox", ["sleep", "300"], name="keeper",
                               host_config=api.create_host_config(network_mode="twin"))["Id"]
    api.start(cid)
    two = api.create_network("twin", check_duplicate=False)["Id"]
    api.stop(cid, timeout=0)
    api.close()
    daemon.restart()
    api = docker.APIClient(base_url=daemon.host, version="1.41", timeout=30)
    try:
        assert sorted(n["Id"] for n in api.networks() if n["Name"] == "twin") == sorted([one, two])
        assert {f"br-{one[:12]}", f"br-{two[:12]}"} <= set(os.listdir("/sys/class/net"))
        with pytest.raises(docker.errors.APIError, match=r"2 matches found based on name: network twin is ambiguous"):
            api.inspect_network("twin")
        api.start(cid)
        recorded = api.inspect_container(cid)["NetworkSettings"]["Networks"]
        assert list(recorded) == ["twin"] and recorded["twin"]["NetworkID"] == one
        assert (_members(api, one), _members(api, two)) == (["keeper"], [])
        api.remove_container(cid, force=True)
        for network_id in (one, two):
            api.remove_network(network_id)
        assert not {f"br-{one[:12]}", f"br-{two[:12]}"} & set(os.listdir("/sys/class/net"))
    finally:
        api.close()
