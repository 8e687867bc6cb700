"""The daemon end to end with ``-b``/``--bip``: a published port answers on 127.0.0.1, survives
a daemon restart (the proxy is re-served for the running container), and ``rm -f`` leaves no
veth, netns mount or proxy behind. The bridge and its NAT rules are removed at the end.

What the daemon made is told apart from the host's other interfaces (other daemons' bridges and
veths come and go meanwhile) by its bridge: the daemon puts each container's veth on it."""

from __future__ import annotations

import contextlib
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.network import nat
from dockyard.testing.daemon import DaemonProcess
from dockyard.testing.httpwait import get_when_up

BRIDGE = f"dytd{os.getpid() % 100000}"


@pytest.fixture
def daemon(busybox_archive: Path) -> Iterator[DaemonProcess]:
    proc = DaemonProcess(None, "--bridge", BRIDGE, "--bip", "10.214.0.1/24")
    try:
        proc.start()
        client = proc.client()
        with open(busybox_archive, "rb") as f:
            client.images.load(f.read())
        client.close()
        yield proc
    finally:
        root = proc.root
        proc.cleanup()
    assert _nsfs_mounts(root, pool=True) == 0  # the netns pool's ready ones went with the daemon
    assert not nat.rules_tagged("nat", f"dockyard:{BRIDGE} ") and BRIDGE not in os.listdir("/sys/class/net")


def _nsfs_mounts(root: Path, pool: bool = False) -> int:
    """Pinned netns under ``root``; those the daemon keeps ready (``netns/pool-*``) only with
    ``pool``."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return sum(1 for line in f if " nsfs " in line and str(root) in line
                   and (pool or "/netns/pool-" not in line))


def _ours() -> set[str]:
    """The interfaces on the daemon's bridge: its containers' veths, and no other process's."""
    return set(os.listdir(f"/sys/class/net/{BRIDGE}/brif"))


def test_published_port_survives_restart_and_rm_cleans_up(daemon: DaemonProcess) -> None:
    with contextlib.closing(daemon.client()) as client:
        c: Any = client.containers.run("busybox", ["sh", "-c", "echo up > /tmp/u; exec httpd -f -p 80 -h /tmp"],
                                       ports={"80/tcp": ("127.0.0.1", None)}, detach=True)
        c.reload()
        assert _nsfs_mounts(daemon.root) == 1
        [veth] = _ours()  # the container's host end: its eth0's peer
        assert c.exec_run(["cat", "/sys/class/net/eth0/iflink"]).output == \
            Path(f"/sys/class/net/{veth}/ifindex").read_bytes()
        settings = c.attrs["NetworkSettings"]
        assert settings["IPAddress"].startswith("10.214.0.") and settings["Gateway"] == "10.214.0.1"
        port = settings["Ports"]["80/tcp"][0]["HostPort"]
        assert get_when_up(f"http://127.0.0.1:{port}/u") == b"up\n"
    daemon.restart()
    with contextlib.closing(daemon.client()) as client:
        assert get_when_up(f"http://127.0.0.1:{port}/u") == b"up\n"
        [bridge] = [n for n in client.api.networks() if n["Name"] == "bridge"]
        assert bridge["Options"]["com.docker.network.bridge.name"] == BRIDGE
        assert _ours() == {veth}
        client.api.remove_container(c.id, force=True)
    deadline = time.monotonic() + 8
    while (_ours() or os.path.exists(f"/sys/class/net/{veth}")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _ours() == set() and not os.path.exists(f"/sys/class/net/{veth}")  # on the bridge or off
    assert _nsfs_mounts(daemon.root) == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/u", timeout=1)
