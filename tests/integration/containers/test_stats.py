"""GET /containers/{id}/stats from the container's cgroups, in dockerd's shape, through docker-py."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from standin import EngineStandIn, Server, start_box

from dockyard.containers.runtime import Runtime
from dockyard.linux import cgstats
from dockyard.linux.cgroups import Limits, detect
from dockyard.testing.busybox import busybox_rootfs

NETNS = f"dytest-stats-{os.getpid()}"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EngineStandIn, Server]]:
    base = tmp_path_factory.mktemp("stats")
    rootfs = busybox_rootfs(base / "rootfs")
    runtime = Runtime()
    engine = EngineStandIn(runtime)
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    subprocess.run(["ip", "link", "add", "dyst0", "type", "veth", "peer", "name", "eth0",
                    "netns", NETNS], check=True)
    boxes = []
    try:
        boxes.append(start_box(engine, base, rootfs, "busy", args=["sh", "-c", "while :; do :; done"],
                               limits=Limits(memory=64 << 20, pids=50))[1])
        boxes.append(start_box(engine, base, rootfs, "netbox", network=f"/run/netns/{NETNS}")[1])
        server = Server(engine, base / "api.sock")
        yield engine, server
        server.close()
    finally:
        for box in boxes:
            box.cleanup()
        runtime.close()
        subprocess.run(["ip", "link", "del", "dyst0"], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", NETNS], check=True)


@pytest.fixture
def api(env: tuple[EngineStandIn, Server]) -> Iterator[docker.APIClient]:
    client = docker.APIClient(base_url=f"unix://{env[1].path}", version="1.45")
    yield client
    client.close()


def cpu_percent(s: dict[str, Any]) -> float:
    """The docker CLI's formula."""
    cpu_delta = s["cpu_stats"]["cpu_usage"]["total_usage"] - s["precpu_stats"]["cpu_usage"]["total_usage"]
    system_delta = s["cpu_stats"]["system_cpu_usage"] - s["precpu_stats"].get("system_cpu_usage", 0)
    return float(cpu_delta / system_delta * s["cpu_stats"]["online_cpus"] * 100.0)


def test_one_shot_shape_and_limits(api: docker.APIClient) -> None:
    s = api.stats("busy", stream=False, one_shot=True)
    assert s["name"] == "/busy" and len(s["id"]) == 64
    assert s["preread"] == "0001-01-01T00:00:00Z" and s["read"].endswith("Z")
    assert s["memory_stats"]["limit"] == 64 << 20
    assert 0 < s["memory_stats"]["usage"] < 64 << 20
    assert "stats" in s["memory_stats"]
    assert s["pids_stats"] == {"current": 1, "limit": 50}  # the shell running the loop
    usage = s["cpu_stats"]["cpu_usage"]
    assert usage["total_usage"] > 0 and s["cpu_stats"]["online_cpus"] == os.cpu_count()
    assert s["cpu_stats"]["system_cpu_usage"] > usage["total_usage"]
    assert set(s["cpu_stats"]["throttling_data"]) == {"periods", "throttled_periods", "throttled_time"}
    assert s["precpu_stats"]["cpu_usage"]["total_usage"] == 0
    assert "networks" not in s  # --network none: only lo


def test_no_stream_has_precpu_for_a_cpu_percentage(api: docker.APIClient) -> None:
    s = api.stats("busy", stream=False)
    assert s["preread"] != "0001-01-01T00:00:00Z"
    assert 5.0 < cpu_percent(s) <= 100.0 * (os.cpu_count() or 1)  # a busy loop: up to one CPU (0 when idle)


def test_stream_sends_a_sample_per_second(api: docker.APIClient) -> None:
    samples = api.stats("busy", stream=True, decode=True)
    first, second = next(samples), next(samples)
    samples.close()
    assert second["precpu_stats"] == first["cpu_stats"] and second["preread"] == first["read"]


def test_networks_from_the_containers_netns(api: docker.APIClient) -> None:
    subprocess.run(["ip", "link", "set", "dyst0", "up"], check=True)
    subprocess.run(["ip", "-n", NETNS, "link", "set", "eth0", "up"], check=True)
    s = api.stats("netbox", stream=False, one_shot=True)
    assert set(s["networks"]) == {"eth0"}
    assert set(s["networks"]["eth0"]) == {"rx_bytes", "rx_packets", "rx_errors", "rx_dropped",
                                          "tx_bytes", "tx_packets", "tx_errors", "tx_dropped"}


def test_stopped_unknown_and_bad_arguments(api: docker.APIClient, env: Any) -> None:
    record = env[0].containers.get("netbox")
    record.state["Running"] = False
    try:
        s = api.stats("netbox", stream=False)
    finally:
        record.state["Running"] = True
    assert s["read"] == "0001-01-01T00:00:00Z" and s["memory_stats"] == {} and s["name"] == "/netbox"
    with pytest.raises(docker.errors.NotFound, match="No such container: ghost"):
        api.stats("ghost", stream=False)
    res = api._get(api._url("/containers/busy/stats"), params={"stream": "1", "one-shot": "1"})
    assert res.status_code == 400
    assert res.json()["message"] == "cannot have stream=true and one-shot=true"


def test_cgroup_v2_reader_on_a_real_v2_cgroup() -> None:
    """This host's v2 mount is the hybrid's empty "unified" one: only the core files (cpu.stat)
    exist there, which is what the v2 reader must cope with too."""
    hier = detect()
    assert hier.v2 is not None
    path = os.path.join(hier.v2, f"dytest-stats-{os.getpid()}")
    os.mkdir(path)
    busy = subprocess.Popen(["sh", "-c", "while :; do :; done"])
    try:
        with open(f"{path}/cgroup.procs", "w") as f:
            f.write(str(busy.pid))
        s = cgstats._sample_v2(path)
        for _ in range(100):  # the machine may be busy: wait for 50 ms of CPU, not a fixed time
            if s.cpu_total > 50_000_000:
                break
            time.sleep(0.05)
            s = cgstats._sample_v2(path)
        assert s.version == "v2" and s.cpu_total > 50_000_000 and s.cpu_user > 0
        assert s.memory_usage is None and s.memory_limit is None  # no memory controller here
    finally:
        busy.kill()
        busy.wait()
        os.rmdir(path)
