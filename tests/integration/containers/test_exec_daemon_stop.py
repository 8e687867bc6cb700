"""A daemon stopped (SIGTERM) while docker-py execs start and run in one of its containers stops
clean: exit 0 and no traceback in its log — before, each exec stream that ended during the drain
logged "cannot schedule new futures after shutdown" when it asked for the exit code, and now and
then the launcher died on a ``BrokenPipeError`` reporting an exec's exit to a daemon that had
closed its end (tests/integration/linux/test_runtime_close_race.py pins both races down). Every
exec's process goes with the daemon; the container, its shim's, keeps running, and the
restarted daemon re-adopts it and runs an exec in it."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import pytest

from dockyard.testing.daemon import DaemonProcess, pid_gone


def _exec_loop(daemon: DaemonProcess, container: str, done: list[int], stop: threading.Event) -> None:
    client = daemon.client()
    try:
        with contextlib.suppress(Exception):  # the daemon goes away under it: the point
            while not stop.is_set():
                exec_id = client.api.exec_create(container, ["sh", "-c", "echo hi; sleep 0.05"])["Id"]
                client.api.exec_start(exec_id)
                done.append(1)
    finally:
        client.close()


def test_a_daemon_stopping_under_exec_load(busybox_archive: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("containers need root here (rootless has its own tests)")
    daemon = DaemonProcess().start().load(busybox_archive)
    client = daemon.client()
    container = client.containers.run("busybox", ["sleep", "1000"], detach=True, network_mode="none")
    try:
        init = client.api.inspect_container(container.id)["State"]["Pid"]
        long_exec = client.api.exec_create(container.id, ["sleep", "300"])["Id"]
        client.api.exec_start(long_exec, detach=True)
        long_pid = client.api.exec_inspect(long_exec)["Pid"]
        done: list[int] = []
        stop = threading.Event()
        workers = [threading.Thread(target=_exec_loop, args=(daemon, container.id, done, stop))
                   for _ in range(8)]
        for worker in workers:
            worker.start()
        while len(done) < 12 and all(w.is_alive() for w in workers):
            time.sleep(0.05)
        assert len(done) >= 12, "the exec load never ran: the workers ended before the stop"
        assert daemon.stop() == 0
        stop.set()
        for worker in workers:
            worker.join(30)
        log = daemon.log_path.read_text(errors="replace")
        assert "Traceback" not in log, log[-3000:]
        assert pid_gone(long_pid), "an exec outlived its daemon"
        assert os.path.exists(f"/proc/{init}"), "the container did not outlive its daemon"
        daemon.start()
        client.close()
        client = daemon.client()
        assert client.containers.get(container.id).exec_run(["echo", "back"]).output == b"back\n"
    finally:
        client.close()
        if daemon.proc is None:  # failed while it was stopped: the container goes the API's way
            with contextlib.suppress(Exception):
                daemon.start()
        daemon.cleanup()
