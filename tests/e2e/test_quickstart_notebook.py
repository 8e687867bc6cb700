"""examples/quickstart.ipynb, executed top to bottom in a real kernel (nbclient) against
dockyard's own daemon (a private one named by DOCKYARD_HOST) and against a private real dockerd
(the front end drives any Engine API daemon), asserting on what a newcomer would see. The
default path, a bundled daemon started on first use, is test_quickstart_entry.py's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from quickstart_checks import NOTEBOOK, check_notebook, leftover_registries

from dockyard.testing.daemon import DaemonProcess
from dockyard.testing.dockerd import Dockerd

pytestmark = [pytest.mark.slow]


def execute(folder: Path, monkeypatch: pytest.MonkeyPatch, host: str) -> Any:
    monkeypatch.setenv("DOCKYARD_HOST", host)
    shutil.copy(NOTEBOOK, folder / "quickstart.ipynb")
    nb = nbformat.read(folder / "quickstart.ipynb", as_version=4)  # type: ignore[no-untyped-call]
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        stopped = leftover_registries(folder)
    assert not stopped, "the notebook left its registry running"
    return nb


def check_lock(folder: Path) -> None:
    lock = json.loads((folder / "dockyard.lock.json").read_text())
    env = lock["images"]["quickstart/env:1"]
    assert env["dockerfile"].startswith("FROM busybox:latest") and env["context"] == "."
    assert next(iter(env["pushed"])).endswith("/quickstart/env:1")


def check_nothing_left(engine: Any) -> None:
    try:
        assert not [t for i in engine.images.list() for t in i.tags if "quickstart" in t]
        assert not engine.containers.list(all=True)
    finally:
        engine.close()


def test_quickstart_on_a_dockyard_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No bridge network is made (the runs use --network none), and the daemon must share the
    # kernel's loopback to reach the notebook's registry: a plain DaemonProcess.
    with DaemonProcess() as daemon:
        nb = execute(tmp_path, monkeypatch, daemon.host)
        check_notebook(nb, tmp_path)
        check_lock(tmp_path)
        check_nothing_left(daemon.client())


@pytest.mark.interop
def test_quickstart_on_real_dockerd(real_dockerd: Dockerd, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    nb = execute(tmp_path, monkeypatch, real_dockerd.host)
    check_notebook(nb, tmp_path)
    check_lock(tmp_path)
    check_nothing_left(real_dockerd.client())


def test_quickstart_is_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]
    nbformat.validate(nb)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
