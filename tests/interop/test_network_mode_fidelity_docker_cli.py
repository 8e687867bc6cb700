"""What a container's ``HostConfig`` keeps of NetworkMode, RestartPolicy and PortBindings, and
how the default network shows, through the docker CLI 28, docker-py and raw Engine API bodies.

Every expectation here was recorded from dockerd 20.10.24 on this machine with the same
requests (2026-11-29; its own data root and a bridge of its own):

- no ``--network`` (the CLI sends NetworkMode "default" and an EndpointsConfig "default"),
  ``--network default``, docker-py without ``network_mode`` (it sends "default"), and a raw
  body with no HostConfig, an empty one or NetworkMode "": inspect and ``GET /containers/json``
  both say NetworkMode "default"; ``NetworkSettings.Networks`` and ``ps --format
  {{.Networks}}`` say "bridge". A named mode (bridge, none, host, a user network) is kept as
  given. ``ps --filter network=bridge`` lists the "default" containers, ``network=default``
  none of them; ``network inspect bridge`` lists them while they run;
- ``network connect``/``disconnect`` never change NetworkMode, only Networks, and ``network
  connect default`` answers "network default not found";
- RestartPolicy: the CLI sends "no" unless ``--restart`` says otherwise (``--restart ""``
  is kept as ""); docker-py and raw bodies without one (or null, or without a Name) read
  ``{"Name": "", "MaximumRetryCount": 0}``;
- PortBindings: the CLI sends ``{}`` without ``-p``; docker-py without ports and a raw body
  without them (or with null) read null; ``{}`` reads ``{}``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

SHOW = ("{{.HostConfig.NetworkMode}}|{{json .HostConfig.RestartPolicy}}|{{json .HostConfig.PortBindings}}|"
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}")
NO = '{"Name":"no","MaximumRetryCount":0}'
EMPTY = '{"Name":"","MaximumRetryCount":0}'


@pytest.fixture
def docker(dockyard_daemon: Any, busybox_image: str) -> Iterator[Any]:
    """The docker CLI on the session daemon; the containers and networks a test names with
    the ``nm-`` prefix are removed after it."""
    cli = DockerCLI(dockyard_daemon.host)
    yield cli
    names = cli("ps", "-aq", "--filter", "name=nm-").stdout.split()
    if names:
        cli("rm", "-f", *names)
    for net in cli("network", "ls", "-q", "--filter", "name=nm-").stdout.split():
        cli("network", "rm", net)


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def _shown(docker: Any, client: Any, name: str) -> tuple[str, str, str, str, str]:
    """Inspect's NetworkMode, RestartPolicy, PortBindings and networks; the ps list's
    NetworkMode; ``ps --format {{.Networks}}``."""
    mode, policy, bindings, networks = _ok(docker("inspect", "-f", SHOW, name)).rstrip("\n").split("|")
    listed = client.api.containers(all=True, filters={"name": f"^/{name}$"})
    assert len(listed) == 1
    ps_networks = _ok(docker("ps", "-a", "--filter", f"name=^/{name}$", "--format", "{{.Networks}}")).strip()
    assert listed[0]["HostConfig"]["NetworkMode"] == mode  # ps and inspect agree, always
    return mode, policy, bindings, networks.strip(), ps_networks


def test_the_cli_s_default_network_mode_is_kept(docker: Any, client: Any) -> None:
    _ok(docker("network", "create", "nm-net"))
    cases = {
        "nm-plain": ([], ("default", NO, "{}", "bridge", "bridge")),
        "nm-default": (["--network", "default"], ("default", NO, "{}", "bridge", "bridge")),
        "nm-bridge": (["--network", "bridge"], ("bridge", NO, "{}", "bridge", "bridge")),
        "nm-none": (["--network", "none"], ("none", NO, "{}", "none", "none")),
        "nm-host": (["--network", "host"], ("host", NO, "{}", "host", "host")),
        "nm-user": (["--network", "nm-net"], ("nm-net", NO, "{}", "nm-net", "nm-net")),
        "nm-restart-empty": (["--restart", ""], ("default", EMPTY, "{}", "bridge", "bridge")),
        "nm-always": (["--restart", "always"],
                      ("default", '{"Name":"always","MaximumRetryCount":0}', "{}", "bridge", "bridge")),
        "nm-p": (["-p", "127.0.0.1:18045:80"],
                 ("default", NO, '{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"18045"}]}', "bridge", "bridge")),
        "nm-p-any": (["-p", "80"], ("default", NO, '{"80/tcp":[{"HostIp":"","HostPort":""}]}', "bridge", "bridge")),
    }
    for name, (args, _expected) in cases.items():
        _ok(docker("create", "--name", name, *args, "busybox", "sleep", "300"))
    assert {name: _shown(docker, client, name) for name in cases} == \
        {name: expected for name, (_args, expected) in cases.items()}
    made = docker("create", "--name", "nm-host-p", "--network", "host", "-p", "127.0.0.1:18046:80",
                  "busybox", "true")
    assert made.stderr == "WARNING: Published ports are discarded when using host network mode\n"
    assert _shown(docker, client, "nm-host-p")[:3] == \
        ("host", NO, '{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"18046"}]}')


def test_docker_py_and_raw_bodies(docker: Any, client: Any) -> None:
    empty = {"Name": "", "MaximumRetryCount": 0}
    made = client.containers.create("busybox", "sleep 300", name="nm-py")
    host = client.api.inspect_container(made.id)["HostConfig"]
    assert (host["NetworkMode"], host["RestartPolicy"], host["PortBindings"]) == ("default", empty, None)
    made = client.containers.create("busybox", "sleep 300", name="nm-py-ports", ports={"80/tcp": ("127.0.0.1", 18047)})
    assert client.api.inspect_container(made.id)["HostConfig"]["PortBindings"] == \
        {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18047"}]}
    bodies: dict[str, tuple[dict[str, Any] | None, tuple[str, dict[str, Any], Any]]] = {
        "nm-raw-none": (None, ("default", empty, None)),
        "nm-raw-empty": ({}, ("default", empty, None)),
        "nm-raw-mode-empty": ({"NetworkMode": ""}, ("default", empty, None)),
        "nm-raw-restart-empty": ({"RestartPolicy": {"Name": ""}}, ("default", empty, None)),
        "nm-raw-restart-null": ({"RestartPolicy": None}, ("default", empty, None)),
        "nm-raw-restart-noname": ({"RestartPolicy": {"MaximumRetryCount": 0}}, ("default", empty, None)),
        "nm-raw-ports-null": ({"PortBindings": None}, ("default", empty, None)),
        "nm-raw-ports-empty": ({"PortBindings": {}}, ("default", empty, {})),
    }
    seen = {}
    for name, (host_config, _expected) in bodies.items():
        body: dict[str, Any] = {"Image": "busybox", "Cmd": ["sleep", "300"]}
        if host_config is not None:
            body["HostConfig"] = host_config
        cid = client.api.create_container_from_config(body, name)["Id"]
        shown = client.api.inspect_container(cid)
        host = shown["HostConfig"]
        seen[name] = (host["NetworkMode"], host["RestartPolicy"], host["PortBindings"])
        assert list(shown["NetworkSettings"]["Networks"]) == ["bridge"], name
    assert seen == {name: expected for name, (_body, expected) in bodies.items()}


def test_a_default_container_runs_on_the_bridge_and_keeps_its_mode(docker: Any, client: Any) -> None:
    _ok(docker("network", "create", "nm-net2"))
    cid = _ok(docker("run", "-d", "--name", "nm-run", "busybox", "sleep", "300")).strip()
    assert _shown(docker, client, "nm-run") == ("default", NO, "{}", "bridge", "bridge")
    address = _ok(docker("inspect", "-f", "{{.NetworkSettings.Networks.bridge.IPAddress}}", "nm-run")).strip()
    assert address and f"inet {address}/" in _ok(docker("exec", "nm-run", "ip", "-4", "addr", "show", "eth0"))
    listed = json.loads(_ok(docker("network", "inspect", "-f", "{{json .Containers}}", "bridge")))
    assert listed[cid]["Name"] == "nm-run"
    assert "nm-run" in _ok(docker("ps", "--filter", "network=bridge", "--format", "{{.Names}}")).split()
    assert _ok(docker("ps", "-a", "--filter", "network=default", "--format", "{{.Names}}")) == ""
    _ok(docker("network", "connect", "nm-net2", "nm-run"))
    assert _shown(docker, client, "nm-run")[::3] == ("default", "bridge nm-net2")
    _ok(docker("network", "disconnect", "bridge", "nm-run"))
    assert _shown(docker, client, "nm-run")[::3] == ("default", "nm-net2")
    refused = docker("network", "connect", "default", "nm-run")
    assert (refused.returncode, refused.stderr) == (1, "Error response from daemon: network default not found\n")
    _ok(docker("network", "connect", "bridge", "nm-run"))
    assert _shown(docker, client, "nm-run")[::3] == ("default", "bridge nm-net2")


def test_connect_and_disconnect_before_the_start(docker: Any, client: Any) -> None:
    """A created container: what it is connected to decides its start's networks; its mode
    stays as given (off its own user network, it starts on none at all, as under dockerd)."""
    _ok(docker("network", "create", "nm-net3"))
    _ok(docker("create", "--name", "nm-cd", "busybox", "sleep", "300"))
    _ok(docker("network", "connect", "nm-net3", "nm-cd"))
    assert _shown(docker, client, "nm-cd")[::3] == ("default", "bridge nm-net3")
    _ok(docker("network", "disconnect", "bridge", "nm-cd"))
    _ok(docker("start", "nm-cd"))
    assert _shown(docker, client, "nm-cd")[::3] == ("default", "nm-net3")
    _ok(docker("create", "--name", "nm-cd-none", "--network", "none", "busybox", "sleep", "300"))
    _ok(docker("network", "disconnect", "none", "nm-cd-none"))
    _ok(docker("network", "connect", "bridge", "nm-cd-none"))
    assert _shown(docker, client, "nm-cd-none")[::3] == ("none", "bridge")
    _ok(docker("create", "--name", "nm-cd-user", "--network", "nm-net3", "busybox", "sleep", "300"))
    _ok(docker("network", "disconnect", "nm-net3", "nm-cd-user"))
    _ok(docker("start", "nm-cd-user"))
    assert _shown(docker, client, "nm-cd-user")[::3] == ("nm-net3", "")
