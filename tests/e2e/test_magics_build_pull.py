"""``%%dockerfile`` in a real kernel (a notebook run through nbclient) against the dockyard
daemon, with a second stage on a base image only a registry on loopback has: the daemon's pull
shows in the cell as ``%docker pull`` shows (one updating display, a line per layer), between
that FROM step's text (held back with the first stage's lines, then written before the
display) and the rest of the build."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from dockyard.testing.busybox import make_image
from dockyard.testing.registry import RegistryProcess, push_image

pytestmark = [pytest.mark.interop, pytest.mark.slow]


def test_a_dockerfile_cell_shows_its_base_images_pull(
        dockyard_daemon: Any, busybox_image: str, dockyard_clean_images: Any,
        dockyard_registry: RegistryProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    image = make_image("nb/base:1", extra_files={"/note": os.urandom(8).hex().encode()})
    push_image(dockyard_registry.url, "nb/base", image)
    name = f"{dockyard_registry.host}/nb/base:1"
    monkeypatch.setenv("DOCKYARD_HOST", dockyard_daemon.host)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%load_ext dockyard_jupyter"),
                nbformat.v4.new_code_cell(f"%%dockerfile -t nb-pulled:1\nFROM busybox AS one\n"
                                          f"LABEL a=b\nFROM {name}\nCOPY --from=one /bin/true /t\n")]
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[1].outputs
    kinds = [o["output_type"] for o in outputs]
    board = kinds.index("display_data")
    before = "".join(o.get("text", "") for o in outputs[:board])
    after = "".join(o.get("text", "") for o in outputs[board + 1:] if o["output_type"] == "stream")
    assert before.startswith("Step 1/4 : FROM busybox AS one\n")
    assert before.endswith(f"Step 3/4 : FROM {name}\n"), outputs
    layer = image.layers[1].digest[7:19]
    lines = outputs[board]["data"]["text/plain"].splitlines()
    assert lines[0] == "1: Pulling from nb/base" and lines[-1] == f"{layer}: Pull complete", lines
    assert after.startswith(f"Digest: {image.manifest.digest}\n"
                            f"Status: Downloaded newer image for {name}\n"
                            f" ---> {image.config.digest[7:19]}\nStep 4/4 : COPY --from=one /bin/true /t\n"), outputs
    assert "Successfully tagged nb-pulled:1" in after
