"""README's main job, headless: ``python3 -m dockyard_jupyter.quickstart --headless`` executes
examples/quickstart.ipynb on a bundled daemon of its own, which the notebook's magics start on
first use (no DOCKYARD_HOST), prints every cell, cleans up and says so in its exit status."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_procs import JupyterServer, free_port, jupyter_env, stop_server
from jupyter_procs import _wait_up as wait_up
from quickstart_checks import STEPS, SUMMARY, in_order

from dockyard.testing.daemon import IN_NEW_NETNS

pytestmark = [pytest.mark.slow]


def quickstart(*args: str) -> subprocess.CompletedProcess[str]:
    # In a network namespace of its own: whatever the daemon sets up stays off the host. The
    # DOCKYARD_HOST given here must be ignored: the quickstart runs the bundled daemon's path.
    env = {**os.environ, "DOCKYARD_HOST": "unix:///nonexistent/docker.sock"}
    return subprocess.run([*IN_NEW_NETNS, sys.executable, "-m", "dockyard_jupyter.quickstart",
                           "--headless", *args], capture_output=True, text=True, timeout=240,
                          env=env, check=False)


def indented(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.splitlines())


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def daemon_of(out: str) -> tuple[int, Path]:
    pid = int(re.search(r"quickstart: daemon pid (\d+) stopped", out).group(1))  # type: ignore[union-attr]
    root = re.search(r"bundled daemon data root (\S+)", out).group(1)  # type: ignore[union-attr]
    return pid, Path(root)


def test_headless_quickstart_prints_the_notebook_and_cleans_up() -> None:
    r = quickstart()
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    assert in_order(out, ("In [1]:\n    %load_ext dockyard_jupyter", "Loaded image: busybox:latest",
                          "%%dockerfile -t quickstart/env:1", *STEPS, indented(SUMMARY),
                          "owned by", "[widget] ImageBrowser", "Pushed",
                          "Status: Downloaded newer image", indented(SUMMARY)))
    assert out.rstrip().endswith("quickstart OK")
    pid, root = daemon_of(out)
    assert not alive(pid) and not root.parent.exists()   # daemon stopped, temp folder gone


def test_headless_quickstart_fails_loudly_and_still_cleans_up(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    nb.cells = [nbformat.v4.new_code_cell(source) for source in (  # type: ignore[no-untyped-call]
        ("%load_ext dockyard_jupyter\n"
         "from pathlib import Path\nfrom dockyard.testing.busybox import build_busybox_archive\n"
         "%docker load -i {build_busybox_archive(Path('.'), 'busybox:latest')}"),
        "%docker run -d --network none --name left busybox sleep 300",
        # a helper in a session of its own outlives the kernel's process group
        ("import subprocess\nhelper = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
         "print('helper', helper.pid)"),
        "%docker run --rm --network none --raise-error busybox sh -c 'echo about to fail; exit 3'",
        "print('never reached')")]
    nbformat.write(nb, tmp_path / "broken.ipynb")  # type: ignore[no-untyped-call]
    r = quickstart("--notebook", str(tmp_path / "broken.ipynb"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "about to fail" in r.stdout and "never reached" not in r.stdout
    assert "quickstart FAILED: a cell raised UsageError: container" in r.stderr
    assert re.search(r"quickstart FAILED: container [0-9a-f]{12} \(busybox\) was left behind",
                     r.stderr)
    helper = int(re.search(r"helper (\d+)", r.stdout).group(1))  # type: ignore[union-attr]
    assert f"quickstart FAILED: process {helper} was left running: sleep 300" in r.stderr
    assert not alive(helper)
    pid, root = daemon_of(r.stdout)
    assert not alive(pid) and not root.parent.exists()
    assert "quickstart OK" not in r.stdout


def test_open_serves_the_notebook_in_jupyterlab_with_its_daemon(tmp_path: Path) -> None:
    """``--open``: the process becomes jupyter lab on a copy of the notebook, and the server
    extension runs the bundled daemon (here on a private data root) until the lab stops."""
    port, token = free_port(), secrets.token_hex(8)
    jupyter = tmp_path / "jupyter"   # config, runtime, log: removed by stop_server
    jupyter.mkdir()
    env = {k: v for k, v in jupyter_env(jupyter).items() if k != "DOCKYARD_HOST"}
    with open(jupyter / "server.log", "wb") as log:
        lab = subprocess.Popen(
            [sys.executable, "-m", "dockyard_jupyter.quickstart", "--open", "--dir",
             str(tmp_path / "work"), "--data-root", str(tmp_path / "root"), "--",
             "--no-browser", f"--port={port}", "--ip=127.0.0.1",
             f"--IdentityProvider.token={token}"], stdout=log, stderr=log, env=env)
    server = JupyterServer(f"http://127.0.0.1:{port}", token, lab, jupyter)
    try:
        wait_up(server, 60)
        notebook = server.get("/api/contents/quickstart.ipynb").json()
        assert notebook["type"] == "notebook" and notebook["content"]["cells"]
        status = server.get("/dockyard/status").json()
        assert status["reachable"] is True
        assert status["host"] == f"unix://{tmp_path / 'root' / 'dockyard.sock'}"
    finally:
        stop_server(server)
    assert not (tmp_path / "root" / "dockyard.sock").exists()   # the daemon went with the lab
    assert (tmp_path / "work" / "quickstart.ipynb").is_file()


def test_readme_names_this_entry_point_as_the_main_job() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert commands == ["bash .ci/install && python3 -m dockyard_jupyter.quickstart",
                        "bash .ci/install && python3 -m pytest"]
