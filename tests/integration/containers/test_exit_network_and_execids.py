"""Two details of dockerd's container bookkeeping: ``wait`` returns only once the container's
network is gone (the saved record too shows no address), and container inspect lists the
container's exec instances (``ExecIDs``), which ``rm`` forgets."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from dockyard.testing.daemon import NetnsDaemonProcess


@pytest.fixture(scope="module")
def bridged(busybox_archive: Path) -> Iterator[NetnsDaemonProcess]:
    """A daemon of our own in its own netns: the default bridge it makes lands there."""
    with NetnsDaemonProcess(log_level="warn") as daemon:
        with contextlib.closing(daemon.client()) as client, open(busybox_archive, "rb") as f:
            client.images.load(f.read())
        yield daemon


def test_wait_returns_after_the_network_is_gone(bridged: NetnsDaemonProcess) -> None:
    with contextlib.closing(bridged.client()) as client:
        for _ in range(5):
            c = client.containers.run("busybox", ["sh", "-c", "exit 3"], detach=True)
            assert c.wait()["StatusCode"] == 3
            settings = client.api.inspect_container(c.id)["NetworkSettings"]
            saved = _saved_once_exited(bridged.root / "containers" / c.id / "config.v2.json")
            c.remove()
            for view in (settings, saved):
                assert view.get("IPAddress", "") == ""
                assert all(not ep.get("IPAddress") for ep in (view.get("Networks") or {}).values())


def _saved_once_exited(path: Path) -> dict[str, Any]:
    """The saved record's network settings once it records the exit (the save follows the
    answer to wait by a moment; it must not hold the address either)."""
    deadline = time.monotonic() + 5
    while True:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        if not record["state"]["Running"] or time.monotonic() > deadline:
            settings: dict[str, Any] = record["network_settings"]
            return settings
        time.sleep(0.01)


def test_inspect_lists_exec_ids_and_rm_forgets_them(client: Any) -> None:
    c = client.containers.run("busybox", ["sleep", "100"], detach=True)
    assert client.api.inspect_container(c.id)["ExecIDs"] is None
    first = client.api.exec_create(c.id, "true")["Id"]
    second = client.api.exec_create(c.id, "true")["Id"]
    assert sorted(client.api.inspect_container(c.id)["ExecIDs"]) == sorted([first, second])
    # as dockerd 20.10 answered: an exec leaves the list when it ends or fails to start, and
    # stays inspectable; one still running stays listed
    client.api.exec_start(first)
    failed = client.api.exec_create(c.id, "nosuchcmd")["Id"]
    client.api.exec_start(failed)
    running = client.api.exec_create(c.id, ["sleep", "100"])["Id"]
    client.api.exec_start(running, detach=True)
    for done in (first, failed):  # its exit is recorded just after its stream ends
        deadline = time.monotonic() + 10
        while client.api.exec_inspect(done)["Running"] and time.monotonic() < deadline:
            time.sleep(0.02)
    assert sorted(client.api.inspect_container(c.id)["ExecIDs"]) == sorted([second, running])
    assert client.api.exec_inspect(first)["ExitCode"] == 0
    assert client.api.exec_inspect(failed)["ExitCode"] == 127
    c.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        client.api.exec_inspect(first)
