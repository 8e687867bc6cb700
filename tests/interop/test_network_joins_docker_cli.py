"""Which interfaces and which default route a container has as it joins and leaves networks,
through the real docker CLI. The expected answers are what dockerd 20.10 on this machine gave
for the same commands (recorded 2026-11-29, its own data root, ``--bridge none``):

- a container's networks are judged by what it is on *now*: one run with ``--network none``
  and then ``disconnect``ed from it joins another network (eth0, default route), running or
  before its start; ``none`` may be rejoined once the others are gone;
- a start joins its networks sorted as libnetwork sorts endpoints (internal networks last,
  then by name): eth0 is the first and carries the default route;
- while it runs, every connect takes the next ethN (names are not reused), and when the
  endpoint holding the default route leaves, the next one left takes the route over.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

PRIVATE = "container cannot be connected to multiple networks with one of the networks in private (none) mode"


@pytest.fixture
def docker(dockyard_daemon: Any, dockyard_client: Any, busybox_image: str) -> Iterator[Any]:
    """The docker CLI on the session daemon; what the test made is removed after it."""
    cli = DockerCLI(dockyard_daemon.host)
    made: list[tuple[str, str]] = []

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = cli(*args)
        if args[:2] == ("network", "create") or args[0] in ("run", "create"):
            name = args[args.index("--name") + 1] if "--name" in args else args[-1]
            made.append(("network" if args[0] == "network" else "container", name))
        return done
    yield run
    for kind, name in reversed(made):
        if kind == "container":
            run("rm", "-f", name)
    for kind, name in reversed(made):
        if kind == "network":
            run("network", "rm", name)


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def _links(docker: Any, name: str) -> dict[str, str]:
    """``{ifname: address}`` inside the container, lo left out."""
    out = _ok(docker("exec", name, "ip", "-4", "-o", "addr"))
    fields = [line.split() for line in out.splitlines()]
    return {f[1]: f[3] for f in fields if f[1] != "lo"}


def _default_route(docker: Any, name: str) -> str:
    out = _ok(docker("exec", name, "ip", "route"))
    return next((line.strip() for line in out.splitlines() if line.startswith("default")), "")


def test_a_container_off_none_joins_other_networks(docker: Any) -> None:
    _ok(docker("network", "create", "--subnet", "10.221.0.0/24", "dyj-a"))
    _ok(docker("run", "-d", "--name", "dyj-1", "--network", "none", "busybox", "sleep", "1000"))
    refused = docker("network", "connect", "dyj-a", "dyj-1")
    assert refused.returncode == 1 and PRIVATE in refused.stderr
    _ok(docker("network", "disconnect", "none", "dyj-1"))
    assert _ok(docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", "dyj-1")).strip() == "{}"
    _ok(docker("network", "connect", "dyj-a", "dyj-1"))
    assert _links(docker, "dyj-1") == {"eth0": "10.221.0.2/24"}
    assert _default_route(docker, "dyj-1") == "default via 10.221.0.1 dev eth0"
    assert "10.221.0.2\t" in _ok(docker("exec", "dyj-1", "cat", "/etc/hosts"))
    shown = _ok(docker("inspect", "-f", "{{.HostConfig.NetworkMode}} {{(index .NetworkSettings.Networks \"dyj-a\").IPAddress}}",
                       "dyj-1"))
    assert shown.split() == ["none", "10.221.0.2"]
    refused = docker("network", "connect", "none", "dyj-1")
    assert refused.returncode == 1 and PRIVATE in refused.stderr

    # the same before its start: the start joins what the record holds
    _ok(docker("create", "--name", "dyj-2", "--network", "none", "busybox", "sleep", "1000"))
    _ok(docker("network", "disconnect", "none", "dyj-2"))
    _ok(docker("network", "connect", "dyj-a", "dyj-2"))
    _ok(docker("start", "dyj-2"))
    assert _links(docker, "dyj-2") == {"eth0": "10.221.0.3/24"}
    assert _default_route(docker, "dyj-2") == "default via 10.221.0.1 dev eth0"

    # back onto none once nothing else is left; a stopped container off all networks gets none
    _ok(docker("run", "-d", "--name", "dyj-3", "--network", "dyj-a", "busybox", "sleep", "1000"))
    _ok(docker("network", "disconnect", "dyj-a", "dyj-3"))
    _ok(docker("network", "connect", "none", "dyj-3"))
    assert list(_ok(docker("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
                           "dyj-3")).split()) == ["none"]
    assert _links(docker, "dyj-3") == {}
    _ok(docker("create", "--name", "dyj-4", "--network", "dyj-a", "busybox", "sleep", "1000"))
    _ok(docker("network", "disconnect", "dyj-a", "dyj-4"))
    _ok(docker("start", "dyj-4"))
    assert _links(docker, "dyj-4") == {}


def test_a_start_joins_its_networks_in_libnetworks_order(docker: Any) -> None:
    _ok(docker("network", "create", "--subnet", "10.222.0.0/24", "dyj-m"))
    _ok(docker("network", "create", "--subnet", "10.223.0.0/24", "dyj-o"))
    _ok(docker("network", "create", "--internal", "--subnet", "10.224.0.0/24", "dyj-i"))
    _ok(docker("create", "--name", "dyj-5", "--network", "dyj-o", "busybox", "sleep", "1000"))
    _ok(docker("network", "connect", "dyj-m", "dyj-5"))
    _ok(docker("start", "dyj-5"))
    assert _links(docker, "dyj-5") == {"eth0": "10.222.0.2/24", "eth1": "10.223.0.2/24"}
    assert _default_route(docker, "dyj-5") == "default via 10.222.0.1 dev eth0"
    _ok(docker("create", "--name", "dyj-6", "--network", "dyj-i", "busybox", "sleep", "1000"))
    _ok(docker("network", "connect", "dyj-o", "dyj-6"))
    _ok(docker("start", "dyj-6"))
    assert _links(docker, "dyj-6") == {"eth0": "10.223.0.3/24", "eth1": "10.224.0.2/24"}
    assert _default_route(docker, "dyj-6") == "default via 10.223.0.1 dev eth0"


def test_connects_take_new_names_and_the_default_route_moves_on(docker: Any) -> None:
    _ok(docker("network", "create", "--subnet", "10.225.0.0/24", "dyj-n"))
    _ok(docker("network", "create", "--subnet", "10.226.0.0/24", "dyj-p"))
    _ok(docker("network", "create", "--subnet", "10.227.0.0/24", "dyj-q"))
    _ok(docker("run", "-d", "--name", "dyj-7", "--network", "dyj-n", "busybox", "sleep", "1000"))
    _ok(docker("network", "connect", "dyj-p", "dyj-7"))
    _ok(docker("network", "disconnect", "dyj-n", "dyj-7"))
    assert _default_route(docker, "dyj-7") == "default via 10.226.0.1 dev eth1"
    _ok(docker("network", "connect", "dyj-q", "dyj-7"))
    assert _links(docker, "dyj-7") == {"eth1": "10.226.0.2/24", "eth2": "10.227.0.2/24"}
    assert _default_route(docker, "dyj-7") == "default via 10.226.0.1 dev eth1"
    _ok(docker("network", "disconnect", "dyj-q", "dyj-7"))
    _ok(docker("network", "connect", "dyj-n", "dyj-7"))
    assert _links(docker, "dyj-7") == {"eth1": "10.226.0.2/24", "eth3": "10.225.0.2/24"}
    assert _default_route(docker, "dyj-7") == "default via 10.226.0.1 dev eth1"
    _ok(docker("network", "disconnect", "dyj-p", "dyj-7"))
    assert _default_route(docker, "dyj-7") == "default via 10.225.0.1 dev eth3"
    hosts = _ok(docker("exec", "dyj-7", "cat", "/etc/hosts"))
    assert "10.225.0.2\t" in hosts and "10.226.0.2" not in hosts
    # a restart joins afresh: names from eth0 again
    _ok(docker("restart", "-t", "0", "dyj-7"))
    assert _links(docker, "dyj-7") == {"eth0": "10.225.0.2/24"}
