"""What a newcomer sees in examples/quickstart.ipynb, checked the same way whichever daemon ran
it (dockyard's own, started on first use or given by DOCKYARD_HOST, or a real dockerd) and
however it was shown (the executed notebook, or the headless quickstart's printout)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"
SUMMARY = ("Lima   n=2 mean=21.0 min=19 max=23\nOslo   n=3 mean=4.0 min=1 max=7\n"
           "Perth  n=2 mean=28.0 min=25 max=31\n")
STEPS = ("Step 1/6 : FROM busybox:latest", "Step 3/6 : COPY analyze.sh /usr/local/bin/analyze",
         "Step 4/6 : RUN chmod +x /usr/local/bin/analyze", "Step 6/6 : ENTRYPOINT [\"analyze\"]",
         "Successfully tagged quickstart/env:1")


def text_of(cell: Any) -> str:
    parts = []
    for out in cell.outputs:
        if out["output_type"] == "error":
            parts.append(f"ERROR {out['ename']}: {out['evalue']}")
        parts.append(out.get("text") or out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def cell_with(nb: Any, source_start: str) -> Any:
    return next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source_start))


def in_order(text: str, needles: tuple[str, ...]) -> bool:
    at = 0
    for needle in needles:
        at = text.find(needle, at)
        if at < 0:
            return False
    return True


def widget_labels(nb: Any) -> list[str]:
    """The option labels of every widget model the notebook saved (the image browser's list)."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return [label for model in state.get("state", {}).values()
            for label in model.get("state", {}).get("_options_labels", [])]


def check_notebook(nb: Any, folder: Path) -> None:
    """The executed notebook's outputs, cell by cell."""
    assert "Loaded image: busybox:latest" in text_of(cell_with(nb, "from pathlib"))
    assert in_order(text_of(cell_with(nb, "%%dockerfile")), STEPS)
    first_run = text_of(cell_with(nb, "%docker run --rm --network none -v .:/data quickstart"))
    assert first_run.startswith("analysing data.csv in ") and first_run.endswith(SUMMARY)
    assert (folder / "summary.txt").read_text() == SUMMARY
    assert (folder / "summary.txt").stat().st_uid == os.getuid()   # the kernel runs as we do
    assert "owned by" in text_of(cell_with(nb, "import getpass"))
    assert "quickstart/env" in text_of(cell_with(nb, "%docker images"))
    assert "ImageBrowser" in text_of(cell_with(nb, "from dockyard_jupyter.widgets"))
    assert any(label.startswith("quickstart/env") for label in widget_labels(nb))
    assert "registry at 127.0.0.1:" in text_of(cell_with(nb, "import re, subprocess"))
    assert "Pushed" in text_of(cell_with(nb, "%docker tag"))
    assert "Status: Downloaded newer image" in text_of(cell_with(nb, "%docker pull"))
    again = text_of(cell_with(nb, "%docker run --rm --network none -v .:/data {registry_host}"))
    assert again.endswith(SUMMARY)


def leftover_registries(folder: Path) -> list[int]:
    """A notebook that failed half-way leaves its registry running: stop those pids."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            mine = b"registry serve" in cmdline and Path(os.readlink(proc / "cwd")) == folder
        except OSError:
            continue
        if mine:
            found.append(int(proc.name))
            os.kill(int(proc.name), signal.SIGTERM)
    return found
