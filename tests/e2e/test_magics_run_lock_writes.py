"""``%docker run`` records the image it ran in dockyard.lock.json, but running the same image
again leaves the file alone (no rewrite, no fsync on every run of a notebook's loop)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from dockyard.testing.daemon import DaemonProcess
from dockyard_jupyter import client as clients


@pytest.fixture
def shell(dockyard_daemon: DaemonProcess, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCKYARD_HOST", dockyard_daemon.host)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "dockyard_jupyter")
    ip.run_line_magic("config", "DockerMagics.lock_file = True")
    yield ip
    ip.run_line_magic("config", "DockerMagics.lock_file = None")
    clients.forget_client(dockyard_daemon.host)


def test_a_repeated_run_does_not_rewrite_the_lock(shell: InteractiveShell, busybox_image: str,
                                                  dockyard_client: Any, tmp_path: Path) -> None:
    before = {c.id for c in dockyard_client.containers.list(all=True)}
    shell.run_line_magic("docker", "run --rm --network none busybox true")
    lock = tmp_path / "dockyard.lock.json"
    first = os.stat(lock).st_ino
    assert json.loads(lock.read_text())["runs"]["busybox"] == busybox_image
    shell.run_line_magic("docker", "run --rm --network none busybox true")
    assert os.stat(lock).st_ino == first                 # not replaced: nothing changed
    shell.run_line_magic("docker", "tag busybox lockcheck/again:1")
    try:
        shell.run_line_magic("docker", "run --rm --network none lockcheck/again:1 true")
        assert os.stat(lock).st_ino != first             # a new record is written
        assert json.loads(lock.read_text())["runs"]["lockcheck/again:1"] == busybox_image
    finally:
        dockyard_client.images.remove("lockcheck/again:1")
    assert {c.id for c in dockyard_client.containers.list(all=True)} == before


def test_a_damaged_lock_stops_only_the_verbs_that_record(shell: InteractiveShell,
                                                         busybox_image: str,
                                                         tmp_path: Path) -> None:
    """A lock file the user broke (say, a merge conflict) is never overwritten: run, build and
    push refuse with one line naming it, while verbs with nothing to record still work."""
    lock = tmp_path / "dockyard.lock.json"
    lock.write_text("<<<<<<< HEAD\n")
    images = shell.run_line_magic("docker", "images -q")
    assert busybox_image.split(":")[1][:12] in images
    shell.run_line_magic("docker", "ps -a")
    with pytest.raises(UsageError, match="dockyard.lock.json is not valid JSON"):
        shell.run_line_magic("docker", "run --rm --network none busybox true")
    with pytest.raises(UsageError, match="dockyard.lock.json is not valid JSON"):
        shell.run_cell_magic("dockerfile", "-t lockcheck/damaged", "FROM busybox\n")
    assert lock.read_text() == "<<<<<<< HEAD\n"
