"""``POST /networks/create`` side by side with a private dockerd 20.10: its checks in its order
and words (predefined names, subnets Go's ParseCIDR refuses, drivers, scope and ingress without a
swarm, IPAM drivers, several subnets, sub-pools, gateways), auxiliary addresses (held, never
handed out, refused where dockerd refuses them), which IPv4 gateway inspect shows, an IPv4
``IPRange`` outside its subnet, ``--config-only`` templates and ``--config-from`` networks, and
prune (a stopped or created container naming a network does not keep it). An unknown driver's
refusal is compared with dockerd's recorded answer (its plugin lookup takes 15 s).

Through the raw API (docker-py's request plumbing): the docker CLI checks several of these
itself. Each daemon works in a /16 of its own (both bridges live in the host's network
namespace); messages are compared with that prefix swapped. A create dockerd 20.10 refuses after
its allocator took the pool keeps that pool taken (a dockerd bug), so no case reuses a subnet.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from sidebyside import ApiSide, tidied

from dockyard.testing.dockerd import Dockerd

PREFIX = {"dockyard": "10.241.", "dockerd": "10.242."}
_case = itertools.count(1)


class Side(ApiSide):
    """One daemon through docker-py's API client, in a /16 of its own."""

    def __init__(self, name: str, host: str) -> None:
        super().__init__(name, host)
        self.prefix = PREFIX[name]

    def swap(self, value: Any) -> Any:
        """``value`` with this daemon's prefix written as dockerd's, ids and times blanked."""
        text = json.dumps(value).replace(self.prefix, PREFIX["dockerd"])
        decoded = json.loads(text)
        if isinstance(decoded, dict):
            for key in ("Id", "Created"):
                if key in decoded:
                    decoded[key] = "<blank>"
        return decoded


@pytest.fixture
def sides(dockyard_daemon: Any, busybox_image: str, dockerd: Dockerd) -> Iterator[list[Side]]:
    """dockerd and the session daemon; every network and container a test made goes after it."""
    with tidied([Side("dockerd", dockerd.host), Side("dockyard", dockyard_daemon.host)]) as made:
        yield made


def _body(template: str, side: Side, block: int) -> Any:
    return json.loads(template.replace("P.", f"{side.prefix}{block}."))


REFUSALS = [
    '{"Name": "default"}',
    '{"Name": "bridge", "Scope": "swarm"}',
    '{"Name": "none", "IPAM": {"Config": [{"Subnet": "bogus"}]}}',
    '{"Name": "dyn-k", "IPAM": {"Config": [{"Subnet": "bogus"}]}}',
    '{"Name": "dyn-k", "IPAM": {"Config": [{"Subnet": "P.0"}]}}',
    '{"Name": "dyn-k", "IPAM": {"Config": [{"IPRange": "P.0/25"}]}}',
    '{"Name": "dyn-k", "EnableIPv6": true, "IPAM": {"Config": [{"Subnet": "fd00::/129"}]}}',
    '{"Name": "dyn-k", "Driver": "nope", "IPAM": {"Config": [{"Subnet": "bogus"}]}}',
    '{"Name": "dyn-k", "Driver": "nope", "ConfigOnly": true, "Internal": true}',
    '{"Name": "dyn-k", "Scope": "swarm"}',
    '{"Name": "dyn-k", "Scope": "global"}',
    '{"Name": "dyn-k", "Ingress": true}',
    '{"Name": "dyn-k", "Scope": "swarm", "Ingress": true}',
    '{"Name": "dyn-k", "Driver": "host", "Scope": "swarm"}',
    '{"Name": "dyn-k", "Driver": "null"}',
    '{"Name": "dyn-k", "IPAM": {"Driver": "null"}}',
    '{"Name": "dyn-k", "ConfigOnly": true, "Scope": "local"}',
    '{"Name": "dyn-k", "ConfigOnly": true, "Attachable": true}',
    '{"Name": "dyn-k", "ConfigFrom": {"Network": "nope"}}',
    '{"Name": "dyn-k", "IPAM": {"Config": [{"Subnet": "P.0/25"}, {"Subnet": "P.128/25"}]}}',
    '{"Name": "dyn-k", "IPAM": {"Config": [{"Subnet": "P.0/24", "IPRange": "bogus"}]}}',
    '{"Name": "dyn-k", "IPAM": {"Config": [{"Subnet": "P.0/24", "Gateway": "bogus"}]}}',
    ('{"Name": "dyn-k", "IPAM": {"Config": [{"Subnet": "P.0/29", '
     '"AuxiliaryAddresses": {"a": "10.243.0.1"}}]}}'),
    ('{"Name": "dyn-k", "IPAM": {"Config": [{"Subnet": "P.0/29", "Gateway": "P.3", '
     '"AuxiliaryAddresses": {"a": "P.3"}}]}}'),
    '{"Name": "dyn-k", "IPAM": {"Config": [{"Subnet": "P.0/29", "AuxiliaryAddresses": {"a": "P.0"}}]}}',
    '{"Name": "dyn-k", "IPAM": {"Config": [{"Subnet": "P.0/29", "AuxiliaryAddresses": {"a": "P.7"}}]}}',
    '{"Name": "dyn-k", "IPAM": {"Config": [{"Subnet": "P.0/29", "AuxiliaryAddresses": {"a": "P.1"}}]}}',
    '{"Name": "dyn-k", "IPAM": {"Config": [{"Subnet": "P.0/29", "AuxiliaryAddresses": {"a": "bogus"}}]}}',
]


@pytest.mark.parametrize("template", REFUSALS)
def test_a_create_is_refused_as_dockerd_refuses_it(sides: list[Side], template: str) -> None:
    block = next(_case)
    answers = []
    for side in sides:
        status, body = side.call("POST", "/networks/create", _body(template, side, block))
        answers.append((status, side.swap(body)))
        assert "dyn-k" not in {n["Name"] for n in side.api.networks()}, side.name
    assert answers[0][0] >= 400, answers[0]
    assert answers[1] == answers[0]


# A driver dockerd 20.10 does not have is looked up as a v1 plugin (moby's pkg/plugins: a
# socket in /run/docker/plugins, a spec in /etc/docker/plugins or /usr/lib/docker/plugins),
# retried for 15 s (1, 2, 4 and 8 s: its log says "Unable to locate plugin: nope, retrying in
# 1s" … "8s") whatever those directories hold, before its 404: no layout makes it answer
# sooner with the same words. So dockerd's answers were recorded once — a private dockerd
# 20.10.24+dfsg1 (testing.dockerd.start_dockerd), each body POSTed by
# docker.APIClient(version="1.41")._post_json as ApiSide.call sends it — and dockyard is
# compared with them. Every other refusal is asked of dockerd itself.
UNKNOWN_PLUGINS: dict[str, tuple[int, Any]] = {
    '{"Name": "dyn-k", "Driver": "nope", "Scope": "swarm"}': (404, {"message": 'plugin "nope" not found'}),
    '{"Name": "dyn-k", "IPAM": {"Driver": "nope"}}': (404, {"message": 'plugin "nope" not found'}),
}


@pytest.mark.parametrize("template", list(UNKNOWN_PLUGINS))
def test_an_unknown_driver_is_refused_as_dockerd_refused_it(dockyard_daemon: Any, template: str) -> None:
    with tidied([Side("dockyard", dockyard_daemon.host)]) as (side,):
        status, body = side.call("POST", "/networks/create", json.loads(template))
        assert "dyn-k" not in {n["Name"] for n in side.api.networks()}
    assert (status, side.swap(body)) == UNKNOWN_PLUGINS[template]


def _created(side: Side, body: Any) -> dict[str, Any]:
    status, answer = side.call("POST", "/networks/create", body)
    assert status == 201, (side.name, answer)
    found, network = side.call("GET", f"/networks/{answer['Id']}")
    assert found == 200
    return dict(network)


def _address(side: Side, network: str, *, ip: str = "") -> tuple[int, str]:
    """Start a container on ``network`` (at ``ip``): the start's status, and its address."""
    config = {"EndpointsConfig": {network: {"IPAMConfig": {"IPv4Address": ip}}}} if ip else None
    cid = side.api.create_container("busybox", ["sleep", "30"], networking_config=config,
                                    host_config=side.api.create_host_config(network_mode=network))["Id"]
    status, _ = side.call("POST", f"/containers/{cid}/start")
    if status != 204:
        return status, ""
    address = side.api.inspect_container(cid)["NetworkSettings"]["Networks"][network]["IPAddress"]
    return status, side.swap(address)


def test_auxiliary_addresses_gateways_and_ranges_as_dockerd(sides: list[Side]) -> None:
    """Auxiliary addresses are shown and never given out (nor taken by --ip); inspect shows an
    IPv4 gateway only when one was asked for or the pool was picked; an IPRange outside its
    subnet means the addresses at the same offsets inside it."""
    block = next(_case)
    seen = []
    for side in sides:
        p = f"{side.prefix}{block}."
        aux = _created(side, {"Name": "dyn-aux", "IPAM": {"Config": [{
            "Subnet": f"{p}0/29", "AuxiliaryAddresses": {"r": f"{p}2", "s": f"{p}3"}}]}})
        given = _created(side, {"Name": "dyn-gw", "IPAM": {"Config": [{
            "Subnet": f"{p}64/26", "Gateway": f"{p}100"}]}})
        outside = _created(side, {"Name": "dyn-rng", "IPAM": {"Config": [{
            "Subnet": f"{p}128/26", "IPRange": f"10.243.{block}.176/28"}]}})
        pooled = _created(side, {"Name": "dyn-pool"})
        assert set(pooled["IPAM"]["Config"][0]) == {"Subnet", "Gateway"}, side.name
        seen.append((side.swap(aux["IPAM"]), side.swap(given["IPAM"]), side.swap(outside["IPAM"]),
                     _address(side, "dyn-aux"), _address(side, "dyn-aux", ip=f"{p}3"),
                     _address(side, "dyn-rng")))
    assert seen[0][3:] == ((204, f"10.242.{block}.4"), (403, ""), (204, f"10.242.{block}.177")), seen[0]  # a range's first: kept
    assert seen[1] == seen[0]


def test_config_only_networks_and_networks_made_from_them_as_dockerd(sides: list[Side]) -> None:
    """A --config-only network is a template: driver null, no bridge and no pool held, its
    IPAM config and options kept as given; nothing joins it; a --config-from network copies
    its pools, options and labels and refuses its own; the template cannot go while one
    uses it; prune leaves templates."""
    block = next(_case)
    seen = []
    for side in sides:
        p = f"{side.prefix}{block}."
        template = {"Name": "dyn-tmpl", "ConfigOnly": True, "Labels": {"l": "1"},
                    "Options": {"com.docker.network.bridge.enable_icc": "false"},
                    "IPAM": {"Config": [{"Subnet": f"{p}0/24", "IPRange": f"{p}128/25",
                                         "Gateway": f"{p}254", "AuxiliaryAddresses": {"a": f"{p}128"}}]}}
        shown = _created(side, template)
        twin = side.call("POST", "/networks/create", {**template, "Name": "dyn-tmpl2"})[0]
        refusals = [side.call("POST", "/networks/create", {"Name": "dyn-from", "ConfigFrom": {
            "Network": "dyn-tmpl"}, **extra}) for extra in (
                {"Labels": {"a": "b"}}, {"Options": {"a": "b"}}, {"EnableIPv6": True},
                {"IPAM": {"Config": [{"Subnet": f"{p}0/24"}]}})]
        made = _created(side, {"Name": "dyn-from", "ConfigFrom": {"Network": "dyn-tmpl"},
                               "Internal": True})
        again = side.call("POST", "/networks/create", {"Name": "dyn-from2",
                                                        "ConfigFrom": {"Network": "dyn-tmpl"}})
        chained = side.call("POST", "/networks/create", {"Name": "dyn-x", "ConfigFrom": {"Network": "dyn-from"}})
        removal = side.call("DELETE", "/networks/dyn-tmpl")
        joined = _address(side, "dyn-tmpl")
        created = side.api.create_container("busybox", ["sleep", "30"])["Id"]
        connect_created = side.call("POST", "/networks/dyn-tmpl/connect", {"Container": created})[0]
        start_after = side.call("POST", f"/containers/{created}/start")
        running = side.api.create_container("busybox", ["sleep", "30"])["Id"]
        side.api.start(running)
        connect_running = side.call("POST", "/networks/dyn-tmpl/connect", {"Container": running})
        address = _address(side, "dyn-from")
        side.call("POST", "/networks/prune")
        left = sorted(n["Name"] for n in side.api.networks() if n["Name"].startswith("dyn-"))
        seen.append((side.swap(shown), twin, [(s, side.swap(a)) for s, a in refusals], side.swap(made),
                     again[0], chained, removal, joined, connect_created, start_after,
                     connect_running, address, left))
    assert seen[0][0]["Driver"] == "null" and seen[0][3]["ConfigFrom"] == {"Network": "dyn-tmpl"}
    assert seen[0][-2:] == ((204, f"10.242.{block}.129"), ["dyn-from", "dyn-tmpl", "dyn-tmpl2"])
    assert seen[1] == seen[0]


def test_prune_takes_networks_only_stopped_or_created_containers_name(sides: list[Side]) -> None:
    """dockerd 20.10 prunes every user network without endpoints; a container's next start
    names the network gone: by the id its last run recorded, else (never started: inspect's
    NetworkID is "" until a start) by name."""
    seen = []
    for side in sides:
        network = _created(side, {"Name": "dyn-prune-named"})
        host_config = side.api.create_host_config(network_mode="dyn-prune-named")
        created = side.api.create_container("busybox", ["true"], host_config=host_config)["Id"]
        ran = side.api.create_container("busybox", ["true"], host_config=host_config)["Id"]
        recorded = side.api.inspect_container(created)["NetworkSettings"]["Networks"]["dyn-prune-named"]
        side.api.start(ran)
        side.api.wait(ran)
        status, pruned = side.call("POST", "/networks/prune")
        answers = [side.call("POST", f"/containers/{cid}/start") for cid in (created, ran)]
        seen.append((recorded["NetworkID"], status, "dyn-prune-named" in (pruned["NetworksDeleted"] or []),
                     [(code, body["message"].replace(network["Id"], "<id>")) for code, body in answers]))
    assert seen[0] == ("", 200, True, [(404, "network dyn-prune-named not found"),
                                       (404, "network <id> not found")])
    assert seen[1] == seen[0]


def test_templates_hold_no_pool_and_have_no_bridge(sides: list[Side]) -> None:
    """Two templates may name one subnet, and a network made from either takes it; a
    template makes no Linux bridge."""
    block = next(_case)
    side = sides[1]
    p = f"{side.prefix}{block}."
    for name in ("dyn-t1", "dyn-t2"):
        _created(side, {"Name": name, "ConfigOnly": True, "IPAM": {"Config": [{"Subnet": f"{p}0/24"}]}})
    made = _created(side, {"Name": "dyn-t-net", "ConfigFrom": {"Network": "dyn-t2"}})
    assert made["IPAM"]["Config"] == [{"Subnet": f"{p}0/24"}]
    links = json.loads(_ip_links())
    names = {link["ifname"] for link in links}
    assert f"br-{made['Id'][:12]}" in names
    templates = [n["Id"] for n in side.api.networks() if n["Name"] in ("dyn-t1", "dyn-t2")]
    assert len(templates) == 2 and not {f"br-{t[:12]}" for t in templates} & names


def _ip_links() -> str:
    return subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=True).stdout
