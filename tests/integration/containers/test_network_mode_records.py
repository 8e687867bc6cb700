"""NetworkMode across a daemon restart: records keep "default" as dockerd does (and a running
container keeps its bridge endpoint), while the records older versions wrote — which hold the
network "default" meant, "bridge" — are re-read and still start on the bridge."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from dockyard.testing.daemon import NetnsDaemonProcess


def _set_mode(record_file: Path, mode: str) -> None:
    """The record as a version before "default" was kept wrote it."""
    record = json.loads(record_file.read_text())
    record["host_config"]["NetworkMode"] = mode
    record_file.write_text(json.dumps(record))


def test_default_and_older_bridge_records_survive_a_restart(busybox_archive: Path) -> None:
    with NetnsDaemonProcess(log_level="warn") as daemon:
        daemon.load(busybox_archive)
        with contextlib.closing(daemon.client()) as client:
            running = client.containers.run("busybox", "sleep 300", detach=True)
            address = client.api.inspect_container(running.id)["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
            assert address
            old = client.containers.create("busybox", "sleep 300")
            fresh = client.containers.create("busybox", "sleep 300")
        daemon.stop()
        _set_mode(daemon.root / "containers" / old.id / "config.v2.json", "bridge")
        daemon.start()
        with contextlib.closing(daemon.client()) as client:
            api = client.api
            shown = api.inspect_container(running.id)
            assert shown["State"]["Running"] and shown["HostConfig"]["NetworkMode"] == "default"
            assert shown["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == address
            assert api.inspect_container(old.id)["HostConfig"]["NetworkMode"] == "bridge"
            assert api.inspect_container(fresh.id)["HostConfig"]["NetworkMode"] == "default"
            modes = {c["Id"]: c["HostConfig"]["NetworkMode"] for c in api.containers(all=True)}
            assert modes == {running.id: "default", old.id: "bridge", fresh.id: "default"}
            for made in (old, fresh):
                api.start(made.id)
                networks = api.inspect_container(made.id)["NetworkSettings"]["Networks"]
                assert list(networks) == ["bridge"] and networks["bridge"]["IPAddress"]
            on_bridge = api.inspect_network("bridge")["Containers"]
            assert set(on_bridge) == {running.id, old.id, fresh.id}
