"""``Runtime.close`` (a daemon stopping) while an exec or an exit is on its way between the
daemon and its launcher: the exec gets an answer — started, then ended with the launcher — or
a clean ``Unavailable``, never the socket's ``BrokenPipeError``; the launcher, finding the
daemon's end closed while it reports, shuts down as at EOF (every container and exec it runs
killed, reaped, its cgroup removed) instead of dying on the broken pipe with a traceback."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from dockyard.containers.runtime import Runtime
from dockyard.containers.spec import ContainerSpec
from dockyard.errors import Unavailable
from dockyard.linux import cgroups
from dockyard.linux.enter import ExecSpec
from dockyard.testing.daemon import pid_gone

MakeSpec = Callable[..., ContainerSpec]


class _GatedSocket:
    """The runtime's socket, whose first ``exec`` request is held before it is sent."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.held = threading.Event()
        self.go = threading.Event()

    def sendmsg(self, buffers: Any, *args: Any) -> int:
        if b'"op": "exec"' in b"".join(bytes(b) for b in buffers) and not self.go.is_set():
            self.held.set()
            self.go.wait(30)
        return self._sock.sendmsg(buffers, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def test_an_exec_on_its_way_when_the_runtime_closes(make_spec: MakeSpec) -> None:
    """The one injection: the exec request is held between the runtime's "still open?" check
    and its send — the window in which the daemon's stop used to shut the socket down under
    it (too narrow to hit on purpose through a daemon). Then ``close`` runs; the request is let
    go a moment later. Before the fix ``close`` shut the socket down at once and the send failed
    with ``BrokenPipeError``; now ``close`` waits for the answer, then ends the exec with
    everything else."""
    if os.geteuid() != 0:
        pytest.skip("the runtime integration tests run as root")
    rt = Runtime()
    container = rt.start(make_spec(["sleep", "60"]))
    cg = cgroups.for_container(container.id)
    assert cg is not None
    gated = _GatedSocket(rt._sock)
    rt._sock = gated  # type: ignore[assignment]
    outcome: list[Any] = []

    def exec_one() -> None:
        try:
            outcome.append(rt.exec(ExecSpec(id="exec-on-its-way", pid=container.pid,
                                            args=["sleep", "60"])))
        except BaseException as exc:  # noqa: BLE001 - what it raised is the result
            outcome.append(exc)

    requester = threading.Thread(target=exec_one)
    requester.start()
    assert gated.held.wait(10)
    closer = threading.Thread(target=rt.close)
    closer.start()
    time.sleep(0.3)  # close() runs meanwhile: it must not pull the socket from under the send
    gated.go.set()
    requester.join(30)
    closer.join(30)
    assert not closer.is_alive()
    [result] = outcome
    assert not isinstance(result, OSError), repr(result)
    if isinstance(result, BaseException):
        assert isinstance(result, Unavailable), repr(result)
    else:  # started, then ended with the launcher
        assert result.wait(10).exit_code == 137
        assert pid_gone(result.pid)
    assert container.wait(10).exit_code == 137
    assert pid_gone(container.pid)
    assert not any(os.path.exists(p) for p in cg.paths)
    with pytest.raises(Unavailable, match="the daemon is shutting down"):
        rt.exec(ExecSpec(id="after-close", pid=container.pid, args=["true"]))


def test_the_launcher_reporting_to_a_closed_runtime_shuts_down_clean(
        make_spec: MakeSpec, capfd: pytest.CaptureFixture[str]) -> None:
    """No injection: the launcher is stopped (SIGSTOP) while one of its containers exits and
    the runtime closes, so when it runs again it has an exit to report on a socket whose other
    end is shut down. Before the fix the report raised ``BrokenPipeError`` and the launcher died
    with a traceback (exit status 1) before killing, reaping and releasing the rest."""
    if os.geteuid() != 0:
        pytest.skip("the runtime integration tests run as root")
    rt = Runtime()
    kept = rt.start(make_spec(["sleep", "60"]))
    ending = rt.start(make_spec(["sleep", "60"]))
    cg = cgroups.for_container(kept.id)
    assert cg is not None
    time.sleep(0.3)  # the launcher back to waiting for events
    os.kill(rt.launcher_pid, signal.SIGSTOP)
    try:
        os.kill(ending.pid, signal.SIGKILL)  # a zombie of the stopped launcher: an exit to report
        time.sleep(0.3)  # its exit is ready before the EOF: the launcher sees it first
        closer = threading.Thread(target=rt.close)
        closer.start()
        time.sleep(0.3)  # close() shuts its end down and waits for the launcher
    finally:
        os.kill(rt.launcher_pid, signal.SIGCONT)
    closer.join(30)
    assert not closer.is_alive()
    assert rt._proc.returncode == 0
    assert "Traceback" not in capfd.readouterr().err
    assert kept.wait(10).exit_code == 137
    assert pid_gone(kept.pid) and pid_gone(ending.pid)
    assert not any(os.path.exists(p) for p in cg.paths)
