"""examples/quickstart.ipynb, executed top to bottom in a real kernel (nbclient) against a
private dockerd and dockyard's bundled registry, asserting on what a newcomer would see."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from dockyard.testing.dockerd import Dockerd

pytestmark = [pytest.mark.interop, pytest.mark.slow]
NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"
SUMMARY = ("Lima   n=2 mean=21.0 min=19 max=23\nOslo   n=3 mean=4.0 min=1 max=7\n"
           "Perth  n=2 mean=28.0 min=25 max=31\n")


def text_of(cell: Any) -> str:
    parts = []
    for out in cell.outputs:
        if out["output_type"] == "error":
            parts.append(f"ERROR {out['ename']}: {out['evalue']}")
        parts.append(out.get("text") or out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def stop_leftovers(folder: Path) -> None:
    """A notebook that failed half-way leaves its registry running: stop that pid."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            mine = b"registry serve" in cmdline and Path(os.readlink(proc / "cwd")) == folder
        except OSError:
            continue
        if mine:
            os.kill(int(proc.name), signal.SIGTERM)


def cell_with(nb: Any, source_start: str) -> Any:
    return next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source_start))


def test_quickstart_runs_end_to_end(real_dockerd: Dockerd, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_HOST", real_dockerd.host)
    shutil.copy(NOTEBOOK, tmp_path / "quickstart.ipynb")
    nb = nbformat.read(tmp_path / "quickstart.ipynb", as_version=4)
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        stop_leftovers(tmp_path)
    assert "Loaded image: busybox:latest" in text_of(cell_with(nb, "from pathlib"))
    build = text_of(cell_with(nb, "%%dockerfile"))
    assert "Step 6/6 : ENTRYPOINT" in build and "Successfully tagged quickstart/env:1" in build
    first_run = text_of(cell_with(nb, "%docker run --rm --network none -v .:/data quickstart"))
    assert first_run.endswith(SUMMARY) and first_run.startswith("analysing data.csv in ")
    assert "quickstart/env" in text_of(cell_with(nb, "%docker images"))
    assert "Pushed" in text_of(cell_with(nb, "%docker tag"))
    assert "Status: Downloaded newer image" in text_of(cell_with(nb, "%docker pull"))
    assert text_of(cell_with(nb, "%docker run --rm --network none -v .:/data {registry_host}"
                             )).endswith(SUMMARY)
    lock = json.loads((tmp_path / "dockyard.lock.json").read_text())
    env = lock["images"]["quickstart/env:1"]
    assert env["dockerfile"].startswith("FROM busybox:latest") and env["context"] == "."
    assert next(iter(env["pushed"])).endswith("/quickstart/env:1")
    engine = real_dockerd.client()
    try:
        assert not [t for i in engine.images.list() for t in i.tags if "quickstart" in t]
        assert not engine.containers.list(all=True)
    finally:
        engine.close()


def test_quickstart_is_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
