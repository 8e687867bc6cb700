"""Published ports from a raw create (docker-py's low-level client, the raw API), side by side
with a private dockerd 20.10 — what the docker CLI never sends, since it puts a ``-p`` port in
both ``Config.ExposedPorts`` and ``HostConfig.PortBindings``:

- ``PortBindings`` stored and shown as Go's ``nat.PortMap`` (sorted keys, each binding with
  ``HostIp`` and ``HostPort``, nothing else).

Each daemon runs in a network namespace of its own (a named one, kept across a daemon
restart), with its default bridge: host ports, links and rules are its own.
"""

from __future__ import annotations

import json
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
            name: str = "ports", **host: Any) -> tuple[int, Any]:
    body: dict[str, Any] = {"Image": "busybox", "Cmd": ["sleep", "300"],
                            "HostConfig": {"PortBindings": bindings, "PublishAllPorts": publish_all,
                                           **host}}
    if exposed is not None:
        body["ExposedPorts"] = exposed
    response = api._post_json(api._url("/containers/create"), data=body, params={"name": name})
    return response.status_code, response.json()


def _raw_inspect(api: Any, name: str) -> Any:
    """inspect's JSON with its keys in the order the daemon wrote them."""
    text = api._get(api._url("/containers/{0}/json", name)).text
    return json.loads(text, object_pairs_hook=lambda pairs: [list(p) for p in pairs])


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
