"""IPv6 on the default bridge (``--ipv6 --fixed-cidr-v6``), an IPv6 ``IPRange`` outside its
subnet, and IPv6 forwarding, side by side with a private dockerd 20.10 (its own Linux bridge,
made here, and its own subnets: two bridges routing one prefix would steal each other's traffic).

dockerd 20.10's behaviour, recorded here: the default bridge shows ``EnableIPv6`` and the IPv6
subnet (no ``Gateway`` entry); a container's address is the subnet with its MAC address in the
last 48 bits (a /64), ``GlobalIPv6Address``/``GlobalIPv6PrefixLen``/``IPv6Gateway`` at the top of
``NetworkSettings`` as on its ``bridge`` entry, a second /etc/hosts line; ``--ip6`` there is
refused at the start as ``--ip`` is; ``--ipv6`` without ``--fixed-cidr-v6`` stops the daemon's
start. An IPv6 ``IPRange`` outside the subnet is taken (201, through the API: the CLI refuses it
itself) and read as offsets into the subnet. An IPv6 network switches on
``net.ipv6.conf.{default,all}.forwarding`` (``accept_ra`` untouched, nothing restored).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from dockyard.testing.daemon import DaemonProcess, DockerCLI
from dockyard.testing.dockerd import DockerdError, skip_unless_root, start_dockerd, stop_dockerd

BRIDGE = "dkv6dflt0"  # dockerd's -b bridge (dockyard's is its own dy<hash>)
SIDES = {"dockyard": ("fd00:d1a:68::", "10.253.71.", "fd00:d1a:69::", "fd00:d1a:70::"),
         "dockerd": ("fd00:d0c:68::", "10.253.72.", "fd00:d0c:69::", "fd00:d0c:70::")}
"""Per daemon: the default bridge's IPv6 prefix, its IPv4 /24, a network's subnet, its range."""
STATUS = 500  # libnetwork's plain error for an exhausted pool (IPv4's too)
EXHAUSTED = "no available IPv6 addresses on this network's address pools: dy6-range (ID)"
NOT_PREDEFINED = "user specified IP address is supported on user defined networks only"
NO_CIDR = ("Error initializing network controller: IPv6 is enabled for the default bridge, but "
           "no subnet is configured. Specify an IPv6 subnet using --fixed-cidr-v6")
FORWARDING = ("/proc/sys/net/ipv6/conf/default/forwarding", "/proc/sys/net/ipv6/conf/all/forwarding")


@pytest.fixture(scope="module")
def sides(busybox_archive: Path) -> Iterator[dict[str, DockerCLI]]:
    """The docker CLI against each daemon, both started with ``--ipv6 --fixed-cidr-v6``."""
    skip_unless_root()
    v6, v4, _, _ = SIDES["dockyard"]
    dockyard = DaemonProcess(None, "--bip", f"{v4}1/24", "--ipv6", "--fixed-cidr-v6", f"{v6}/64")
    v6, v4, _, _ = SIDES["dockerd"]
    subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
    dockerd = None
    try:
        subprocess.run(["ip", "addr", "add", f"{v4}1/24", "dev", BRIDGE], check=True)
        dockerd = start_dockerd(extra_args=("--bridge", BRIDGE, "--ipv6", "--fixed-cidr-v6", f"{v6}/64"))
        dockyard.start().load(busybox_archive)
        _ok(DockerCLI(dockerd.host)("load", "-i", str(busybox_archive)))
        yield {"dockyard": DockerCLI(dockyard.host), "dockerd": DockerCLI(dockerd.host)}
    finally:
        dockyard.cleanup()
        if dockerd is not None:
            for cid in DockerCLI(dockerd.host)("ps", "-aq").stdout.split():
                DockerCLI(dockerd.host)("rm", "-f", cid)
            stop_dockerd(dockerd)
        subprocess.run(["ip", "link", "del", BRIDGE], check=False)


@pytest.fixture
def clean(sides: dict[str, DockerCLI]) -> Iterator[dict[str, DockerCLI]]:
    """What a test made is removed after it (dockerd's networks before it stops)."""
    yield sides
    for cli in sides.values():
        for cid in cli("ps", "-aq").stdout.split():
            cli("rm", "-f", cid)
        for name in ("dy6-range", "dy6-fwd"):
            cli("network", "rm", name)


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _by_mac(prefix: str, mac: str) -> str:
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address(prefix)) | int(mac.replace(":", ""), 16)))


def test_default_bridge_gives_ipv6_addresses_as_dockerd(clean: dict[str, DockerCLI]) -> None:
    seen: dict[str, Any] = {}
    for side, cli in clean.items():
        v6, v4, _, _ = SIDES[side]
        bridge = json.loads(_ok(cli("network", "inspect", "bridge")))[0]
        _ok(cli("run", "-d", "--name", "dy6-a", "busybox", "sleep", "300"))
        _ok(cli("run", "-d", "--name", "dy6-b", "busybox", "sleep", "300"))
        settings = json.loads(_ok(cli("inspect", "dy6-a")))[0]["NetworkSettings"]
        other = json.loads(_ok(cli("inspect", "dy6-b")))[0]["NetworkSettings"]["GlobalIPv6Address"]
        mine = settings["GlobalIPv6Address"]
        assert mine == _by_mac(v6, settings["MacAddress"]), side  # the MAC in the last 48 bits
        top = {k: settings[k] for k in ("GlobalIPv6Address", "GlobalIPv6PrefixLen", "IPv6Gateway")}
        entry = {k: settings["Networks"]["bridge"][k] for k in top}
        hosts = _ok(cli("exec", "dy6-a", "cat", "/etc/hosts")).splitlines()[-2:]
        route = _ok(cli("exec", "dy6-a", "ip", "-6", "route", "show", "default")).split()[:5]
        pings = [cli("exec", "dy6-a", "ping", "-6", "-c1", "-W5", ip).returncode
                 for ip in (other, f"{v6}1")]
        found = [bridge["EnableIPv6"], bridge["IPAM"]["Config"], top, entry,
                 [line.split()[0] for line in hosts], route, pings]
        seen[side] = json.loads(json.dumps(found).replace(mine, "MINE").replace(v6, "V6:")
                                .replace(v4, "V4."))
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockyard"] == [
        True, [{"Subnet": "V4.0/24", "Gateway": "V4.1"}, {"Subnet": "V6:/64"}],
        {"GlobalIPv6Address": "MINE", "GlobalIPv6PrefixLen": 64, "IPv6Gateway": "V6:1"},
        {"GlobalIPv6Address": "MINE", "GlobalIPv6PrefixLen": 64, "IPv6Gateway": "V6:1"},
        ["V4.2", "MINE"], ["default", "via", "V6:1", "dev", "eth0"], [0, 0]]


def test_ip6_on_the_default_bridge_is_refused_as_dockerd(clean: dict[str, DockerCLI]) -> None:
    for side, cli in clean.items():
        v6 = SIDES[side][0]
        done = cli("run", "--name", "dy6-ip6", "--ip6", f"{v6}99", "busybox", "true")
        assert done.returncode == 125, side
        assert NOT_PREDEFINED in done.stderr, side


def test_ipv6_without_fixed_cidr_v6_stops_the_start(busybox_archive: Path) -> None:
    skip_unless_root()
    subprocess.run(["ip", "link", "add", f"{BRIDGE}x", "type", "bridge"], check=True)
    try:  # dockerd's default bridge on a bridge of its own (with --bridge none it has none)
        with pytest.raises(DockerdError, match=re.escape(NO_CIDR)):
            stop_dockerd(start_dockerd(extra_args=("--bridge", f"{BRIDGE}x", "--ipv6")))
    finally:
        subprocess.run(["ip", "link", "del", f"{BRIDGE}x"], check=False)
    daemon = DaemonProcess(None, "--ipv6")
    try:
        with pytest.raises(RuntimeError, match="dockyard daemon exited"):
            daemon.start()
        assert NO_CIDR in daemon.log()
    finally:
        daemon.cleanup()


def _create(host: str, name: str, config: dict[str, str]) -> tuple[int, str]:
    api = docker.APIClient(base_url=host, version="1.41", timeout=30)
    try:
        done = api._post_json(api._url("/networks/create"), data={
            "Name": name, "EnableIPv6": True, "IPAM": {"Config": [config]}})
        return done.status_code, done.text
    finally:
        api.close()


def test_an_ipv6_range_outside_its_subnet_is_read_as_dockerd(clean: dict[str, DockerCLI]) -> None:
    """The range's offsets in the subnet: a /126 out of it leaves ::2 and ::3 (::1 the gateway)."""
    seen = {}
    for side, cli in clean.items():
        _, _, subnet, outside = SIDES[side]
        status, _ = _create(cli.env["DOCKER_HOST"], "dy6-range", {"Subnet": f"{subnet}/64", "IPRange": f"{outside}/126"})
        config = json.loads(_ok(cli("network", "inspect", "dy6-range")))[0]["IPAM"]["Config"][1]
        got: list[Any] = []
        for name in ("dy6-r1", "dy6-r2"):
            _ok(cli("run", "-d", "--name", name, "--network", "dy6-range", "busybox", "sleep", "300"))
            got.append(json.loads(_ok(cli("inspect", name)))[0]["NetworkSettings"]["Networks"]
                       ["dy6-range"]["GlobalIPv6Address"])
        got.append(_start_refused(cli.env["DOCKER_HOST"], "dy6-range"))
        seen[side] = json.dumps([status, config, got]).replace(subnet, "SUB:").replace(outside, "OUT:")
    assert seen["dockyard"] == seen["dockerd"]
    assert json.loads(seen["dockyard"]) == [
        201, {"Subnet": "SUB:/64", "IPRange": "OUT:/126"},
        ["SUB:2", "SUB:3", [STATUS, EXHAUSTED]]]


def _start_refused(host: str, network: str) -> list[Any]:
    """A third container's start on the exhausted range: dockerd's status and words."""
    api = docker.APIClient(base_url=host, version="1.41", timeout=30)
    try:
        net_id = api.inspect_network(network)["Id"]
        made = api.create_container("busybox", ["sleep", "300"], name="dy6-r3",
                                    host_config=api.create_host_config(network_mode=network))
        with pytest.raises(docker.errors.APIError) as refused:
            api.start(made["Id"])
        return [refused.value.status_code, str(refused.value.explanation).replace(net_id, "ID")]
    finally:
        api.close()


@contextlib.contextmanager
def _forwarding_off() -> Iterator[None]:
    """Both switched off for the test, put back as they were after it."""
    before = [Path(p).read_text() for p in FORWARDING]
    try:
        for path in FORWARDING:
            Path(path).write_text("0\n")
        yield
    finally:
        for path, value in zip(FORWARDING, before, strict=True):
            Path(path).write_text(value)


def test_an_ipv6_network_switches_ipv6_forwarding_on_as_dockerd(clean: dict[str, DockerCLI]) -> None:
    accept_ra = [Path(f"/proc/sys/net/ipv6/conf/{c}/accept_ra").read_text() for c in ("all", "default")]
    for side, cli in clean.items():
        _, _, subnet, _ = SIDES[side]
        with _forwarding_off():
            _ok(cli("network", "create", "dy6-fwd"))  # an IPv4 one: not yet
            assert [Path(p).read_text() for p in FORWARDING] == ["0\n", "0\n"], side
            cli("network", "rm", "dy6-fwd")
            _ok(cli("network", "create", "--ipv6", "--subnet", f"{subnet}/64", "dy6-fwd"))
            _ok(cli("run", "-d", "--name", "dy6-f", "--network", "dy6-fwd", "busybox", "sleep", "300"))
            assert [Path(p).read_text() for p in FORWARDING] == ["1\n", "1\n"], side
        assert [Path(f"/proc/sys/net/ipv6/conf/{c}/accept_ra").read_text()
                for c in ("all", "default")] == accept_ra
