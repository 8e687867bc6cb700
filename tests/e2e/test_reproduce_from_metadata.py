"""A notebook copied alone to another folder (no dockyard.lock.json beside it) still
reproduces from its own ``metadata.dockyard``: pulled by digest from dockyard's bundled
registry, or rebuilt, against dockyard's own daemon."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from dockyard.testing.daemon import DaemonProcess
from dockyard.testing.registry import RegistryProcess
from dockyard_jupyter import client as clients
from dockyard_jupyter.lockfile import LockFile, for_notebook

pytestmark = [pytest.mark.slow]
DOCKERFILE = "FROM busybox:latest\nARG V\nARG API_TOKEN\nLABEL v=$V token=$API_TOKEN\n"


@pytest.fixture
def shell(dockyard_daemon: DaemonProcess, busybox_image: str, dockyard_clean_images: Any,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("DOCKYARD_HOST", dockyard_daemon.host)
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("dockyard_jupyter")
    magics = ip.magics_manager.registry["DockerMagics"]
    magics.lock_file = True
    yield ip
    magics.lock_file = None
    clients.forget_client(dockyard_daemon.host)


def in_notebook(monkeypatch: pytest.MonkeyPatch, notebook: Path) -> None:
    """What Jupyter server gives a notebook's kernel: its folder as cwd, JPY_SESSION_NAME."""
    notebook.parent.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(notebook.parent)
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))


def test_a_notebook_alone_reproduces_from_its_metadata(
        shell: InteractiveShell, dockyard_registry: RegistryProcess, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    docker_ = lambda line: shell.run_line_magic("docker", line)
    remote = f"{dockyard_registry.host}/meta/app:1"
    made = tmp_path / "here" / "analysis.ipynb"
    in_notebook(monkeypatch, made)
    monkeypatch.setenv("API_TOKEN", "s3cret-at-build")
    image = shell.run_cell_magic("dockerfile", "-t meta/app:1 --build-arg V=7 "
                                 "--build-arg API_TOKEN", DOCKERFILE)
    assert image.labels == {"v": "7", "token": "s3cret-at-build"}
    docker_(f"tag meta/app:1 {remote}")
    docker_(f"push {remote}")
    lock = LockFile.load(made.parent).data
    assert lock["notebooks"] == {"analysis.ipynb": {"images": ["meta/app:1"], "runs": []}}
    record = for_notebook(lock, "analysis.ipynb")      # what the panel puts in the metadata
    assert "s3cret" not in json.dumps(record)
    assert "s3cret" not in (made.parent / "dockyard.lock.json").read_text()

    copied = tmp_path / "elsewhere" / "analysis.ipynb"     # the .ipynb alone, no lock
    copied.parent.mkdir()
    copied.write_text(json.dumps({"cells": [], "metadata": {"dockyard": record},
                                  "nbformat": 4, "nbformat_minor": 5}))
    in_notebook(monkeypatch, copied)
    docker_(f"rmi meta/app:1 {remote}")
    [pulled] = docker_("reproduce")
    assert pulled.id == image.id and "meta/app:1" in pulled.tags
    assert f"pulling {dockyard_registry.host}/meta/app@sha256:" in capsys.readouterr().out
    assert not (copied.parent / "dockyard.lock.json").exists()   # reproducing records nothing

    docker_(f"rmi -f {image.id}")
    monkeypatch.delenv("JPY_SESSION_NAME")                     # e.g. a terminal IPython
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("API_TOKEN", "s3cret-here")
    [rebuilt] = docker_("reproduce --build --from elsewhere/analysis.ipynb meta/app:1")
    assert rebuilt.labels == {"v": "7", "token": "s3cret-here"} and "meta/app:1" in rebuilt.tags
    err = capsys.readouterr().err
    assert "build arg API_TOKEN was not recorded (a secret): taken from the environment" in err


def test_nothing_recorded_anywhere_is_one_clear_line(shell: InteractiveShell, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = tmp_path / "empty.ipynb"
    in_notebook(monkeypatch, notebook)
    notebook.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4}))
    with pytest.raises(UsageError, match=r"nothing to reproduce: no images recorded in .*"
                                         r"dockyard\.lock\.json"):
        shell.run_line_magic("docker", "reproduce")
    with pytest.raises(UsageError, match="no such notebook"):
        shell.run_line_magic("docker", "reproduce --from missing.ipynb")
