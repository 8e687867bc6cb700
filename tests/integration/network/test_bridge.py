"""Bridge networking for real: busybox containers started by the launcher in the netns the
NetworkManager prepared, talking to each other, to a published port and to an "outside" netns
through NAT. Nothing leaves the machine."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nettestkit import Record, Running

from dockyard.network import nat, netlink
from dockyard.network.errors import PortAllocated
from dockyard.network.manager import NetworkManager
from dockyard.network.proxy import PortProxy, Published, Target, bind
from dockyard.testing.hostcaps import ipv6_listen
from dockyard.testing.httpwait import get_when_up


def _links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def _wait_gone(names: set[str], timeout: float = 8.0) -> set[str]:
    deadline = time.monotonic() + timeout
    while (left := names & _links()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


def _wait_ready(run: Running, url: str, timeout: float = 5.0) -> bytes:
    return get_when_up(url, timeout, alive=lambda: run.container.running)


def test_default_bridge_addresses_files_and_settings(manager: NetworkManager, record: Callable[..., Record],
                                                     start: Callable[..., Running]) -> None:
    rec = record(config={"Hostname": "box1"})
    manager.validate(rec)
    code, out = start(rec, "ip -o -4 addr show eth0; ip route; cat /etc/hosts /etc/hostname; "
                           "cat /sys/class/net/eth0/address").wait()
    assert code == 0, out
    s = rec.network_settings
    bridge = manager.find("bridge")
    assert s["IPAddress"] and s["IPAddress"] in out and f"/{s['IPPrefixLen']}" in out
    assert f"default via {bridge.gateway}" in out and s["Gateway"] == bridge.gateway
    a, b, c, d = (int(x) for x in s["IPAddress"].split("."))
    assert s["MacAddress"] == f"02:42:{a:02x}:{b:02x}:{c:02x}:{d:02x}" and s["MacAddress"] in out
    assert "127.0.0.1\tlocalhost" in out and f"{s['IPAddress']}\tbox1" in out
    assert s["Networks"]["bridge"]["NetworkID"] == bridge.id
    assert manager.inspect("bridge")["Containers"][rec.id]["IPv4Address"] == f"{s['IPAddress']}/{s['IPPrefixLen']}"
    # no transmit queue, as libnetwork makes a bridge
    assert Path(f"/sys/class/net/{bridge.bridge}/tx_queue_len").read_text() == "0\n"


def test_user_network_names_aliases_and_peer_updates(manager: NetworkManager, record: Callable[..., Record],
                                                     start: Callable[..., Running]) -> None:
    manager.create({"Name": "dyt-app", "IPAM": {"Config": [{"Subnet": "10.201.0.0/24"}]}})
    web = record("web", NetworkMode="dyt-app", networks={"dyt-app": {"Aliases": ["www"]}})
    manager.validate(web)
    server = start(web, "echo hi > /tmp/index.html; exec httpd -f -p 80 -h /tmp")
    client = record("client", NetworkMode="dyt-app")
    manager.validate(client)
    code, out = start(client, "ping -c1 -W2 web && ping -c1 -W2 www && wget -qO- http://www/").wait()
    assert code == 0, out
    assert "hi" in out and "10.201.0.2" in out
    # the server's /etc/hosts learnt about the client while it ran, and forgot it after
    hosts = (Path(web.dir) / "hosts").read_text()
    assert "client" in hosts
    manager.teardown(client)
    assert "client" not in (Path(web.dir) / "hosts").read_text()
    assert server.container.running
    assert web.network_settings["IPAddress"] == ""  # only the default bridge fills the top level
    assert web.network_settings["Networks"]["dyt-app"]["DNSNames"] == ["web", "www", web.id[:12]]


def test_published_port_on_loopback_and_conflict(manager: NetworkManager, record: Callable[..., Record],
                                                 start: Callable[..., Running]) -> None:
    rec = record(PortBindings={"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]},
                 config={"ExposedPorts": {"80/tcp": {}, "9/udp": {}}})
    manager.validate(rec)
    run = start(rec, "echo pong > /tmp/p; exec httpd -f -p 80 -h /tmp")
    ports = rec.network_settings["Ports"]
    assert ports["9/udp"] is None
    [binding] = ports["80/tcp"]
    assert binding["HostIp"] == "127.0.0.1" and int(binding["HostPort"]) > 0
    assert _wait_ready(run, f"http://127.0.0.1:{binding['HostPort']}/p") == b"pong\n"
    again = record(PortBindings={"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": binding["HostPort"]}]})
    manager.validate(again)
    with pytest.raises(PortAllocated, match=f"Bind for 127.0.0.1:{binding['HostPort']} failed: "
                                            "port is already allocated"):
        manager.setup(again)
    assert again.id not in manager.state.sandboxes and not os.path.exists(manager.netns_dir / again.id)
    manager.teardown(rec)
    assert manager.published_count() == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{binding['HostPort']}/p", timeout=1)


@pytest.fixture
def outside() -> Iterator[str]:
    """A netns standing for the world: 10.250.0.2/30 behind a veth, no route back to any bridge."""
    path = f"/run/dyt-outside-{os.getpid()}"
    inside = netlink.create_netns(path)
    assert inside is not None
    host = netlink.Netlink()
    try:
        subprocess.run(["ip", "link", "add", "dyt-out-h", "type", "veth", "peer", "name", "eth0",
                        "netns", path], check=True)
        subprocess.run(["ip", "addr", "add", "10.250.0.1/30", "dev", "dyt-out-h"], check=True)
        subprocess.run(["ip", "link", "set", "dyt-out-h", "up"], check=True)
        inside.configure("eth0", "10.250.0.2", 30, None)
        yield path
    finally:
        inside.close()
        host.delete_link("dyt-out-h")
        host.close()
        netlink.delete_netns(path)


def test_outbound_nat_reaches_outside(manager: NetworkManager, record: Callable[..., Record],
                                      start: Callable[..., Running], outside: str) -> None:
    rec = record()
    manager.validate(rec)
    code, out = start(rec, "ping -c1 -W2 10.250.0.2").wait()
    assert code == 0, out  # the outside has no route to the bridge: only MASQUERADE gets it back


def test_internal_network_has_no_way_out(manager: NetworkManager, record: Callable[..., Record],
                                         start: Callable[..., Running], outside: str) -> None:
    manager.create({"Name": "dyt-internal", "Internal": True})
    rec = record(NetworkMode="dyt-internal")
    manager.validate(rec)
    code, out = start(rec, "ip route; ping -c1 -W1 10.250.0.2").wait()
    assert code != 0 and "default" not in out


def test_none_and_host_modes(manager: NetworkManager, record: Callable[..., Record],
                             start: Callable[..., Running]) -> None:
    none = record(NetworkMode="none")
    manager.validate(none)
    code, out = start(none, "ls /sys/class/net; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags").wait()
    assert code == 0 and out.split()[:1] == ["lo"] and "eth0" not in out and "0x9" in out, out
    host = record(NetworkMode="host")
    manager.validate(host)
    code, out = start(host, "readlink /proc/self/ns/net").wait()
    assert code == 0 and out.strip() == os.readlink("/proc/self/ns/net")
    assert list(host.network_settings["Networks"]) == ["host"]


def test_teardown_leaves_nothing_and_is_idempotent(manager: NetworkManager, record: Callable[..., Record],
                                                   start: Callable[..., Running]) -> None:
    recs = [record(PortBindings={"8/tcp": [{}]}) for _ in range(3)]
    for rec in recs:
        manager.validate(rec)
        start(rec, "true").wait()
    made = {ep.host_if for ep in manager.state.endpoints.values()}
    assert _netns_mounts(manager.netns_dir) == 3
    assert len(made) == 3 and manager.published_count() == 3 * (2 if ipv6_listen() else 1)  # [::] too
    for rec in recs:
        manager.teardown(rec)
        manager.teardown(rec)
    assert not _wait_gone(made)
    assert os.listdir(f"/sys/class/net/{manager.find('bridge').bridge}/brif") == []
    assert _netns_mounts(manager.netns_dir) == 0 and not os.listdir(manager.netns_dir)
    assert manager.published_count() == 0 and not manager.state.endpoints


def _netns_mounts(where: Path) -> int:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return sum(1 for line in f if " nsfs " in line and str(where) in line)


def test_state_survives_a_restart(tmp_path: Path, manager: NetworkManager, record: Callable[..., Record]) -> None:
    manager.create({"Name": "dyt-keep", "Labels": {"a": "b"}})
    rec = record(NetworkMode="dyt-keep", PortBindings={"80/tcp": [{"HostIp": "127.0.0.1"}]})
    manager.validate(rec)
    manager.setup(rec)
    ip, port = rec.network_settings["Networks"]["dyt-keep"]["IPAddress"], rec.network_settings["Ports"]["80/tcp"][0]["HostPort"]
    bridge = manager.find("bridge")
    manager.close()
    again = NetworkManager(tmp_path / "data", bridge=bridge.bridge)
    try:
        assert again.find("bridge").id == bridge.id and again.find("dyt-keep").labels == {"a": "b"}
        assert again.inspect("dyt-keep")["Containers"][rec.id]["IPv4Address"].startswith(ip + "/")
        assert again.published_count() == 1  # the proxy is back on the same port
        other = record(NetworkMode="dyt-keep")
        again.validate(other)
        again.setup(other)
        assert other.network_settings["Networks"]["dyt-keep"]["IPAddress"] != ip
        again.teardown(other)
        again.teardown(rec)
        assert not again.state.endpoints and int(port) > 0
    finally:
        again.close()
    manager.state = again.state  # the fixture removes what the second daemon knew


def test_rules_tagged_per_network(manager: NetworkManager) -> None:
    made = manager.create({"Name": "dyt-rules"})["Id"]
    tag = f"dockyard:br-{made[:12]} "
    assert len(nat.rules_tagged("nat", tag)) == 1 and len(nat.rules_tagged("filter", tag)) == 2
    nat.install(manager.find("dyt-rules").subnet, f"br-{made[:12]}", False)  # a second daemon
    assert len(nat.rules_tagged("nat", tag)) == 1 and len(nat.rules_tagged("filter", tag)) == 2
    manager.remove("dyt-rules")
    assert not nat.rules_tagged("nat", tag) and not nat.rules_tagged("filter", tag)




def test_publish_all_exposed_ports(manager: NetworkManager, record: Callable[..., Record],
                                   start: Callable[..., Running]) -> None:
    rec = record(PublishAllPorts=True, config={"ExposedPorts": {"80/tcp": {}}})
    manager.validate(rec)
    run = start(rec, "echo all > /tmp/a; exec httpd -f -p 80 -h /tmp")
    [binding, *twin] = rec.network_settings["Ports"]["80/tcp"]
    assert binding["HostIp"] == "0.0.0.0" and int(binding["HostPort"]) > 0
    assert _wait_ready(run, f"http://127.0.0.1:{binding['HostPort']}/a") == b"all\n"
    # dockerd binds [::] on the same port beside 0.0.0.0 when no host IP is given
    assert twin == ([{"HostIp": "::", "HostPort": binding["HostPort"]}] if ipv6_listen() else [])
    if twin:
        assert _wait_ready(run, f"http://[::1]:{binding['HostPort']}/a") == b"all\n"



def test_udp_proxy_round_trip() -> None:
    """busybox has no UDP server applet: the forwarder is exercised against a host echo socket."""
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 0))
    proxy = PortProxy()
    pub = Published("udp", "127.0.0.1", 0, echo.getsockname()[1], bind("udp", "127.0.0.1", 0))
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(5)
    try:
        proxy.start(pub, Target("127.0.0.1"))
        client.sendto(b"ping", pub.sock.getsockname())
        data, peer = echo.recvfrom(100)
        echo.sendto(data.upper(), peer)
        assert client.recv(100) == b"PING"
    finally:
        proxy.stop(pub)
        proxy.close()
        client.close()
        echo.close()
    assert pub.sock.fileno() == -1


def _addresses6(ifname: str) -> set[str]:
    out = subprocess.run(["ip", "-6", "-o", "addr", "show", "dev", ifname], capture_output=True,
                         text=True, check=True).stdout
    return {line.split()[3] for line in out.splitlines()}


def test_ipv6_network_survives_a_restart_and_releases_its_addresses(
        tmp_path: Path, manager: NetworkManager, record: Callable[..., Record],
        start: Callable[..., Running]) -> None:
    """A container's eth0 has its IPv6 address at once (no duplicate address detection: a
    tentative address refuses a bind) and the default route; teardown frees the address; the
    bridge gets its IPv6 gateway (and fe80::1) back when the next daemon remakes it."""
    manager.create({"Name": "dyt-six", "EnableIPv6": True,
                    "IPAM": {"Config": [{"Subnet": "fd00:d1a:7::/64"}]}})
    bridge = manager.find("dyt-six").bridge
    assert {"fd00:d1a:7::1/64", "fe80::1/64"} <= _addresses6(bridge)
    rec = record(NetworkMode="dyt-six")
    manager.validate(rec)
    code, out = start(rec, "ip -6 -o addr show dev eth0; ip -6 route show default; "
                           "httpd -p '[fd00:d1a:7::2]:7' && echo bound").wait()
    assert code == 0, out
    [global6] = [line for line in out.splitlines() if "inet6 fd00:d1a:7::2/64 scope global" in line]
    assert "tentative" not in global6
    assert "default via fd00:d1a:7::1 dev eth0" in out and "bound" in out
    assert rec.network_settings["Networks"]["dyt-six"]["GlobalIPv6Address"] == "fd00:d1a:7::2"
    manager.teardown(rec)
    assert not manager.state.endpoints
    manager.close()  # no container left: the bridge goes
    assert not os.path.exists(f"/sys/class/net/{bridge}")
    again = NetworkManager(tmp_path / "data", bridge=manager.find("bridge").bridge)
    manager.state = again.state  # the fixture removes what the second daemon knew
    try:
        assert {"fd00:d1a:7::1/64", "fe80::1/64"} <= _addresses6(bridge)
        other = record(NetworkMode="dyt-six")
        again.validate(other)
        again.setup(other)
        assert other.network_settings["Networks"]["dyt-six"]["GlobalIPv6Address"] == "fd00:d1a:7::2"
        again.teardown(other)
    finally:
        again.close()


def test_default_bridge_ipv6_follows_the_daemons_flags(tmp_path: Path, manager: NetworkManager,
                                                        record: Callable[..., Record]) -> None:
    """``--fixed-cidr-v6`` alone: the subnet shown, no addresses (dockerd 20.10's); with
    ``--ipv6``: the bridge holds the pool's first address, a container the one its MAC makes,
    at the top of NetworkSettings too; without them again the bridge comes back without it."""
    bridge, cidr = manager.find("bridge").bridge, "fd00:d1a:8::/64"
    manager.close()
    seen = []
    for flags in ({"fixed_cidr_v6": cidr}, {"ipv6": True, "fixed_cidr_v6": cidr}, {}):
        again = NetworkManager(tmp_path / "data", bridge=bridge, **flags)
        manager.state = again.state  # the fixture removes what the last daemon knew
        try:
            rec = record()
            again.validate(rec)
            again.setup(rec)
            s = rec.network_settings
            info = again.inspect("bridge")
            seen.append((info["EnableIPv6"], info["IPAM"]["Config"][1:], s["GlobalIPv6Address"],
                         s["Networks"]["bridge"]["GlobalIPv6Address"], s["IPv6Gateway"],
                         s["GlobalIPv6PrefixLen"], "fd00:d1a:8::1/64" in _addresses6(bridge),
                         s["MacAddress"]))
            again.teardown(rec)
        finally:
            again.close()
    mac = seen[1][-1].replace(":", "")
    mine = f"fd00:d1a:8::{int(mac[:4], 16):x}:{int(mac[4:8], 16):x}:{int(mac[8:], 16):x}"
    assert [row[:-1] for row in seen] == [
        (False, [{"Subnet": cidr}], "", "", "", 0, False),
        (True, [{"Subnet": cidr}], mine, mine, "fd00:d1a:8::1", 64, True),
        (False, [], "", "", "", 0, False)]
