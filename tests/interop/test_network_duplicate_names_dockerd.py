"""Two networks of one name, side by side with a private dockerd 20.10, at API 1.41.

dockerd 20.10 honours ``CheckDuplicate`` in ``POST /networks/create``: true refuses a taken
name (409 "network with name x already exists"); false, absent or null (docker-py's default)
makes a second network of that name, with the warning "Network with name x (id : <one of the
others>) already exists" (which other: libnetwork's store walk, in no set order). The docker
CLI sends true below API 1.44; from 1.44 the field is deprecated and every create of a taken
name is refused (the 1.44 spec: "CheckDuplicate is now always enabled"; dockerd 20.10 serves
1.41 at the most, dockyard 1.24–1.45). Each network has a bridge of its own, ``br-<id[:12]>``.

A name two networks share is then ambiguous wherever dockerd looks a network up by it, in three
wordings (400 each): inspect's "2 matches found based on name: network x is ambiguous", remove's
"network x is ambiguous (2 matches found based on name)", and a start's, a running container's
connect and disconnect "network x is ambiguous (2 matches found on name)" (docker run: 125). A
created container's connect and disconnect only touch its record, by the name given. Ids and id
prefixes still find each one; ``network ls --filter name=`` lists both and prune takes both.

A container's record keys its networks by name and holds the ``NetworkID`` of its last start:
its next start joins that network (dockerd's getNetworkID), not the other of the name; one
recorded by name only (never started — ``--network <id>`` included, recorded by the network's
name) cannot start while the name is shared. Connected to both, its record keeps the later one.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from sidebyside import ApiSide, tidied

from dockyard.testing.daemon import DockerCLI
from dockyard.testing.dockerd import Dockerd


class Side(ApiSide):
    """One daemon: the raw API at 1.41, the docker CLI, and the ids it made (blanked in what
    it answers, see :meth:`blank`)."""

    def __init__(self, name: str, host: str) -> None:
        super().__init__(name, host)
        self.cli = DockerCLI(host)
        self.labels: dict[str, str] = {}

    def docker(self, *args: str) -> tuple[int, str]:
        done = self.cli(*args)
        return done.returncode, self.blank(done.stderr.strip())

    def label(self, full_id: str, label: str) -> str:
        self.labels[full_id] = label
        return full_id

    def blank(self, value: Any) -> Any:
        """``value`` with the ids :meth:`label` named written as their labels."""
        text = json.dumps(value)
        for full, label in self.labels.items():
            text = text.replace(full, label).replace(full[:12], label)
        return json.loads(text)

    def create(self, name: str, **extra: Any) -> str:
        status, answer = self.call("POST", "/networks/create", {"Name": name, **extra})
        assert status == 201, (self.name, answer)
        return str(answer["Id"])

    def networks_of(self, container: str) -> dict[str, str]:
        """A container's record: network name → the NetworkID it holds (blanked)."""
        recorded = self.api.inspect_container(container)["NetworkSettings"]["Networks"]
        return {name: self.blank(ep["NetworkID"]) for name, ep in recorded.items()}

    def members(self, network_id: str) -> list[str]:
        found = self.api.inspect_network(network_id)["Containers"] or {}
        return sorted(c["Name"] for c in found.values())


@pytest.fixture
def sides(dockyard_daemon: Any, busybox_image: str, dockerd: Dockerd) -> Iterator[list[Side]]:
    """dockerd and the session daemon; the containers and networks a test made go after it."""
    with tidied([Side("dockerd", dockerd.host), Side("dockyard", dockyard_daemon.host)]) as made:
        yield made


def _bridges() -> set[str]:
    links = subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=True).stdout
    return {link["ifname"] for link in json.loads(links)}


def test_check_duplicate_decides_whether_a_create_takes_a_name_again(sides: list[Side]) -> None:
    seen = []
    for side in sides:
        first = side.label(side.create("dyn-dup"), "<first>")
        refused = side.call("POST", "/networks/create", {"Name": "dyn-dup", "CheckDuplicate": True})
        made, warnings = [first], []
        for extra in ({}, {"CheckDuplicate": False}, {"CheckDuplicate": None}):
            status, answer = side.call("POST", "/networks/create", {"Name": "dyn-dup", **extra})
            assert status == 201, (side.name, answer)
            made.append(answer["Id"])
            warnings.append(answer["Warning"])
        # the one named: any other of the name (dockerd's is libnetwork's walk order)
        assert all(w in [f"Network with name dyn-dup (id : {i}) already exists" for i in made[:n + 1]]
                   for n, w in enumerate(warnings)), (side.name, warnings)
        listed = side.cli("network", "ls", "--filter", "name=dyn-dup", "--format", "{{.ID}} {{.Name}}")
        by_cli = side.docker("network", "create", "dyn-dup")
        assert {f"br-{i[:12]}" for i in made} <= _bridges(), side.name  # one bridge each
        seen.append((refused, sorted(listed.stdout.strip().split("\n")) == sorted(
            f"{i[:12]} dyn-dup" for i in made), by_cli))
    assert seen[0] == ((409, {"message": "network with name dyn-dup already exists"}), True,
                       (1, "Error response from daemon: network with name dyn-dup already exists"))
    assert seen[1] == seen[0]
    # from API 1.44 every create of a taken name is refused, as the 1.44 spec has it (dockerd
    # 20.10 serves 1.41 at the most: 400 "client version 1.44 is too new")
    dockyard = sides[1]
    for version in ("1.44", "1.45"):
        for extra in ({}, {"CheckDuplicate": False}, {"CheckDuplicate": True}):
            answer = dockyard.call("POST", "/networks/create", {"Name": "dyn-dup", **extra}, version=version)
            assert answer == (409, {"message": "network with name dyn-dup already exists"}), (version, extra)


def test_a_name_two_networks_share_is_ambiguous_where_dockerd_looks_it_up(sides: list[Side]) -> None:
    seen = []
    for side in sides:
        one = side.label(side.create("dyn-twin"), "<one>")
        two = side.label(side.create("dyn-twin", CheckDuplicate=False), "<two>")
        side.create("dyn-solo")
        running = side.label(side.api.create_container(
            "busybox", ["sleep", "300"], host_config=side.api.create_host_config(network_mode="dyn-solo"))["Id"],
            "<running>")
        side.api.start(running)
        created = side.label(side.api.create_container(
            "busybox", ["true"], host_config=side.api.create_host_config(network_mode="dyn-twin"))["Id"],
            "<created>")
        by_id = side.label(side.api.create_container(
            "busybox", ["true"], host_config=side.api.create_host_config(network_mode=one))["Id"], "<by-id>")
        answers = {
            "inspect": side.call("GET", "/networks/dyn-twin"),
            "cli inspect": side.docker("network", "inspect", "dyn-twin"),
            "rm": side.call("DELETE", "/networks/dyn-twin"),
            "cli rm": side.docker("network", "rm", "dyn-twin"),
            "run": side.docker("run", "--rm", "--pull", "never", "--network", "dyn-twin", "busybox", "true"),
            "start": side.call("POST", f"/containers/{created}/start"),
            "start by id": side.call("POST", f"/containers/{by_id}/start"),
            "recorded by id": side.networks_of(by_id),
            "connect running": side.call("POST", "/networks/dyn-twin/connect", {"Container": running}),
            "disconnect running": side.call("POST", "/networks/dyn-twin/disconnect", {"Container": running}),
            "cli connect running": side.docker("network", "connect", "dyn-twin", running),
            "cli disconnect running": side.docker("network", "disconnect", "dyn-twin", running),
            "connect created": side.call("POST", "/networks/dyn-twin/connect",
                                         {"Container": by_id, "EndpointConfig": {"Aliases": ["a"]}}),
            "recorded after connect": side.networks_of(by_id),
            "disconnect created": side.call("POST", "/networks/dyn-twin/disconnect", {"Container": by_id}),
            "disconnect created again": side.call("POST", "/networks/dyn-twin/disconnect", {"Container": by_id}),
            "inspect by id": side.blank(side.call("GET", f"/networks/{one}")[1]["Id"]),
            "inspect by prefix": side.blank(side.call("GET", f"/networks/{two[:12]}")[1]["Id"]),
        }
        listed = side.cli("network", "ls", "-q", "--filter", "name=dyn-twin").stdout.split()
        answers["ls"] = sorted(side.blank(listed))
        for cid in (running, created, by_id):
            side.api.remove_container(cid, force=True)
        pruned = side.call("POST", "/networks/prune")[1]["NetworksDeleted"]
        answers["pruned"] = sorted(name for name in pruned if name.startswith("dyn-"))
        seen.append(side.blank(answers))
    ambiguous = "network dyn-twin is ambiguous (2 matches found on name)"
    assert seen[0]["inspect"] == [400, {"message": "2 matches found based on name: network dyn-twin is ambiguous"}]
    assert seen[0]["rm"] == [400, {"message": "network dyn-twin is ambiguous (2 matches found based on name)"}]
    assert seen[0]["run"] == [125, (f"docker: Error response from daemon: {ambiguous}\n\n"
                                    "Run 'docker run --help' for more information")]
    assert seen[0]["start"] == seen[0]["start by id"] == seen[0]["connect running"] == [400, {"message": ambiguous}]
    assert seen[0]["recorded by id"] == {"dyn-twin": ""}
    assert seen[0]["connect created"] == seen[0]["disconnect created"] == [200, None]
    assert seen[0]["disconnect created again"] == [500, {
        "message": "container <by-id> is not connected to the network dyn-twin"}]
    assert seen[0]["ls"] == ["<one>", "<two>"]
    assert seen[0]["pruned"] == ["dyn-solo", "dyn-twin", "dyn-twin"]
    assert seen[1] == seen[0]


def _rejoins(side: Side, name: str) -> list[Any]:
    """A container on ``dyn-keep`` while it is the only one; a second ``dyn-keep`` made; then
    each step's answer, the container's record (name → NetworkID) and both networks' members."""
    one = side.label(side.create("dyn-keep"), "<one>")
    cid = side.label(side.api.create_container(
        "busybox", ["sleep", "300"], name=name,
        host_config=side.api.create_host_config(network_mode="dyn-keep"))["Id"], "<c>")
    side.api.start(cid)
    two = side.label(side.create("dyn-keep", CheckDuplicate=False), "<two>")
    steps: list[Any] = []

    def look(step: str, answer: Any = None) -> None:
        steps.append((step, side.blank(answer), side.networks_of(cid), side.members(one), side.members(two)))

    side.api.restart(cid, timeout=0)
    look("restarted")
    side.api.stop(cid, timeout=0)
    look("stopped")
    side.api.start(cid)
    look("started")
    look("disconnect from the other", side.call("POST", f"/networks/{two}/disconnect", {"Container": cid}))
    look("connect the other by id", side.call("POST", f"/networks/{two}/connect", {"Container": cid}))
    look("connect it again", side.call("POST", f"/networks/{two}/connect", {"Container": cid}))
    look("connect the first again", side.call("POST", f"/networks/{one}/connect", {"Container": cid}))
    side.api.stop(cid, timeout=0)
    side.api.start(cid)
    look("stopped and started")
    look("disconnect the first by id", side.call("POST", f"/networks/{one}/disconnect", {"Container": cid}))
    look("disconnect the other by id", side.call("POST", f"/networks/{two}/disconnect", {"Container": cid}))
    return steps


def test_a_container_rejoins_the_network_its_record_names_by_id(sides: list[Side]) -> None:
    name = f"dyn-keeper-{os.getpid()}"
    seen = [_rejoins(side, name) for side in sides]
    assert seen[0][:3] == [("restarted", None, {"dyn-keep": "<one>"}, [name], []),
                           ("stopped", None, {"dyn-keep": "<one>"}, [], []),
                           ("started", None, {"dyn-keep": "<one>"}, [name], [])]
    assert seen[0][3][1] == [500, {"message": "container <c> is not connected to network dyn-keep"}]
    assert seen[0][4] == ("connect the other by id", [200, None], {"dyn-keep": "<two>"}, [name], [name])
    assert seen[0][5][1] == [403, {"message": f"endpoint with name {name} already exists in network dyn-keep"}]
    assert seen[0][7] == ("stopped and started", None, {"dyn-keep": "<two>"}, [], [name])
    assert seen[1] == seen[0]
