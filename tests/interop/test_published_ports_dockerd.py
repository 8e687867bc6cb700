"""Published ports from a raw create (docker-py's low-level client, the raw API), side by side
with a private dockerd 20.10 — what the docker CLI never sends, since it puts a ``-p`` port in
both ``Config.ExposedPorts`` and ``HostConfig.PortBindings``:

- ``PortBindings`` stored and shown as Go's ``nat.PortMap`` (sorted keys, each binding with
  ``HostIp`` and ``HostPort``, nothing else);
- a port is published only under an ``ExposedPorts`` key of the very same string (``80/TCP``
  or ``80/`` bound while ``80/tcp`` is exposed, a binding nothing exposes: nothing), a null or
  empty binding list publishes nothing but under ``-P``; odd exposed keys as libnetwork gives
  them back (``80/foo`` → ``80/0``, ``abc/tcp`` → ``0/tcp``) — in inspect, ``docker ps`` and
  ``docker port``, running, restarted, and after a daemon restart;
- a create's refusals name a key's port part alone, and the keys dockerd takes (``0/tcp``,
  ``80/foo``, ``/tcp``, ``80/``, ``80/sctp``);
- the starts that fail on them (``invalid transport protocol: 0``; an SCTP port on a kernel
  without SCTP: ``Error starting userland proxy: protocol not supported``), leaving nothing
  behind: no veth, netns, NAT rule or listening port.

Each daemon runs in a network namespace of its own (a named one, kept across a daemon
restart), with its default bridge: host ports, links and rules are its own and compared with
``ip -n``/``ss -N``. Ephemeral host ports differ between the daemons and are written as EPH.
No case exposes keys some of which have bindings and some not: dockerd 20.10's
``nat.SortPortMap`` then rewrites its list of exposed ports over itself in Go's map order, so
a port may be published twice and another dropped, differently from one start to the next.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from dockyard.testing.daemon import DaemonProcess, DockerCLI
from dockyard.testing.dockerd import (
    Dockerd,
    load_busybox,
    restart_dockerd,
    skip_unless_root,
    start_dockerd,
    stop_dockerd,
)

pytestmark = pytest.mark.slow

NETNS = {"dockyard": "dyports-dy", "dockerd": "dyports-dk"}


def _in_netns(name: str) -> list[str]:
    return ["nsenter", f"--net=/run/netns/{name}", "--"]


class _NetnsDaemon(DaemonProcess):
    """A dockyard daemon in a named network namespace (``nsenter`` execs it: the pid is the
    daemon's), so a restart finds its bridge and its containers' veths again."""

    def command(self) -> list[str]:
        return [*_in_netns(NETNS["dockyard"]), *super().command()]


@pytest.fixture(scope="module")
def daemons(busybox_archive: Path) -> Iterator[tuple[DaemonProcess, Dockerd]]:
    skip_unless_root()
    for name in NETNS.values():
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "add", name], check=True)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
    dockyard = _NetnsDaemon(None, log_level="warn")
    dockerd = None
    try:
        dockerd = start_dockerd(wrapper=tuple(_in_netns(NETNS["dockerd"])), bridge=True)
        load_busybox(dockerd)
        dockyard.start().load(busybox_archive)
        for host in (dockerd.host, dockyard.host):
            # dockyard's bridge, its rules and its pins come with a first start (dockerd's
            # bridge with the daemon): every test, in any order, finds them there
            ran = DockerCLI(host)("run", "--rm", "--pull", "never", "busybox", "true")
            assert ran.returncode == 0, ran.stderr
        yield dockyard, dockerd
    finally:
        dockyard.cleanup()
        if dockerd is not None:
            stop_dockerd(dockerd)
        for name in NETNS.values():
            subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture
def both(daemons: tuple[DaemonProcess, Dockerd]) -> Iterator[dict[str, tuple[DockerCLI, Any]]]:
    """name → (docker CLI, docker-py low-level client at API 1.41); containers go after."""
    dockyard, dockerd = daemons
    sides = {"dockerd": dockerd.host, "dockyard": dockyard.host}
    out = {name: (DockerCLI(host), docker.APIClient(base_url=host, version="1.41", timeout=30))
           for name, host in sides.items()}
    yield out
    for _cli, api in out.values():
        for c in api.containers(all=True):
            api.remove_container(c["Id"], force=True)
        api.close()


def _create(api: Any, exposed: Any, bindings: Any, publish_all: bool = False,
            name: str = "ports", stop_signal: str | None = None, **host: Any) -> tuple[int, Any]:
    body: dict[str, Any] = {"Image": "busybox", "Cmd": ["sleep", "300"],
                            "HostConfig": {"PortBindings": bindings, "PublishAllPorts": publish_all,
                                           **host}}
    if stop_signal is not None:
        body["StopSignal"] = stop_signal
    if exposed is not None:
        body["ExposedPorts"] = exposed
    response = api._post_json(api._url("/containers/create"), data=body, params={"name": name})
    return response.status_code, response.json()


def _raw_inspect(api: Any, name: str) -> Any:
    """inspect's JSON with its keys in the order the daemon wrote them."""
    text = api._get(api._url("/containers/{0}/json", name)).text
    return json.loads(text, object_pairs_hook=lambda pairs: [list(p) for p in pairs])


def _eph(value: Any) -> Any:
    """Ephemeral host ports (the kernel's range, from 32768) as EPH, ids as ID."""
    text = re.sub(r"[0-9a-f]{64}", "ID", json.dumps(value))
    return json.loads(re.sub(r"(?<![0-9])(3[2-9][0-9]{3}|[4-5][0-9]{4}|60[0-9]{3})(?![0-9])", "EPH",
                             text))


def _shown(cli: DockerCLI, api: Any, name: str = "ports") -> list[Any]:
    """What a user sees of a container's ports: inspect, docker ps, docker port."""
    inspected = api.inspect_container(name)
    ports = inspected["NetworkSettings"]["Ports"]
    ps = cli("ps", "-a", "--filter", f"id={inspected['Id']}", "--format", "{{.Ports}}")
    port = cli("port", name)
    return _eph([ports, ps.stdout.strip(), port.returncode, sorted(port.stdout.splitlines())])


def test_port_bindings_are_shown_as_gos_struct(both: dict[str, tuple[DockerCLI, Any]]) -> None:
    """dockerd decodes PortBindings into nat.PortMap: a missing HostIp or HostPort is "", an
    unknown key is gone, keys come back sorted, a null or empty list as sent."""
    bindings = {"83/tcp": [{"HostIp": "127.0.0.1"}], "81/tcp": [{"HostPort": "", "Foo": 1}],
                "82/tcp": None, "80/tcp": [], "84/udp": [{}, {"HostPort": "8084"}]}
    seen = {}
    for side, (_cli, api) in both.items():
        status, _ = _create(api, {"80/tcp": {}}, bindings)
        assert status == 201
        seen[side] = dict(_raw_inspect(api, "ports"))["HostConfig"]
        seen[side] = dict(seen[side])["PortBindings"]
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"] == [
        ["80/tcp", []], ["81/tcp", [[["HostIp", ""], ["HostPort", ""]]]], ["82/tcp", None],
        ["83/tcp", [[["HostIp", "127.0.0.1"], ["HostPort", ""]]]],
        ["84/udp", [[["HostIp", ""], ["HostPort", ""]], [["HostIp", ""], ["HostPort", "8084"]]]]]


BOUND = {"HostPort": ""}
CASES = {
    # a binding under another spelling of the exposed key, or none exposed: nothing published
    "80/TCP bound, 80/tcp exposed": ({"80/tcp": {}}, {"80/TCP": [BOUND]}, False),
    "80/ bound, 80/tcp exposed": ({"80/tcp": {}}, {"80/": [BOUND]}, False),
    "bound, nothing exposed": (None, {"80/tcp": [BOUND]}, False),
    "/tcp bound, nothing exposed": (None, {"/tcp": [BOUND]}, False),
    # the same string on both sides: published, shown as libnetwork reads the key
    "80/TCP both": ({"80/TCP": {}}, {"80/TCP": [BOUND]}, False),
    "80/ both": ({"80/": {}}, {"80/": [BOUND]}, False),
    "80 both": ({"80": {}}, {"80": [BOUND]}, False),
    "080/tcp both": ({"080/tcp": {}}, {"080/tcp": [BOUND]}, False),
    "80/tcp/x both": ({"80/tcp/x": {}}, {"80/tcp/x": [BOUND]}, False),
    "0/tcp both": ({"0/tcp": {}}, {"0/tcp": [BOUND]}, False),
    "a host port with a /proto": ({"80/tcp": {}}, {"80/tcp": [{"HostPort": "18081/udp"}]}, False),
    "a host address Go cannot read": ({"80/tcp": {}},
                                      {"80/tcp": [{"HostIp": "bogus", "HostPort": "18082"}]}, False),
    # null and empty lists: nothing, unless -P
    "null list": ({"80/tcp": {}}, {"80/tcp": None}, False),
    "empty list": ({"80/tcp": {}}, {"80/tcp": []}, False),
    "null list, -P": ({"80/tcp": {}}, {"80/tcp": None}, True),
    "empty list, -P": ({"80/tcp": {}}, {"80/tcp": []}, True),
    # odd exposed keys: listed as libnetwork gives them back, -P publishes them
    "odd exposed keys": ({"80/TCP": {}, "81/": {}, "82/foo": {}, "/tcp": {}, "abc/tcp": {},
                          " 84/tcp": {}, "99999/udp": {}, "85/sctp": {}, "86/icmp": {}}, None, False),
    "80/TCP exposed, -P": ({"80/TCP": {}}, None, True),
    "80/ exposed, -P": ({"80/": {}}, None, True),
    "abc/tcp exposed, -P": ({"abc/tcp": {}}, None, True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_port_is_published_under_its_exposed_key_alone(
        both: dict[str, tuple[DockerCLI, Any]], case: str) -> None:
    exposed, bindings, publish_all = CASES[case]
    seen = {}
    for side, (cli, api) in both.items():
        status, body = _create(api, exposed, bindings, publish_all)
        assert status == 201, body
        created = _shown(cli, api)
        api.start("ports")
        running = _shown(cli, api)
        api.stop("ports", timeout=0)
        seen[side] = [created, running, _shown(cli, api)]
        api.remove_container("ports", force=True)
    assert seen["dockyard"] == seen["dockerd"]
    if case in ("80/TCP bound, 80/tcp exposed", "null list"):
        assert seen["dockerd"][1][:2] == [{"80/tcp": None}, "80/tcp"]
    if case == "bound, nothing exposed":
        assert seen["dockerd"][1][:2] == [{}, ""]


def test_published_ports_across_restarts(daemons: tuple[DaemonProcess, Dockerd],
                                         both: dict[str, tuple[DockerCLI, Any]]) -> None:
    """A docker restart and a daemon restart (dockerd's stops its containers: they are started
    again) publish what the first start did, under the same keys: ``-P`` over odd exposed keys,
    and bindings under keys nothing exposes as written."""
    made = {"ports": ({"80/TCP": {}, "81/": {}, "abc/tcp": {}, "84/udp": {}}, None, True),
            "bound": ({"80/tcp": {}}, {"80/TCP": [{"HostIp": "127.0.0.1"}], "81/tcp": [BOUND]}, False)}
    seen: dict[str, list[Any]] = {}
    for side, (cli, api) in both.items():
        for name, (exposed, bindings, publish_all) in made.items():
            # dockerd's stop gives a running container its stop timeout (10 s: a sleep as PID 1
            # ignores SIGTERM) before SIGKILL; with SIGKILL as its stop signal it goes at once
            assert _create(api, exposed, bindings, publish_all, name, stop_signal="SIGKILL")[0] == 201
            api.start(name)
        seen[side] = [[_shown(cli, api, name) for name in made]]
        for name in made:
            api.restart(name, timeout=0)
        seen[side].append([_shown(cli, api, name) for name in made])
    dockyard, dockerd = daemons
    dockyard.restart()
    restart_dockerd(dockerd)
    for side, (cli, api) in both.items():
        for name in made:
            if not api.inspect_container(name)["State"]["Running"]:
                api.start(name)
        seen[side].append([_shown(cli, api, name) for name in made])
    assert seen["dockyard"] == seen["dockerd"]
    assert sorted(seen["dockerd"][2][0][0]) == ["0/tcp", "80/tcp", "81/tcp", "84/udp"]
    assert seen["dockerd"][2][1][0] == {"80/tcp": None}


BAD_KEYS = ["99999/tcp", "99999", "abc/tcp", "80-81/tcp", "81-80/tcp", " 80/tcp", "-1/tcp",
            "+80/tcp", "65536", "８０/tcp"]
BAD_HOST_PORTS = ["abc", "70000", "18081-18080", "-1", " 18080", "18080-", "-18080"]
TAKEN_KEYS = ["0/tcp", "80/foo", "/tcp", "80/", "80/sctp", "80/icmp", "80/tcp/x", "080"]


@pytest.mark.parametrize("key", BAD_KEYS + [f"hostport {p}" for p in BAD_HOST_PORTS] + TAKEN_KEYS)
def test_a_create_takes_or_refuses_a_binding_as_dockerd(
        both: dict[str, tuple[DockerCLI, Any]], key: str) -> None:
    """dockerd's validatePortBindings: the key's port part alone, quoted as Go's %q, then
    each HostPort; the protocol is not looked at."""
    host_port = key.partition(" ")[2] if key.startswith("hostport ") else ""
    port_key = "80/tcp" if host_port else key
    seen = {}
    for side, (_cli, api) in both.items():
        seen[side] = _create(api, None, {port_key: [{"HostPort": host_port}]})
        if seen[side][0] == 201:
            seen[side] = (201, None)
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][0] == (201 if key in TAKEN_KEYS else 400)


def _leftovers(side: str, daemons: tuple[DaemonProcess, Dockerd]) -> list[Any]:
    """What a failed start could leave in the daemon's network namespace: links (veths),
    listening sockets, NAT rules, and dockyard's pinned network namespaces."""
    netns = NETNS[side]
    links = subprocess.run(["ip", "-n", netns, "-o", "link"], capture_output=True, text=True,
                           check=True).stdout
    listening = subprocess.run(["ss", "-N", netns, "-Hltnu"], capture_output=True, text=True,
                               check=True).stdout
    rules = subprocess.run([*_in_netns(netns), "iptables-save"], capture_output=True, text=True,
                           check=True).stdout
    pinned = sorted(n for n in os.listdir(daemons[0].root / "netns") if not n.startswith("pool-")) \
        if side == "dockyard" else []  # the pool's own pins come and go
    return [sorted(re.findall(r"^\d+: (\S+?)[@:]", links, re.MULTILINE)), listening.splitlines(),
            [r for r in rules.splitlines() if r.startswith("-A")], pinned]


FAILING = {
    "80/foo bound": ({"80/foo": {}}, {"80/foo": [BOUND]}, False),
    "/tcp bound": ({"/tcp": {}}, {"/tcp": [BOUND]}, False),
    "80/icmp bound": ({"80/icmp": {}}, {"80/icmp": [BOUND]}, False),
    "80/foo exposed, -P": ({"80/foo": {}}, None, True),
    "80/sctp bound": ({"80/sctp": {}}, {"80/sctp": [BOUND]}, False),
    "80/sctp exposed, -P": ({"80/sctp": {}}, None, True),
    "80/sctp after a tcp port": ({"80/tcp": {}, "81/sctp": {}},
                                 {"80/tcp": [{"HostPort": "18080"}], "81/sctp": [BOUND]}, False),
    "tcp on an address not here": ({"80/tcp": {}}, {"80/tcp": [{"HostIp": "192.0.2.1", "HostPort": "18080"}]},
                                   False),
    "udp on an address not here": ({"80/udp": {}}, {"80/udp": [{"HostIp": "192.0.2.1", "HostPort": "18080"}]},
                                   False),
    "tcp6 on an address not here": ({"80/tcp": {}},
                                    {"80/tcp": [{"HostIp": "2001:db8::1", "HostPort": "18080"}]}, False),
}
NOT_HERE = {"tcp on an address not here": "tcp4 192.0.2.1:18080", "udp on an address not here": "udp4 192.0.2.1:18080",
            "tcp6 on an address not here": "tcp6 [2001:db8::1]:18080"}
"""The userland proxy's Go listen, in its words: which network and address."""


def _sctp_refused() -> bool:
    import socket

    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP).close()
    except OSError:
        return True
    return False


@pytest.mark.parametrize("case", list(FAILING))
def test_a_start_fails_on_its_ports_as_dockerds(daemons: tuple[DaemonProcess, Dockerd],
                                                both: dict[str, tuple[DockerCLI, Any]],
                                                case: str) -> None:
    """500 'driver failed programming external connectivity on endpoint NAME (ID): …', exit
    code 128 and State.Error, nothing left in the daemon's network namespace; ``docker
    start`` prints it and exits 1."""
    exposed, bindings, publish_all = FAILING[case]
    seen = {}
    for side, (cli, api) in both.items():
        before = _leftovers(side, daemons)
        assert _create(api, exposed, bindings, publish_all)[0] == 201
        try:
            api.start("ports")
            started: Any = "started"
        except docker.errors.APIError as exc:
            started = (exc.status_code, exc.explanation)
        state = api.inspect_container("ports")["State"]
        again = cli("start", "ports")
        after = _leftovers(side, daemons)
        assert after == before
        seen[side] = _eph([started, state["Status"], state["ExitCode"], state["Error"],
                           again.returncode, again.stderr, _shown(cli, api)])
        api.remove_container("ports", force=True)
    if "sctp" in case and not _sctp_refused():  # dockerd publishes it: dockyard has no SCTP proxy
        assert seen["dockyard"][0][1].endswith("Error starting userland proxy: sctp ports are not "
                                               "supported by dockyard (it has no SCTP proxy)")
        return
    assert seen["dockyard"] == seen["dockerd"]
    cause = "Error starting userland proxy: protocol not supported" if "sctp" in case else \
        f"invalid transport protocol: {'icmp' if 'icmp' in case else 0}"
    if case in NOT_HERE:
        cause = f"Error starting userland proxy: listen {NOT_HERE[case]}: bind: cannot assign requested address"
    assert seen["dockerd"][0] == [500, ("driver failed programming external connectivity on "
                                        f"endpoint ports (ID): {cause}")]
