"""``%docker run --link name[:alias]`` in a real IPython kernel (a notebook executed through
nbclient) against dockyard's daemon: the linker sees its child's address and variables, and a
malformed link is one UsageError line in the docker CLI's words, with no container made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from dockyard.testing.daemon import DaemonProcess

pytestmark = [pytest.mark.slow]


def stream_text(cell: Any, name: str) -> str:
    return "".join(o["text"] for o in cell.outputs
                   if o["output_type"] == "stream" and o["name"] == name)


def test_run_link_in_a_kernel(dockyard_daemon: DaemonProcess, dockyard_tidy_client: Any,
                              monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKYARD_HOST", dockyard_daemon.host)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (
        "%load_ext dockyard_jupyter",
        "%docker run -d --name kl-web -h webhost -e FOO=bar busybox sleep 60",
        "%docker run --rm --name kl-user --link kl-web:w busybox sh -c 'grep -w w /etc/hosts; env'",
        "%docker run --rm --link a:b:c busybox true",
    )]
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    ip = dockyard_tidy_client.api.inspect_container("kl-web")["NetworkSettings"]["Networks"][
        "bridge"]["IPAddress"]
    hosts, *env = stream_text(nb.cells[2], "stdout").splitlines()
    assert hosts == f"{ip}\tw webhost kl-web"
    assert {"W_NAME=/kl-user/w", "W_ENV_FOO=bar"} <= set(env)
    assert nb.cells[3].outputs == [nbformat.v4.new_output(  # IPython shows a UsageError so
        "stream", name="stderr",                                  # (one line, no traceback)
        text='UsageError: invalid argument "a:b:c" for "--link" flag: bad format for links: a:b:c\n')]
    names = {n for c in dockyard_tidy_client.api.containers(all=True) for n in c["Names"]}
    assert names & {"/kl-web", "/kl-user"} == {"/kl-web"}
