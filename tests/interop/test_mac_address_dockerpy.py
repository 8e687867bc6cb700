"""The container-wide ``Config.MacAddress`` — docker-py's ``mac_address=`` and every client
below API 1.44 — against the dockyard daemon, beside a private dockerd 20.10 (API 1.41) where
their rules are the same, and the docker CLI 28's per-endpoint ``--mac-address``: the MAC the
container's eth0 has (read inside it), what inspect shows, the refusals and their words.

dockyard follows dockerd 25+ (API 1.44/1.45) where 20.10 differs: a bad MAC is refused at create
(20.10 failed the start: "address zz:…: invalid MAC address"), and ``--network none`` with a
container-wide MAC is refused below 1.44 (20.10 took it and had no interface to give it to).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest

from dockyard.api.compat import MAC_CONFLICT, MAC_DEPRECATED
from dockyard.testing.daemon import DockerCLI
from dockyard.testing.dockerd import Dockerd

MAC = "02:42:ac:11:00:99"
ETH0 = "cat /sys/class/net/eth0/address; sleep 300"


@pytest.fixture(scope="module")
def dockerd(dockerd: Dockerd) -> Iterator[Dockerd]:
    """The private dockerd (conftest's) with a "macnet" network — removed before it stops:
    dockerd keeps a network's bridge on the host after it exits."""
    client = dockerd.client()
    try:
        net = client.networks.create("macnet", ipam=docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet="10.252.9.0/24")]))
        try:
            yield dockerd
        finally:
            for c in client.api.containers(all=True):
                client.api.remove_container(c["Id"], force=True)
            net.remove()
    finally:
        client.close()


@pytest.fixture
def dy(client: Any) -> Iterator[Any]:
    """The session daemon's docker-py client with a "macnet" network (removed after)."""
    net = client.networks.create("macnet", ipam=docker.types.IPAMConfig(
        pool_configs=[docker.types.IPAMPool(subnet="10.252.10.0/24")]))
    yield client
    for c in client.api.containers(all=True, filters={"network": "macnet"}):
        client.api.remove_container(c["Id"], force=True)
    net.remove()


def _api(host: str, version: str) -> docker.APIClient:
    return docker.APIClient(base_url=host, version=version, timeout=60)


def _create(api: docker.APIClient, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A raw ``POST /containers/create`` (docker-py's own checks kept out of the way)."""
    full = {"Image": "busybox", "Cmd": ["sh", "-c", ETH0], **body}
    res = api._post_json(api._url("/containers/create"), data=full)
    return res.status_code, res.json()


def _eth0(api: docker.APIClient, cid: str) -> str:
    """The address eth0 has inside the running container."""
    run = api.exec_create(cid, ["cat", "/sys/class/net/eth0/address"])
    return str(api.exec_start(run["Id"]).decode().strip())


def _macs(api: docker.APIClient, cid: str) -> tuple[str | None, str, dict[str, str]]:
    info = api.inspect_container(cid)
    networks = info["NetworkSettings"]["Networks"] or {}
    return (info["Config"].get("MacAddress"), info["NetworkSettings"].get("MacAddress", ""),
            {name: ep["MacAddress"] for name, ep in networks.items()})


def _run_with_mac(host: str, version: str) -> dict[str, Any]:
    """docker-py as a user writes it, pinned to ``version``: a container on "macnet" with a
    MAC address; what it shows running, after a stop and after a second start."""
    client = docker.DockerClient(base_url=host, version=version, timeout=60)
    api = client.api
    try:
        ctr = client.containers.run("busybox", ["sh", "-c", ETH0], network="macnet",
                                    mac_address=MAC, detach=True)
        facts = {"eth0": _eth0(api, ctr.id), "running": _macs(api, ctr.id)}
        ctr.stop(timeout=1)
        facts["stopped"] = _macs(api, ctr.id)
        ctr.start()
        facts["restarted"] = _eth0(api, ctr.id)
        ctr.remove(force=True)
        return facts
    finally:
        client.close()


def test_dockerpy_mac_address_reaches_eth0_as_with_dockerd(dockerd: Dockerd, dockyard_daemon: Any,
                                                          dy: Any) -> None:
    """API 1.41: the container-wide MAC is the main network's endpoint's, kept across starts;
    inspect shows it in Config and, while running, on the network (never in the top-level
    field, which only the default bridge fills) — the same on both daemons."""
    theirs = _run_with_mac(dockerd.host, "1.41")
    ours = _run_with_mac(dockyard_daemon.host, "1.41")
    assert theirs == {"eth0": MAC, "running": (MAC, "", {"macnet": MAC}),
                      "stopped": (MAC, "", {"macnet": ""}), "restarted": MAC}
    assert ours == theirs


@pytest.mark.parametrize("mode", ["host", "container"])
def test_mac_address_with_a_shared_network_refused_as_dockerd(dockerd: Dockerd, dockyard_daemon: Any,
                                                              dy: Any, mode: str) -> None:
    answers = []
    for host in (dockerd.host, dockyard_daemon.host):
        api = _api(host, "1.41")
        other = api.create_container("busybox", ["sleep", "300"],
                                     host_config=api.create_host_config(network_mode="macnet"))
        api.start(other["Id"])
        network = "host" if mode == "host" else f"container:{other['Id']}"
        answers.append(_create(api, {"MacAddress": MAC, "HostConfig": {"NetworkMode": network}}))
        api.remove_container(other["Id"], force=True)
    assert answers[0] == (400, {"message": MAC_CONFLICT})
    assert answers[1] == answers[0]


def test_bad_mac_address_dockerd_20_10_fails_the_start(dockerd: Dockerd) -> None:
    """Recorded: 20.10 took it at create and failed the start with Go's ParseMAC words (dockyard
    refuses it at create, as dockerd 25+: test_bad_mac_address_refused_at_create)."""
    api = _api(dockerd.host, "1.41")
    code, made = _create(api, {"MacAddress": "zz:42:ac:11:00:99", "HostConfig": {"NetworkMode": "macnet"}})
    assert code == 201
    try:
        with pytest.raises(docker.errors.APIError) as failed:
            api.start(made["Id"])
        assert failed.value.explanation == "address zz:42:ac:11:00:99: invalid MAC address"
    finally:
        api.remove_container(made["Id"], force=True)


@pytest.mark.parametrize("version", ["1.41", "1.45"])
def test_bad_mac_address_refused_at_create(dockyard_daemon: Any, dy: Any, version: str) -> None:
    api = _api(dockyard_daemon.host, version)
    for mac in ("zz:42:ac:11:00:99", "02:42:ac:11:00", "nonsense"):
        assert _create(api, {"MacAddress": mac, "HostConfig": {"NetworkMode": "macnet"}}) == \
            (400, {"message": f"invalid config for network macnet: invalid MAC address {mac}"})
    endpoint = {"EndpointsConfig": {"macnet": {"MacAddress": "zz"}}}
    code, answer = _create(api, {"HostConfig": {"NetworkMode": "macnet"}, "NetworkingConfig": endpoint})
    if version == "1.41":  # an endpoint's MAC did not exist before 1.44: dropped, not checked
        assert code == 201, answer
    else:
        assert (code, answer) == (400, {"message": "invalid config for network macnet: invalid MAC address zz"})


def test_none_network_with_mac_address_refused_below_1_44(dockyard_daemon: Any, dy: Any) -> None:
    api = _api(dockyard_daemon.host, "1.43")
    assert _create(api, {"MacAddress": MAC, "HostConfig": {"NetworkMode": "none"}}) == \
        (400, {"message": MAC_CONFLICT})


def test_dockerpy_default_api_version_migrates_with_a_warning(dockyard_daemon: Any, dy: Any) -> None:
    """docker-py 7 speaks 1.44 and still sends ``Config.MacAddress``: dockerd 25+ moves it to
    the main network's endpoint — here the default bridge — and warns; inspect fills
    ``Config.MacAddress`` in from the endpoint (dockerd's backfill)."""
    api = dy.api
    assert tuple(int(p) for p in api._version.split(".")) >= (1, 44)
    made = api.create_container("busybox", ["sh", "-c", ETH0], mac_address=MAC)
    assert made["Warnings"] == [MAC_DEPRECATED]
    assert _macs(api, made["Id"]) == (MAC, "", {"bridge": MAC})
    api.start(made["Id"])
    try:
        assert _eth0(api, made["Id"]) == MAC
        assert _macs(api, made["Id"]) == (MAC, MAC, {"bridge": MAC})
    finally:
        api.remove_container(made["Id"], force=True)


def test_shared_network_with_mac_address_warns_from_1_44(dockyard_daemon: Any, dy: Any) -> None:
    """From 1.44 dockerd no longer refuses a container-wide MAC with host/none networking: it
    warns that the field is deprecated and drops it."""
    api = _api(dockyard_daemon.host, "1.45")
    for mode in ("host", "none"):
        code, made = _create(api, {"MacAddress": MAC, "HostConfig": {"NetworkMode": mode}})
        assert (code, made["Warnings"]) == (201, [MAC_DEPRECATED])
        assert _macs(api, made["Id"])[0] is None
        api.remove_container(made["Id"], force=True)


def test_conflicting_mac_addresses_from_1_44(dockyard_daemon: Any, dy: Any) -> None:
    api = _api(dockyard_daemon.host, "1.45")
    other = {"MacAddress": "02:42:ac:11:00:77"}
    assert _create(api, {"MacAddress": MAC, "HostConfig": {"NetworkMode": "macnet"},
                         "NetworkingConfig": {"EndpointsConfig": {"macnet": other}}}) == \
        (400, {"message": "the container-wide MAC address must match the endpoint-specific MAC "
                          "address for the main network, or be left empty"})
    assert _create(api, {"MacAddress": MAC, "HostConfig": {"NetworkMode": "macnet"},
                         "NetworkingConfig": {"EndpointsConfig": {"bridge": {}}}}) == \
        (400, {"message": "if a container-wide MAC address is supplied, HostConfig.NetworkMode "
                          "must match the identity of a network in NetworkSettings.Networks"})


def test_endpoint_mac_address_below_1_44_is_ignored(dockyard_daemon: Any, dy: Any) -> None:
    """Before 1.44 an endpoint had no MAC of its own (dockerd 25+ drops it): a generated one."""
    api = _api(dockyard_daemon.host, "1.43")
    endpoint = {"EndpointsConfig": {"macnet": {"MacAddress": MAC}}}
    code, made = _create(api, {"HostConfig": {"NetworkMode": "macnet"}, "NetworkingConfig": endpoint})
    assert code == 201, made
    api.start(made["Id"])
    try:
        assert _eth0(api, made["Id"]) != MAC
        assert _macs(api, made["Id"])[0] is None
    finally:
        api.remove_container(made["Id"], force=True)


def test_docker_cli_mac_address_kept_across_restarts(dockyard_daemon: Any, dy: Any) -> None:
    """The docker CLI 28 sends ``--mac-address`` on the endpoint: the address eth0 has, again
    after ``docker restart`` (a generated one must not take its place), and inspect's fields."""
    cli: Callable[..., Any] = DockerCLI(dockyard_daemon.host)
    run = cli("run", "-d", "--network", "macnet", "--mac-address", "02-42-AC-11-00-98", "busybox",
              "sh", "-c", ETH0)
    assert run.returncode == 0, run.stderr
    cid = run.stdout.strip()
    api = dy.api
    assert _eth0(api, cid) == "02:42:ac:11:00:98"
    assert cli("restart", "-t", "1", cid).returncode == 0
    assert _eth0(api, cid) == "02:42:ac:11:00:98"
    [info] = json.loads(cli("inspect", cid).stdout)
    assert info["Config"]["MacAddress"] == "02-42-AC-11-00-98"  # as asked (dockerd's backfill)
    assert info["NetworkSettings"]["Networks"]["macnet"]["MacAddress"] == "02:42:ac:11:00:98"
