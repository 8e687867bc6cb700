"""An endpoint's ``Aliases`` on a user-defined network as a client of each API version sees
them, side by side with a private dockerd 20.10 (API 1.41 at the most).

dockerd 20.10's, recorded here (docker-py and the docker CLI at 1.41): when a container joins
a user-defined network — its start, or ``docker network connect`` even while it is created or
stopped — the endpoint's aliases take the container's short id, then its hostname, each unless
already there: ``["<sid>"]`` with no ``--network-alias``, ``["z", "a", "<sid>"]`` with two,
``["<sid>", "hh"]`` with ``--hostname hh``, ``["hx", "<sid>"]`` when the alias is the
hostname. A created container's own endpoints keep the aliases asked for (null with none)
until its start; they stay after a stop, restart, rename; the default bridge's and host's stay
null (seen by hand: the shared dockerd here has no default bridge). ``network inspect``'s Containers carry no aliases, ``docker ps --format {{.Networks}}``
names the networks alone. A peer resolves the short id and the hostname.

Current moby keeps the aliases asked for and adds the short id and hostname for a client below
1.45 alone (its API changelog for 1.45; ``DNSNames``, from 1.44, has them all): dockyard answers
so at 1.44 and 1.45.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from dockyard.testing.daemon import DockerCLI

NETS = ("dyal-net", "dyal-net2")
NAMES = ("dyal-plain", "dyal-two", "dyal-host", "dyal-same", "dyal-made")


def _api(cli: Any, version: str) -> docker.APIClient:
    return docker.APIClient(base_url=cli.env["DOCKER_HOST"], version=version, timeout=30)


@pytest.fixture
def made(both: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """On each side, through the docker CLI: containers on a user-defined network (no alias,
    two, a hostname, an alias that is the hostname), one created and connected to a second
    network. (The shared dockerd has no default bridge: ``--bridge=none``.)"""
    for cli, _client in both.values():
        for net in NETS:
            assert cli("network", "create", net).returncode == 0
        run = ("run", "-d", "--pull", "never", "--network", NETS[0])
        for args in (("--name", "dyal-plain"),
                     ("--name", "dyal-two", "--network-alias", "z", "--network-alias", "a"),
                     ("--name", "dyal-host", "--hostname", "hh"),
                     ("--name", "dyal-same", "--hostname", "hx", "--network-alias", "hx")):
            done = cli(*run, *args, "busybox", "sleep", "300")
            assert done.returncode == 0, done.stderr
        for args in (("create", "--pull", "never", "--network", NETS[0], "--network-alias", "cc",
                      "--name", "dyal-made", "busybox", "sleep", "300"),
                     ("network", "connect", "--alias", "two", NETS[1], "dyal-made")):
            done = cli(*args)
            assert done.returncode == 0, done.stderr
    yield both
    for cli, _client in both.values():
        cli("rm", "-f", *NAMES)
        for net in NETS:
            cli("network", "rm", net)


def _aliases(api: docker.APIClient, names: tuple[str, ...] = NAMES) -> dict[str, Any]:
    """Each container's endpoints' aliases, its short id written <sid>."""
    out = {}
    for name in names:
        found = api.inspect_container(name)
        sid = found["Id"][:12]
        out[name] = {net: None if ep["Aliases"] is None else [
                         "<sid>" if a == sid else a for a in ep["Aliases"]]
                     for net, ep in found["NetworkSettings"]["Networks"].items()}
    return out


def test_a_joined_endpoint_has_the_short_id_and_hostname_at_141_as_dockerd(made: dict[str, Any]) -> None:
    seen: dict[str, Any] = {}
    for side, (cli, _client) in made.items():
        api = _api(cli, "1.41")
        out = {"made": _aliases(api)}
        for args in (("start", "dyal-made"), ("stop", "-t", "0", "dyal-made", "dyal-plain"),
                     ("restart", "-t", "0", "dyal-two"), ("rename", "dyal-host", "dyal-host2"),
                     ("rename", "dyal-host2", "dyal-host")):
            done = cli(*args)
            assert done.returncode == 0, done.stderr
        out["after"] = _aliases(api)
        old_cli = DockerCLI(cli.env["DOCKER_HOST"])
        old_cli.env["DOCKER_API_VERSION"] = "1.41"
        cli_view = old_cli("inspect", "--format",
                           '{{json (index .NetworkSettings.Networks "dyal-net").Aliases}}', "dyal-two")
        out["cli"] = cli_view.stdout.replace(api.inspect_container("dyal-two")["Id"][:12], "<sid>")
        members = api.inspect_network(NETS[0])["Containers"]
        out["network"] = sorted({key for member in members.values() for key in member})
        listed = cli("ps", "-a", "--filter", "name=dyal-", "--format", "{{.Names}} {{.Networks}}")
        out["ps"] = sorted((line.split()[0], sorted(line.split()[1].split(",")))  # Go map order
                           for line in listed.stdout.splitlines())
        api.close()
        seen[side] = out
    assert seen["dockyard"] == seen["dockerd"]
    made_, after = seen["dockerd"]["made"], seen["dockerd"]["after"]
    assert made_["dyal-plain"] == {"dyal-net": ["<sid>"]}
    assert made_["dyal-two"] == {"dyal-net": ["z", "a", "<sid>"]}
    assert made_["dyal-host"] == {"dyal-net": ["<sid>", "hh"]}
    assert made_["dyal-same"] == {"dyal-net": ["hx", "<sid>"]}
    assert made_["dyal-made"] == {"dyal-net": ["cc"], "dyal-net2": ["two", "<sid>"]}
    assert after["dyal-made"] == {"dyal-net": ["cc", "<sid>"], "dyal-net2": ["two", "<sid>"]}
    assert after["dyal-plain"] == made_["dyal-plain"] and after["dyal-host"] == made_["dyal-host"]
    assert json.loads(seen["dockerd"]["cli"]) == ["z", "a", "<sid>"]
    assert "Aliases" not in seen["dockerd"]["network"]


def test_a_peer_resolves_the_short_id_and_hostname_as_dockerd(made: dict[str, Any]) -> None:
    for side, (cli, _client) in made.items():
        sid = cli("inspect", "--format", "{{.Id}}", "dyal-host").stdout[:12]
        for name in (sid, "hh", "dyal-host"):
            done = cli("exec", "dyal-plain", "ping", "-c1", "-W1", name)
            assert f"PING {name} (" in done.stdout, (side, name, done.stdout, done.stderr)


def test_from_145_the_aliases_are_the_ones_asked_for(made: dict[str, Any]) -> None:
    cli, _client = made["dockyard"]
    at = {version: _aliases(_api(cli, version), ("dyal-plain", "dyal-two", "dyal-host"))
          for version in ("1.44", "1.45")}
    assert at["1.44"]["dyal-two"] == {"dyal-net": ["z", "a", "<sid>"]}
    assert at["1.44"]["dyal-host"] == {"dyal-net": ["<sid>", "hh"]}
    assert at["1.45"] == {"dyal-plain": {"dyal-net": None}, "dyal-two": {"dyal-net": ["z", "a"]},
                          "dyal-host": {"dyal-net": None}}
    found = _api(cli, "1.45").inspect_container("dyal-host")
    assert found["NetworkSettings"]["Networks"]["dyal-net"]["DNSNames"] == [
        "dyal-host", found["Id"][:12], "hh"]
