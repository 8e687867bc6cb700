"""A notebook carries its images' record: in a real JupyterLab (Playwright, Debian's chromium)
a %%dockerfile cell runs in the notebook's kernel against dockyard's daemon, the panel merges
the lock the kernel wrote into metadata.dockyard, and saving puts it in the .ipynb; that
.ipynb, copied alone, is enough for ``%docker reproduce``."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from jupyter_procs import JupyterServer
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import Error as PlaywrightError
from test_labextension_browser import (  # noqa: F401 - browser is a fixture
    browser,
    shot,
    start_lab,
    stop_server,
)

from dockyard.testing.daemon import DaemonProcess
from dockyard_jupyter import client as clients

pytestmark = [pytest.mark.slow, pytest.mark.interop]
IMAGE = "nb-record:1"
CELLS = ["%load_ext dockyard_jupyter",
         f"%%dockerfile -t {IMAGE}\nFROM busybox:latest\nLABEL made=notebook\n"]


def write_notebook(path: Path) -> None:
    path.parent.mkdir(parents=True)
    cells = [{"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
              "execution_count": None, "id": f"c{i}"} for i, source in enumerate(CELLS)]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.write_text(json.dumps({"cells": cells, "metadata": {"kernelspec": kernelspec},
                                "nbformat": 4, "nbformat_minor": 5}))


def saved_record(path: Path, timeout: float = 20.0) -> dict[str, Any]:
    """metadata.dockyard once the save has landed on disk."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = json.loads(path.read_text()).get("metadata", {}).get("dockyard")
        if record:
            return dict(record)
        time.sleep(0.2)
    raise AssertionError(f"{path} was saved without metadata.dockyard")


def open_notebook(chromium: Browser, server: JupyterServer, path: str) -> Page:
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(20000)
    url = f"{server.url}/lab/workspaces/w{secrets.token_hex(4)}/tree/{path}?token={server.token}"
    for attempt in range(3):       # as open_panel: chromium may drop a load (network changes)
        try:
            page.goto(url)
            page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
            return page
        except PlaywrightError:
            if attempt == 2:
                page.close()
                raise
    raise AssertionError("unreachable")


def run_cells(page: Page) -> None:
    """Shift+Enter through the cells, each after the previous one has finished."""
    notebook = page.locator(".jp-NotebookPanel:visible")
    expect(page.locator(".jp-StatusBar-Widget")).to_contain_text(  # the kernel is connected
        [re.compile(r"Python 3 \(ipykernel\) \| Idle")], timeout=60_000)
    notebook.locator(".jp-Cell").first.locator(".jp-InputPrompt").click()
    for number in range(1, len(CELLS) + 1):
        page.keyboard.press("Shift+Enter")
        prompt = notebook.locator(".jp-Cell").nth(number - 1).locator(".jp-InputPrompt")
        expect(prompt).to_have_text(f"[{number}]:", timeout=60_000)


def reproduce_alone(notebook: Path, tmp_path: Path, engine: Any,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The saved .ipynb copied alone elsewhere: ``%docker reproduce --from`` rebuilds it."""
    alone = tmp_path / "copied" / notebook.name
    alone.parent.mkdir()
    shutil.copy(notebook, alone)
    engine.images.remove(IMAGE)
    monkeypatch.chdir(tmp_path)
    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension("dockyard_jupyter")
    [rebuilt] = shell.run_line_magic("docker", f"reproduce --from copied/{notebook.name}")
    assert IMAGE in rebuilt.tags and rebuilt.labels == {"made": "notebook"}
    assert sorted(p.name for p in alone.parent.iterdir()) == [notebook.name]    # no lock made


def test_a_dockerfile_cell_lands_in_the_saved_notebook(
        browser: Browser, dockyard_daemon: DaemonProcess, busybox_image: str,  # noqa: F811
        dockyard_clean_images: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKYARD_HOST", dockyard_daemon.host)   # the kernel's daemon
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    server = start_lab({"daemon_host": dockyard_daemon.host, "start_daemon": False})
    notebook = server.root / "notebooks" / "analysis" / "study.ipynb"
    write_notebook(notebook)
    page = open_notebook(browser, server, "analysis/study.ipynb")
    try:
        run_cells(page)
        indicator = page.locator(".jp-NotebookPanel:visible .jp-dockyard-record")
        expect(indicator).to_have_text("1 image recorded", timeout=30_000)
        image_id = str(dockyard_clean_images.images.get(IMAGE).id)
        expect(indicator).to_have_attribute("title", f"Recorded in this notebook "
                                            f"(metadata.dockyard); %docker reproduce pulls or "
                                            f"rebuilds them:\n{IMAGE}  {image_id[7:19]}")
        shot(page, "notebook-record")
        page.keyboard.press("Escape")
        page.keyboard.press("Control+s")
        record = saved_record(notebook)
        entry = record["images"][IMAGE]
        assert entry["image_id"] == image_id
        assert entry["dockerfile"] == CELLS[1].split("\n", 1)[1]
        assert entry["base_images"] == {"busybox:latest": busybox_image}
        assert record["version"] == 1 and "notebooks" not in record
        lock = json.loads((notebook.parent / "dockyard.lock.json").read_text())
        assert lock["notebooks"] == {"study.ipynb": {"images": [IMAGE], "runs": []}}
        reproduce_alone(notebook, tmp_path, dockyard_clean_images, monkeypatch)
    finally:
        page.close()
        stop_server(server)
        clients.forget_client(dockyard_daemon.host)
