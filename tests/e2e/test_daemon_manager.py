"""The server extension manages its daemon: started with the server, restarted when it dies,
stopped at shutdown. The managed daemon here is a private real dockerd (dockyard's daemon
speaks the same API; the manager only needs a command and a socket)."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from jupyter_procs import JupyterServer, start_server, stop_server

from dockyard.testing.dockerd import dockerd_command, unmount_under
from dockyard_jupyter import launcher
from dockyard_jupyter.server.daemon import DaemonManager

pytestmark = [pytest.mark.interop, pytest.mark.slow]


def wait_for(predicate: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_server_starts_restarts_and_stops_its_daemon() -> None:
    root = Path(tempfile.mkdtemp(prefix="dkm-", dir="/tmp"))
    host = f"unix://{root}/docker.sock"
    server: JupyterServer | None = None
    pids: list[int] = []
    try:
        server = start_server({"daemon_host": host, "start_daemon": True,
                               "daemon_command": dockerd_command(root), "restart_delay": 0.1})
        status = server.get("/dockyard/status").json()
        assert status["reachable"] is True and status["daemon"]["managed"] is True
        first = status["daemon"]["pid"]
        pids.append(first)
        os.kill(first, signal.SIGTERM)                      # the daemon dies
        wait_for(lambda: not alive(first))
        restarted = wait_for(lambda: (s := server.get("/dockyard/status").json())["reachable"]
                             and s["daemon"]["restarts"] == 1 and s)
        second = restarted["daemon"]["pid"]
        pids.append(second)
        assert second != first and alive(second)
        stop_server(server)                                 # shutdown stops it
        server = None
        assert not alive(second) and not launcher.ping(host)
    finally:
        if server is not None:
            stop_server(server)
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)


def test_start_daemon_false_starts_nothing(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/never.sock"
    server = start_server({"daemon_host": host, "start_daemon": False,
                           "daemon_command": ["/bin/false"]})
    try:
        status = server.get("/dockyard/status").json()
        assert status["reachable"] is False and status["daemon"] == {"managed": False}
    finally:
        stop_server(server)


def test_server_runs_the_bundled_dockyard_daemon(tmp_path: Path) -> None:
    """No daemon_command: the server starts `dockyard daemon` itself on the configured socket."""
    host = f"unix://{tmp_path}/run/dockyard.sock"
    server = start_server({"daemon_host": host, "start_daemon": True,
                           "data_root": str(tmp_path / "data")})
    try:
        status = server.get("/dockyard/status").json()
        assert status["reachable"] is True and status["daemon"]["managed"] is True
        pid = status["daemon"]["pid"]
        assert server.get("/dockyard/api/v1.41/images/json").json() == []
        assert (tmp_path / "data" / "daemon.log").exists()
    finally:
        stop_server(server)
    assert not alive(pid) and not launcher.ping(host)


def test_a_daemon_started_while_ours_was_down_is_adopted(tmp_path: Path) -> None:
    """The managed daemon dies and, before the restart delay is over, a kernel's first magic
    starts the user's daemon: the manager uses that one instead of spawning its own into the
    data root's lock again and again."""
    host, root = f"unix://{tmp_path}/run/dockyard.sock", tmp_path / "data"
    # the restart delay leaves the kernel's daemon the time to come up first
    manager = DaemonManager(host, launcher.daemon_command(host, root), restart_delay=8.0,
                            log=logging.getLogger("test"), log_path=launcher.log_path(root))
    kernels: subprocess.Popen[bytes] | None = None
    manager.start()
    try:
        first = manager.status()["pid"]
        assert first and launcher.ping(host)
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: not alive(first))
        kernels = launcher.ensure_daemon(host, root)               # the kernel's, meanwhile
        assert kernels is not None
        wait_for(lambda: manager.status()["adopted"])
        assert manager.status() | {"checked": 0} == {"managed": False, "adopted": True,
                                                     "pid": None, "restarts": 0, "checked": 0}
        assert "already running" not in launcher.log_path(root).read_text()
        manager.stop()                                             # not ours: it stays
        assert kernels.poll() is None and launcher.ping(host)
    finally:
        manager.stop()
        if kernels is not None and kernels.poll() is None:
            kernels.send_signal(signal.SIGTERM)
            kernels.wait(20)
