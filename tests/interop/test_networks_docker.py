"""The real docker CLI and docker-py against the dockyard daemon: ``docker network
create/ls/inspect/rm/connect/disconnect/prune`` with dockerd's wording, containers on a
user-defined network reaching each other by name and alias, and ``-p`` on 127.0.0.1."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI


@pytest.fixture
def client(dockyard_client: Any, busybox_image: str) -> Iterator[Any]:
    """docker-py client; containers and networks the test made are removed after it."""
    before = {c["Id"] for c in dockyard_client.api.containers(all=True)}
    nets = {n["Id"] for n in dockyard_client.api.networks()}
    yield dockyard_client
    for c in dockyard_client.api.containers(all=True):
        if c["Id"] not in before:
            dockyard_client.api.remove_container(c["Id"], force=True, v=True)
    for n in dockyard_client.api.networks():
        if n["Id"] not in nets:
            dockyard_client.api.remove_network(n["Id"])


@pytest.fixture
def docker(dockyard_daemon: Any, client: Any) -> Any:
    return DockerCLI(dockyard_daemon.host)


def test_network_verbs_and_errors(docker: Any) -> None:
    made = docker("network", "create", "--subnet", "10.211.0.0/24", "--label", "team=a", "dyn-one")
    assert made.returncode == 0, made.stderr
    net_id = made.stdout.strip()
    assert len(net_id) == 64
    listed = docker("network", "ls", "--format", "{{.Name}} {{.Driver}}")
    assert {"bridge bridge", "host host", "none null", "dyn-one bridge"} <= set(listed.stdout.split("\n"))
    [info] = json.loads(docker("network", "inspect", "dyn-one").stdout)
    # no Gateway shown: the create named none (dockerd 20.10 shows one only if given or pooled)
    assert info["Id"] == net_id and info["IPAM"]["Config"] == [{"Subnet": "10.211.0.0/24"}]
    assert info["Labels"] == {"team": "a"} and info["Scope"] == "local"
    again = docker("network", "create", "dyn-one")
    assert again.returncode == 1 and "network with name dyn-one already exists" in again.stderr
    gone = docker("network", "inspect", "dyn-nope")
    assert gone.returncode == 1 and "network dyn-nope not found" in gone.stderr
    builtin = docker("network", "rm", "bridge")
    assert builtin.returncode == 1 and "bridge is a pre-defined network and cannot be removed" in builtin.stderr
    overlap = docker("network", "create", "--subnet", "10.211.0.0/16", "dyn-two")
    assert overlap.returncode == 1 and "Pool overlaps with other one on this address space" in overlap.stderr
    assert docker("network", "rm", "dyn-one").returncode == 0
    docker("network", "create", "dyn-prune")
    pruned = docker("network", "prune", "-f")
    assert "dyn-prune" in pruned.stdout
    assert "dyn-prune" not in docker("network", "ls").stdout


def test_containers_reach_each_other_by_name_and_alias(docker: Any, client: Any) -> None:
    net = client.networks.create("dyn-app")
    server = client.containers.run("busybox", ["sh", "-c", "echo hello > /tmp/i; exec httpd -f -p 80 -h /tmp"],
                                   name="dyn-web", network="dyn-app", detach=True)
    net.reload()
    assert server.id in net.attrs["Containers"]
    done = docker("run", "--rm", "--network", "dyn-app", "busybox", "wget", "-qO-", "http://dyn-web/i")
    assert done.returncode == 0 and done.stdout == "hello\n", done.stderr
    busy = docker("network", "rm", "dyn-app")
    assert busy.returncode == 1 and f"network dyn-app id {net.id} has active endpoints" in busy.stderr
    # connect a second network to the running server, with an alias
    other = client.networks.create("dyn-other")
    other.connect(server, aliases=["api"])
    done = docker("run", "--rm", "--network", "dyn-other", "busybox", "wget", "-qO-", "http://api/i")
    assert done.returncode == 0 and done.stdout == "hello\n", done.stderr
    server.reload()
    assert set(server.attrs["NetworkSettings"]["Networks"]) == {"dyn-app", "dyn-other"}
    other.disconnect(server)
    server.reload()
    assert set(server.attrs["NetworkSettings"]["Networks"]) == {"dyn-app"}
    server.remove(force=True)
    net.reload()
    assert net.attrs["Containers"] == {}


def test_published_port_and_inspect(docker: Any, client: Any) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "echo pong > /tmp/p; exec httpd -f -p 80 -h /tmp"],
                              ports={"80/tcp": ("127.0.0.1", None)}, detach=True)
    c.reload()
    s = c.attrs["NetworkSettings"]
    [binding] = s["Ports"]["80/tcp"]
    assert binding["HostIp"] == "127.0.0.1"
    assert s["IPAddress"] and s["Gateway"] and s["IPPrefixLen"] and s["MacAddress"].startswith("02:42:")
    assert s["Networks"]["bridge"]["IPAddress"] == s["IPAddress"]
    port = docker("port", c.id).stdout
    assert f"127.0.0.1:{binding['HostPort']}" in port
    deadline = time.monotonic() + 5
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{binding['HostPort']}/p", timeout=1) as r:
                assert r.read() == b"pong\n"
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    clash = docker("run", "-d", "-p", f"127.0.0.1:{binding['HostPort']}:80", "busybox", "true")
    assert clash.returncode != 0
    assert f"Bind for 127.0.0.1:{binding['HostPort']} failed: port is already allocated" in clash.stderr


def test_connect_before_start_and_static_ip(docker: Any, client: Any) -> None:
    first = client.networks.create("dyn-first", ipam={"Config": [{"Subnet": "10.212.0.0/24"}]})
    second = client.networks.create("dyn-second")
    made = docker("create", "--network", "dyn-first", "--ip", "10.212.0.50", "--network-alias", "db",
                  "busybox", "sh", "-c", "ip -o -4 addr; cat /etc/hosts")
    assert made.returncode == 0, made.stderr
    cid = made.stdout.strip()
    second.connect(cid)
    started = docker("start", "-a", cid)
    assert started.returncode == 0, started.stderr
    assert "eth0" in started.stdout and "10.212.0.50/24" in started.stdout and "eth1" in started.stdout
    client.api.wait(cid)
    deadline = time.monotonic() + 5  # waiters hear the exit first, the network goes right after
    while (nets := client.api.inspect_container(cid)["NetworkSettings"]["Networks"]) and \
            nets.get("dyn-first", {}).get("IPAddress") and time.monotonic() < deadline:
        time.sleep(0.02)
    c = client.containers.get(cid)
    assert set(nets) == {"dyn-first", "dyn-second"}
    assert nets["dyn-first"]["IPAMConfig"] == {"IPv4Address": "10.212.0.50"} and "db" in nets["dyn-first"]["Aliases"]
    assert nets["dyn-first"]["IPAddress"] == ""  # stopped: addresses released, requests kept
    c.remove()
    first.reload()
    assert first.attrs["Containers"] == {}


def test_none_and_host_modes_through_the_cli(docker: Any) -> None:
    none = docker("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                  "ls /sys/class/net; ping -c1 -W1 127.0.0.1 >/dev/null && echo lo-ok")
    assert none.returncode == 0 and none.stdout.split() == ["lo", "lo-ok"], none.stderr
    host = docker("run", "--rm", "--network", "host", "busybox", "hostname")
    assert host.returncode == 0 and host.stdout.strip() == os.uname().nodename, host.stderr
