"""IPv6 on user-defined bridge networks, through the docker CLI 28 and docker-py, side by side
with a private dockerd 20.10 (each daemon on its own IPv6 subnets: two bridges routing one
prefix would steal each other's traffic).

dockerd 20.10's behaviour, recorded here: ``--ipv6`` needs an IPv6 ``--subnet`` (404, its
default pools are IPv4), beside which an IPv4 subnet is picked as usual; the IPv6 pool's gateway
is its first address unless given, and inspect shows only a given one; a container gets the
lowest free address (``--ip6`` picks one), its /etc/hosts a second line with its IPv6 address,
``IPv6Gateway``/``GlobalIPv6Address``/``GlobalIPv6PrefixLen`` on its network's entry (the
top-level ones stay empty: they are the default bridge's); the bridge holds the gateway and
fe80::1; no ip6tables rules (no outbound NAT) without dockerd's experimental ``--ip6tables``;
a published port's ``[::]`` side is proxied to the container's IPv6 address. With an
``--ip-range`` and no ``--gateway``, the gateway is the range's first address the allocator does
not hold (IPv4 and IPv6 alike: 10.0.0.64 for 10.0.0.64/26, 10.0.0.1 for 10.0.0.0/25); a
container gets the lowest free address of the range, its first one when the gateway is given.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from dockyard.testing.daemon import DockerCLI
from dockyard.testing.dockerd import Dockerd

SUBNETS = {"dockyard": ("fd00:d1a:1::", "fd00:d1a:2::", "10.253.61."),
           "dockerd": ("fd00:d0c:1::", "fd00:d0c:2::", "10.253.62.")}
"""Per daemon: the plain IPv6 network's prefix, the dual-stack one's, its IPv4 /24."""
NO_POOL = ("Error response from daemon: could not find an available, non-overlapping IPv6 "
           "address pool among the defaults to assign to the network\n")


@pytest.fixture
def sides(dockyard_daemon: Any, dockyard_client: Any, busybox_image: str,
          dockerd: Dockerd) -> Iterator[dict[str, DockerCLI]]:
    """The docker CLI against each daemon; what a test made is removed after it (dockerd's
    networks before it stops: it leaves their bridges on the host)."""
    clis = {"dockyard": DockerCLI(dockyard_daemon.host), "dockerd": DockerCLI(dockerd.host)}
    before = {name: _ids(cli) for name, cli in clis.items()}
    yield clis
    for name, cli in clis.items():
        containers, networks = _ids(cli)
        for cid in containers - before[name][0]:
            cli("rm", "-f", cid)
        for nid in networks - before[name][1]:
            cli("network", "rm", nid)


def _ids(cli: DockerCLI) -> tuple[set[str], set[str]]:
    return (set(cli("ps", "-aq", "--no-trunc").stdout.split()),
            set(cli("network", "ls", "-q", "--no-trunc").stdout.split()))


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _inspect(cli: DockerCLI, name: str) -> Any:
    return json.loads(_ok(cli("inspect", name)))[0]


def _network(cli: DockerCLI, name: str) -> dict[str, Any]:
    return dict(json.loads(_ok(cli("network", "inspect", name)))[0])


def _bridge_addresses(name: str) -> set[str]:
    out = subprocess.run(["ip", "-6", "-o", "addr", "show", "dev", name], capture_output=True,
                         text=True, check=True).stdout
    return {line.split()[3] for line in out.splitlines()}


def test_create_and_inspect_an_ipv6_network_as_dockerd(sides: dict[str, DockerCLI]) -> None:
    seen: dict[str, Any] = {}
    for side, cli in sides.items():
        v6, dual, v4 = SUBNETS[side]
        none = cli("network", "create", "--ipv6", "dy6-nopool")
        assert none.returncode == 1
        v4only = cli("network", "create", "--ipv6", "--subnet", f"{v4}0/24", "dy6-v4only")
        _ok(cli("network", "create", "--ipv6", "--subnet", f"{v6}/64", "dy6-plain"))
        _ok(cli("network", "create", "--ipv6", "--subnet", f"{v4}0/24", "--subnet", f"{dual}/64",
                "--gateway", f"{v4}254", "--gateway", f"{dual}fe", "--ip-range", f"{dual}100/120",
                "dy6-dual"))
        overlap = cli("network", "create", "--ipv6", "--subnet", f"{v6}/80", "dy6-overlap")
        plain, dualnet = _network(cli, "dy6-plain"), _network(cli, "dy6-dual")
        [v4auto, v6config] = plain["IPAM"]["Config"]
        assert v4auto["Subnet"] and v4auto["Gateway"]  # an IPv4 subnet picked beside it
        seen[side] = (none.stderr, v4only.stderr, overlap.stderr, plain["EnableIPv6"], v6config,
                      dualnet["EnableIPv6"], dualnet["IPAM"]["Config"])
        bridge = f"br-{dualnet['Id'][:12]}"
        assert {f"{dual}fe/64", "fe80::1/64"} <= _bridge_addresses(bridge), side
        rules = subprocess.run(["ip6tables-save"], capture_output=True, text=True, check=True)
        assert dual not in rules.stdout  # no NAT (nor any rule) for the IPv6 subnet
    v6, dual, v4 = SUBNETS["dockyard"]
    assert seen["dockyard"] == (
        NO_POOL, NO_POOL,
        "Error response from daemon: Pool overlaps with other one on this address space\n",
        True, {"Subnet": f"{v6}/64"}, True,
        [{"Subnet": f"{v4}0/24", "Gateway": f"{v4}254"},
         {"Subnet": f"{dual}/64", "IPRange": f"{dual}100/120", "Gateway": f"{dual}fe"}])
    mine = json.dumps(seen["dockyard"])
    for old, new in zip(SUBNETS["dockyard"], SUBNETS["dockerd"], strict=True):
        mine = mine.replace(old, new)
    assert json.loads(mine) == json.loads(json.dumps(seen["dockerd"]))


def test_ipv6_refusals_in_dockerds_words(dockyard_daemon: Any, dockerd: Dockerd) -> None:
    """Through the API (the CLI checks a gateway's subnet itself): status and message."""
    for host in (dockyard_daemon.host, dockerd.host):
        api = docker.APIClient(base_url=host, version="1.41", timeout=30)
        try:
            nopool = api._post_json(api._url("/networks/create"),
                                    data={"Name": "dy6-x", "EnableIPv6": True})
            assert (nopool.status_code, nopool.json()["message"]) == (404, (
                "could not find an available, non-overlapping IPv6 address pool among the "
                "defaults to assign to the network")), host
            gateway = api._post_json(api._url("/networks/create"), data={
                "Name": "dy6-x", "EnableIPv6": True,
                "IPAM": {"Config": [{"Subnet": "fd00:d1b:1::/64", "Gateway": "fd00:d1b:2::1"}]}})
            assert (gateway.status_code, gateway.json()["message"]) == (
                500, "failed to allocate gateway (fd00:d1b:2::1): Requested address is out of range"), host
            assert "dy6-x" not in {n["Name"] for n in api.networks()}
        finally:
            api.close()


def _run(cli: DockerCLI, name: str, *args: str) -> str:
    return _ok(cli("run", "-d", "--name", name, *args))


def test_containers_get_ipv6_addresses_and_reach_each_other(sides: dict[str, DockerCLI]) -> None:
    seen: dict[str, Any] = {}
    for side, cli in sides.items():
        v6, dual, v4 = SUBNETS[side]
        _ok(cli("network", "create", "--ipv6", "--subnet", f"{v6}/64", "dy6-plain"))
        _ok(cli("network", "create", "--ipv6", "--subnet", f"{v4}0/24", "--subnet", f"{dual}/64",
                "--gateway", f"{dual}fe", "--ip-range", f"{dual}100/120", "dy6-dual"))
        one = _run(cli, "dy6-one", "--network", "dy6-plain", "busybox", "sleep", "300")
        two = _run(cli, "dy6-two", "--network", "dy6-plain", "--ip6", f"{v6}77", "busybox", "sleep", "300")
        three = _run(cli, "dy6-three", "--network", "dy6-dual", "busybox", "sleep", "300")
        taken = cli("run", "-d", "--name", "dy6-taken", "--network", "dy6-plain", "--ip6", f"{v6}77",
                    "busybox", "sleep", "300")
        outside = cli("run", "-d", "--name", "dy6-outside", "--network", "dy6-dual", "--ip6", f"{v6}5",
                      "busybox", "sleep", "300")
        settings = {cid: _inspect(cli, cid)["NetworkSettings"] for cid in (one, two, three)}
        entries = [(next(iter(s["Networks"].values())), s) for s in settings.values()]
        facts = [({k: e[k] for k in ("IPv6Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen")},
                  {k: s[k] for k in ("GlobalIPv6Address", "GlobalIPv6PrefixLen", "IPv6Gateway")})
                 for e, s in entries]
        hosts = _ok(cli("exec", one, "cat", "/etc/hosts")).splitlines()[6:8]  # after localhost
        ipv4 = settings[one]["Networks"]["dy6-plain"]["IPAddress"]
        route = _ok(cli("exec", one, "ip", "-6", "route", "show", "default"))
        by_address = cli("exec", one, "ping", "-6", "-c", "1", "-W", "5", f"{v6}77")
        by_name = cli("exec", one, "ping", "-6", "-c", "1", "-W", "5", "dy6-two")
        to_gateway = cli("exec", three, "ping", "-6", "-c", "1", "-W", "5", f"{dual}fe")
        members = {c["Name"]: c["IPv6Address"] for c in _network(cli, "dy6-plain")["Containers"].values()}
        seen[side] = (facts, hosts == [f"{ipv4}\t{one[:12]}", f"{v6}2\t{one[:12]}"], route.split()[:5],
                      by_address.returncode, by_name.returncode, by_name.stdout.splitlines()[:1],
                      to_gateway.returncode, members, taken.stderr.splitlines()[:1],
                      outside.stderr.splitlines()[:1])
        for cid in (one, two):
            _ok(cli("rm", "-f", cid))
        again = _run(cli, "dy6-again", "--network", "dy6-plain", "busybox", "sleep", "300")
        assert _inspect(cli, again)["NetworkSettings"]["Networks"]["dy6-plain"]["GlobalIPv6Address"] == f"{v6}2"
        _ok(cli("rm", "-f", again, three))
        assert _network(cli, "dy6-plain")["Containers"] == {}
    v6, dual, v4 = SUBNETS["dockyard"]
    empty = {"GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPv6Gateway": ""}
    assert seen["dockyard"] == (
        [({"IPv6Gateway": f"{v6}1", "GlobalIPv6Address": f"{v6}2", "GlobalIPv6PrefixLen": 64}, empty),
         ({"IPv6Gateway": f"{v6}1", "GlobalIPv6Address": f"{v6}77", "GlobalIPv6PrefixLen": 64}, empty),
         ({"IPv6Gateway": f"{dual}fe", "GlobalIPv6Address": f"{dual}100", "GlobalIPv6PrefixLen": 64},
          empty)],
        True, ["default", "via", f"{v6}1", "dev", "eth0"], 0, 0, [f"PING dy6-two ({v6}77): 56 data bytes"],
        0, {"dy6-one": f"{v6}2/64", "dy6-two": f"{v6}77/64"},
        ["docker: Error response from daemon: Address already in use"],
        [(f"docker: Error response from daemon: Invalid address {v6}5: It does not belong to any "
          "of this network's subnets")])
    mine = json.dumps(seen["dockyard"])
    for old, new in zip(SUBNETS["dockyard"], SUBNETS["dockerd"], strict=True):
        mine = mine.replace(old, new)
    assert json.loads(mine) == json.loads(json.dumps(seen["dockerd"]))


def test_connect_with_ip6_and_disconnect(sides: dict[str, DockerCLI]) -> None:
    """``network connect --ip6`` to a running container: eth1 gets it; disconnect releases it."""
    for side, cli in sides.items():
        v6, _dual, _v4 = SUBNETS[side]
        _ok(cli("network", "create", "--ipv6", "--subnet", f"{v6}/64", "dy6-plain"))
        _ok(cli("network", "create", "dy6-base"))
        cid = _run(cli, "dy6-joiner", "--network", "dy6-base", "busybox", "sleep", "300")
        _ok(cli("network", "connect", "--ip6", f"{v6}99", "dy6-plain", cid))
        addrs = _ok(cli("exec", cid, "ip", "-6", "-o", "addr", "show", "dev", "eth1"))
        assert f"inet6 {v6}99/64 scope global" in addrs, side
        assert _network(cli, "dy6-plain")["Containers"][cid]["IPv6Address"] == f"{v6}99/64"
        _ok(cli("network", "disconnect", "dy6-plain", cid))
        _ok(cli("network", "connect", "--ip6", f"{v6}99", "dy6-plain", cid))  # free again
        _ok(cli("rm", "-f", cid))


def _fetch(host: str, port: int) -> bytes:
    """One HTTP GET through the published port (retried while the server starts)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            with contextlib.closing(socket.create_connection((host, port), timeout=5)) as conn:
                conn.sendall(b"GET /i HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := conn.recv(4096):
                    data += chunk
            if data:
                return data.split(b"\r\n\r\n", 1)[-1]
        except OSError:
            pass
        if time.monotonic() > deadline:
            return b""
        time.sleep(0.1)


def test_published_port_answers_on_ipv6_loopback_through_the_ipv6_address(
        sides: dict[str, DockerCLI]) -> None:
    """A server listening on the container's IPv6 address alone answers at ``[::1]:port``:
    the ``[::]`` side of the port goes to that address, as dockerd's docker-proxy."""
    for side, cli in sides.items():
        v6, _dual, _v4 = SUBNETS[side]
        _ok(cli("network", "create", "--ipv6", "--subnet", f"{v6}/64", "dy6-plain"))
        cid = _run(cli, "dy6-web", "--network", "dy6-plain", "--ip6", f"{v6}80", "-p", "80",
                   "busybox", "sh", "-c", f"echo six > /tmp/i; exec httpd -f -p '[{v6}80]:80' -h /tmp")
        ports = _ok(cli("port", cid, "80")).splitlines()
        port = int(ports[0].rsplit(":", 1)[1])
        assert ports == [f"0.0.0.0:{port}", f"[::]:{port}"], side
        assert _fetch("::1", port) == b"six\n", side
        _ok(cli("rm", "-f", cid))


RANGES = {"dockyard": ("10.253.63.", "10.253.65.", "10.253.67.", "fd00:d1a:3::"),
          "dockerd": ("10.253.64.", "10.253.66.", "10.253.68.", "fd00:d0c:3::")}
"""Per daemon: three IPv4 /24s and an IPv6 /64 for the ranges' networks."""
SHOW_ADDRESSES = ("ip -o addr show eth0 scope global | awk '{print $4}'; ip route | grep default; "
                  "ip -6 route | grep default | cut -d' ' -f1-3")


def test_a_ranges_first_address_is_the_gateway_unless_one_is_given(sides: dict[str, DockerCLI]) -> None:
    seen: dict[str, list[str]] = {}
    for side, cli in sides.items():
        v4, given, first, v6 = RANGES[side]
        _ok(cli("network", "create", "--ipv6", "--subnet", f"{v4}0/24", "--ip-range", f"{v4}64/26",
                "--subnet", f"{v6}/64", "--ip-range", f"{v6}100/120", "dy6-ranges"))
        _ok(cli("network", "create", "--subnet", f"{given}0/24", "--gateway", f"{given}1",
                "--ip-range", f"{given}64/26", "dy6-range-gw"))
        _ok(cli("network", "create", "--subnet", f"{first}0/24", "--ip-range", f"{first}0/25",
                "dy6-range-first"))
        text = "\n".join(_ok(cli("run", "--rm", "--pull", "never", "--network", network, "busybox",
                                 "sh", "-c", SHOW_ADDRESSES))
                         for network in ("dy6-ranges", "dy6-range-gw", "dy6-range-first"))
        for prefix, name in ((v4, "V4."), (given, "GIVEN."), (first, "FIRST."), (v6, "V6::")):
            text = text.replace(prefix, name)
        seen[side] = [line.rstrip() for line in text.splitlines()]
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"] == [
        "V4.65/24", "V6::101/64", "default via V4.64 dev eth0", "default via V6::100",
        "GIVEN.64/24", "default via GIVEN.1 dev eth0",
        "FIRST.2/24", "default via FIRST.1 dev eth0"]
