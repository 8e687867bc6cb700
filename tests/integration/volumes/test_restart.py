"""Volumes and their users across a daemon restart: metadata and content persist, a stopped
container still holds its volume, a running one keeps its mounts."""

from __future__ import annotations

from pathlib import Path

import docker.errors
import pytest

from dockyard.testing.daemon import DaemonProcess


def test_volumes_and_users_survive_a_restart(busybox_archive: Path) -> None:
    with DaemonProcess() as daemon:
        client = daemon.client()
        with open(busybox_archive, "rb") as f:
            list(client.api.load_image(f))
        client.api.create_volume("kept", labels={"a": "b"})
        client.containers.run("busybox", ["sh", "-c", "echo persisted > /v/f"], volumes=["kept:/v"],
                              network_mode="none", name="holder")
        running = client.containers.run("busybox", ["sleep", "60"], volumes=["kept:/v"], detach=True,
                                        network_mode="none")
        client.close()
        daemon.restart()
        client = daemon.client()
        assert client.api.inspect_volume("kept")["Labels"] == {"a": "b"}
        with pytest.raises(docker.errors.APIError, match="remove kept: volume is in use"):
            client.api.remove_volume("kept")
        out = client.api.exec_start(client.api.exec_create(running.id, ["cat", "/v/f"])["Id"])
        assert out == b"persisted\n"
        client.api.remove_container(running.id, force=True)
        client.api.remove_container("holder")
        client.api.remove_volume("kept")
        client.close()
