"""IPv6 on a container's interfaces, side by side with a private dockerd 20.10 on a Linux bridge
of its own (made here: the default bridge is one of the cases, which the shared private dockerd
runs without), through the docker CLI.

dockerd 20.10's behaviour, recorded here (libnetwork's setIPv6): in a network namespace it makes
for a container, ``net.ipv6.conf.{all,default}.disable_ipv6`` are 1 — no ``::1`` on ``lo``, no
``fe80::`` address on an interface of the default bridge or of an IPv4-only user network, nor
under ``--network none``; an interface given an IPv6 address (an ``--ipv6`` network) has it 0,
and ``lo`` then too (``::1``), whether it joined at the start or by ``network connect`` while
running (with two networks at the start, which is eth0 is a Go map's order: not compared); ``--sysctl net.ipv6.conf.all.disable_ipv6=0`` turns it all back on.

And the veth pair's transmit queue: libnetwork makes both ends with a length of 0 (``ip link``
shows no ``qlen``), on the default bridge and on a user network.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.testing.daemon import DaemonProcess, DockerCLI
from dockyard.testing.dockerd import skip_unless_root, start_dockerd, stop_dockerd

BRIDGE = "dkv6off0"  # dockerd's -b bridge (dockyard's is its own dy<hash>)
SUBNETS = {"dockyard": ("10.253.86.", "10.253.88.0/24", "10.253.90.0/24", "fd00:d1a:76::/64"),
           "dockerd": ("10.253.87.", "10.253.89.0/24", "10.253.91.0/24", "fd00:d0c:76::/64")}
"""Per daemon: its default bridge's /24, an IPv4-only network's subnet, an IPv6 network's two."""
V4, V6 = "dyv6off-4", "dyv6off-6"
SHOW = ("for f in all default; do echo \"$f $(cat /proc/sys/net/ipv6/conf/$f/disable_ipv6)\"; done; "
        "for i in lo eth0 eth1; do [ -e /sys/class/net/$i ] && echo \"$i "
        "$(cat /proc/sys/net/ipv6/conf/$i/disable_ipv6) "
        "$(ip -6 addr show dev $i | grep -o 'scope [a-z]*' | tr '\\n' ' ')\"; done; true")
"""Each interface's disable_ipv6 and its IPv6 addresses' scopes (host: ::1, link: fe80::)."""


@pytest.fixture(scope="module")
def sides(busybox_archive: Path) -> Iterator[dict[str, DockerCLI]]:
    """The docker CLI against each daemon, each on a bridge of its own, with an IPv4-only and
    an IPv6 user network."""
    skip_unless_root()
    dockyard = DaemonProcess(None, "--bip", f"{SUBNETS['dockyard'][0]}1/24")
    subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
    dockerd = None
    clis: dict[str, DockerCLI] = {}
    try:
        subprocess.run(["ip", "addr", "add", f"{SUBNETS['dockerd'][0]}1/24", "dev", BRIDGE],
                       check=True)
        dockerd = start_dockerd(extra_args=("--bridge", BRIDGE))
        dockyard.start().load(busybox_archive)
        clis = {"dockyard": DockerCLI(dockyard.host), "dockerd": DockerCLI(dockerd.host)}
        _ok(clis["dockerd"]("load", "-i", str(busybox_archive)))
        for side, cli in clis.items():
            _, v4, v6_4, v6 = SUBNETS[side]
            _ok(cli("network", "create", "--subnet", v4, V4))
            _ok(cli("network", "create", "--ipv6", "--subnet", v6_4, "--subnet", v6, V6))
        yield clis
    finally:
        for cli in clis.values():
            for cid in cli("ps", "-aq").stdout.split():
                cli("rm", "-f", cid)
            cli("network", "rm", V4, V6)
        dockyard.cleanup()
        if dockerd is not None:
            stop_dockerd(dockerd)
        subprocess.run(["ip", "link", "del", BRIDGE], check=False)


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _shown(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line.rstrip() for line in _ok(done).splitlines()]


def _compare(seen: dict[str, list[str]]) -> list[str]:
    assert seen["dockyard"] == seen["dockerd"]
    return seen["dockerd"]


@pytest.mark.parametrize("network", ["default", V4, "none"])
def test_no_ipv6_on_a_network_without_it(sides: dict[str, DockerCLI], network: str) -> None:
    seen = {side: _shown(cli("run", "--rm", "--pull", "never", "--network", network, "busybox",
                             "sh", "-c", SHOW))
            for side, cli in sides.items()}
    shown = _compare(seen)
    assert shown == ["all 1", "default 1", "lo 1", *(["eth0 1"] if network != "none" else [])]


def test_an_ipv6_network_has_it_on_its_interface_and_lo(sides: dict[str, DockerCLI]) -> None:
    """And ``--sysctl net.ipv6.conf.all.disable_ipv6=0`` on an IPv4-only one: on everywhere."""
    seen = {side: [_shown(cli("run", "--rm", "--pull", "never", *args, "busybox", "sh", "-c", SHOW))
                   for args in (("--network", V6),
                                ("--network", V4, "--sysctl", "net.ipv6.conf.all.disable_ipv6=0"))]
            for side, cli in sides.items()}
    on_v6, by_sysctl = _compare(seen)
    assert on_v6 == ["all 1", "default 1", "lo 0 scope host", "eth0 0 scope global scope link"]
    assert by_sysctl == ["all 0", "default 0", "lo 0 scope host", "eth0 0 scope link"]


def test_connected_while_running(sides: dict[str, DockerCLI]) -> None:
    seen = {}
    for side, cli in sides.items():
        _ok(cli("run", "-d", "--pull", "never", "--name", "v6live", "busybox", "sleep", "60"))
        before = _shown(cli("exec", "v6live", "sh", "-c", SHOW))
        _ok(cli("network", "connect", V6, "v6live"))
        after = _shown(cli("exec", "v6live", "sh", "-c", SHOW))
        cli("rm", "-f", "v6live")
        seen[side] = [before, after]
    before, after = _compare(seen)
    assert before == ["all 1", "default 1", "lo 1", "eth0 1"]
    assert after == ["all 1", "default 1", "lo 0 scope host", "eth0 1",
                     "eth1 0 scope global scope link"]



QUEUE = "cat /sys/class/net/eth0/tx_queue_len /sys/class/net/eth0/iflink"


@pytest.mark.parametrize("network", ["default", V4])
def test_a_veth_pair_has_no_transmit_queue(sides: dict[str, DockerCLI], network: str) -> None:
    """The container's end and the host's (found, while it runs, by the index of eth0's peer)."""
    seen = {}
    for side, cli in sides.items():
        cid = _ok(cli("run", "-d", "--pull", "never", "--network", network, "busybox", "sleep", "60"))
        try:
            inside, peer = _shown(cli("exec", cid, "sh", "-c", QUEUE))
            host = [link for link in Path("/sys/class/net").iterdir()
                    if (link / "ifindex").read_text().strip() == peer]
            assert len(host) == 1, peer
            seen[side] = [inside, (host[0] / "tx_queue_len").read_text().strip()]
        finally:
            cli("rm", "-f", cid)
    assert _compare(seen) == ["0", "0"]
