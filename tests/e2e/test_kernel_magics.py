"""The magics in a real IPython kernel: a notebook executed through nbclient, and the stop
button (a kernel interrupt) stopping and removing a running container, ``--link`` through a
magic."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from dockyard.testing.daemon import DaemonProcess
from dockyard.testing.dockerd import Dockerd

pytestmark = [pytest.mark.interop, pytest.mark.slow]


@pytest.fixture
def kernel_env(real_dockerd: Dockerd, monkeypatch: pytest.MonkeyPatch) -> Dockerd:
    monkeypatch.setenv("DOCKYARD_HOST", real_dockerd.host)
    return real_dockerd


def executed(sources: tuple[str, ...], folder: Path, allow_errors: bool = False) -> Any:
    """A notebook of one code cell per source, run in a real kernel started in ``folder``."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def stream_text(cell: Any, name: str) -> str:
    return "".join(o["text"] for o in cell.outputs
                   if o["output_type"] == "stream" and o["name"] == name)


def test_notebook_runs_docker_magics(kernel_env: Dockerd, tmp_path: Path) -> None:
    (tmp_path / "input.txt").write_text("from the notebook folder\n")
    nb = executed((
        "%load_ext dockyard_jupyter",
        "%docker images",
        "%docker run --rm --network none busybox echo hello",
        "%docker run --rm --network none -v .:/work busybox cat /work/input.txt",
        "%%dockerfile -t kernel-built:1\nFROM busybox\nLABEL from=kernel\n",
        "_.labels",
    ), tmp_path)
    images = nb.cells[1].outputs[0]["data"]
    assert "busybox" in images["text/plain"] and "<table>" in images["text/html"]
    assert stream_text(nb.cells[2], "stdout") == "hello\n"
    assert stream_text(nb.cells[3], "stdout") == "from the notebook folder\n"
    assert "Successfully tagged kernel-built:1" in stream_text(nb.cells[4], "stdout")
    assert nb.cells[5].outputs[0]["data"]["text/plain"] == "{'from': 'kernel'}"
    engine = kernel_env.client()
    engine.images.remove("kernel-built:1")
    engine.close()


@pytest.fixture
def kernel(kernel_env: Dockerd, tmp_path: Path) -> Iterator[tuple[KernelManager, Any]]:
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path))     # the "notebook folder": the lock file goes here
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def wait_running(engine: docker.DockerClient, name: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = engine.containers.list(filters={"name": name})
        if found and found[0].status == "running":
            return
        time.sleep(0.05)
    raise AssertionError(f"container {name} never ran")


def test_interrupt_stops_and_removes_the_container(kernel: tuple[KernelManager, Any],
                                                   kernel_env: Dockerd, tmp_path: Path) -> None:
    km, kc = kernel
    kc.execute_interactive("%load_ext dockyard_jupyter", timeout=60)
    outputs: list[dict[str, Any]] = []
    # sleep as PID 1 ignores SIGINT and SIGTERM and cannot finish by itself within the reply's
    # safety timeout: a reply means the escalation stopped it, and 137 that SIGKILL did.
    msg_id = kc.execute("%docker run --rm --name to-interrupt --network none busybox sleep 3600")
    engine = kernel_env.client()
    try:
        wait_running(engine, "to-interrupt")
        km.interrupt_kernel()
        reply = _reply(kc, msg_id, outputs, timeout=60)
        assert reply["content"]["status"] == "ok"
        assert not engine.containers.list(all=True, filters={"name": "to-interrupt"})
        stderr = "".join(o["text"] for o in outputs if o.get("name") == "stderr")
        assert "to-interrupt stopped: interrupted (exit status 137)" in stderr
        assert "busybox" in json.loads((tmp_path / "dockyard.lock.json").read_text())["runs"]
    finally:
        for c in engine.containers.list(all=True, filters={"name": "to-interrupt"}):
            c.remove(force=True)
        engine.close()


def _reply(kc: Any, msg_id: str, outputs: list[dict[str, Any]], timeout: float) -> Any:
    """The cell's reply, collecting its streams; a safety timeout ends a cell that never
    returns (a failure, not a measurement)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.1))
        except queue.Empty:
            break
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
            outputs.append(msg["content"])
        if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"):
            return kc.get_shell_msg(timeout=5)
    raise AssertionError(f"the cell never returned after the interrupt: {outputs}")


def test_interrupt_cancels_a_build(kernel: tuple[KernelManager, Any],
                                   kernel_env: Dockerd) -> None:
    km, kc = kernel
    kc.execute_interactive("%load_ext dockyard_jupyter", timeout=60)
    outputs: list[dict[str, Any]] = []
    # The step cannot finish by itself: the reply comes only if the interrupt hangs up.
    msg_id = kc.execute("%%dockerfile -t never-built:1\nFROM busybox\nRUN sleep 3600\n")
    engine = kernel_env.client()
    try:
        deadline = time.monotonic() + 20
        while not engine.containers.list(filters={"ancestor": "busybox"}):
            assert time.monotonic() < deadline, "the RUN step never started"
            time.sleep(0.05)
        km.interrupt_kernel()
        reply = _reply(kc, msg_id, outputs, timeout=60)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["evalue"] == "build interrupted"
        deadline = time.monotonic() + 15
        while engine.containers.list(all=True):                # the daemon cancelled the step
            assert time.monotonic() < deadline, engine.containers.list(all=True)
            time.sleep(0.1)
        assert not engine.images.list(name="never-built")
    finally:
        engine.close()


def test_interrupt_stops_following_logs(kernel: tuple[KernelManager, Any],
                                        kernel_env: Dockerd) -> None:
    km, kc = kernel
    engine = kernel_env.client()
    box = engine.containers.run("busybox", ["sh", "-c", "echo first; sleep 60"], detach=True,
                                network_mode="none")
    try:
        kc.execute_interactive("%load_ext dockyard_jupyter", timeout=60)
        outputs: list[dict[str, Any]] = []
        msg_id = kc.execute(f"%docker logs -f {box.id}")
        time.sleep(1.0)
        km.interrupt_kernel()
        reply = _reply(kc, msg_id, outputs, timeout=15)
        assert reply["content"]["status"] == "ok"
        assert "first\n" in "".join(o["text"] for o in outputs if o.get("name") == "stdout")
        box.reload()
        assert box.status == "running"                     # following stopped, not the box
    finally:
        box.remove(force=True)
        engine.close()


def test_run_link_in_a_kernel(dockyard_daemon: DaemonProcess, dockyard_tidy_client: Any,
                              monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``%docker run --link name[:alias]`` against dockyard's daemon: the linker sees its
    child's address and variables, and a malformed link is one UsageError line in the docker
    CLI's words, with no container made."""
    monkeypatch.setenv("DOCKYARD_HOST", dockyard_daemon.host)
    nb = executed((
        "%load_ext dockyard_jupyter",
        "%docker run -d --name kl-web -h webhost -e FOO=bar busybox sleep 60",
        "%docker run --rm --name kl-user --link kl-web:w busybox sh -c 'grep -w w /etc/hosts; env'",
        "%docker run --rm --link a:b:c busybox true",
    ), tmp_path, allow_errors=True)
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
