"""Attached containers: stream stdout/stderr into the cell, and stop them on interrupt.

An interrupt (the notebook's stop button, a KeyboardInterrupt in the kernel) escalates as a
terminal would: SIGINT, then SIGTERM, then SIGKILL, each after a short grace period, because a
process running as PID 1 in its namespace ignores signals it has no handler for.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests.exceptions

from .progress import BatchedWriter, pump

ESCALATION: tuple[tuple[str, float], ...] = (("SIGINT", 1.0), ("SIGTERM", 2.0))


@dataclass
class Outcome:
    exit_code: int
    interrupted: bool = False


def frames(stream: Iterable[tuple[bytes | None, bytes | None]]) -> Iterator[tuple[int, bytes]]:
    """docker-py's demuxed (stdout, stderr) pairs → (fd, bytes)."""
    for out, err in stream:
        if out:
            yield 1, out
        if err:
            yield 2, err


def stream_to_cell(stream: Iterable[tuple[bytes | None, bytes | None]]) -> None:
    """Copy a demuxed stream into the cell: stdout to stdout, stderr to stderr."""
    out, err = BatchedWriter(sys.stdout), BatchedWriter(sys.stderr)
    writers = {1: out, 2: err}

    def handle(frame: tuple[int, bytes]) -> None:
        writers[frame[0]].write_bytes(frame[1])

    try:
        pump(frames(stream), handle, [out, err])
    finally:
        out.close()
        err.close()


def run_attached(api: docker.APIClient, cid: str, *, remove: bool) -> Outcome:
    """Attach, start, stream until the container exits; stop it on interrupt.

    The attach subscribes to the live streams before its response arrives, so attaching before
    start loses nothing; ``logs=True`` would replay the log too and could print lines twice.
    ``remove`` (``--rm``: the daemon removes it as it exits) takes the exit status from a wait
    for its removal registered before the start, as the docker CLI does, so it cannot be lost."""
    waiter = _removal_waiter(api, cid) if remove else None
    try:
        stream = api.attach(cid, stdout=True, stderr=True, stream=True, logs=False, demux=True)
        api.start(cid)
        try:
            stream_to_cell(stream)
        except KeyboardInterrupt:
            stop_escalating(api, cid)
            return Outcome(exit_code=_exit_code(api, cid, waiter), interrupted=True)
        return Outcome(exit_code=_exit_code(api, cid, waiter))
    finally:
        if remove:
            _remove(api, cid)


def _removal_waiter(api: docker.APIClient, cid: str) -> Any:
    from dockyard.cli.running import ExitWaiter

    waiter = ExitWaiter(api, cid, "removed")
    waiter.start()
    waiter.ready.wait(2.0)
    return waiter


def _exit_code(api: docker.APIClient, cid: str, waiter: Any = None) -> int:
    if waiter is not None:
        return int(waiter.status())
    return int(api.wait(cid).get("StatusCode", -1))


def stop_escalating(api: docker.APIClient, cid: str) -> None:
    """SIGINT → SIGTERM → SIGKILL; a second interrupt while waiting goes straight to SIGKILL."""
    try:
        for signal, grace in ESCALATION:
            if not _signal(api, cid, signal) or _exited_within(api, cid, grace):
                return
    except KeyboardInterrupt:
        pass
    _signal(api, cid, "SIGKILL")
    _exited_within(api, cid, 10.0)


def _signal(api: docker.APIClient, cid: str, signal: str) -> bool:
    """False when the container is no longer running (nothing left to signal)."""
    try:
        api.kill(cid, signal=signal)
        return True
    except docker.errors.APIError:
        return False


def _exited_within(api: docker.APIClient, cid: str, seconds: float) -> bool:
    try:
        api.wait(cid, timeout=seconds)
        return True
    except (requests.exceptions.RequestException, docker.errors.APIError):
        return False


def _remove(api: docker.APIClient, cid: str) -> None:
    """What the daemon's auto-removal did not do (a start that failed, an interrupt); gone or
    being removed already is fine."""
    try:
        api.remove_container(cid, force=True, v=True)
    except docker.errors.APIError as exc:
        if exc.status_code not in (404, 409):
            raise


def exec_attached(api: docker.APIClient, cid: str, cmd: list[str], **kw: Any) -> int:
    """Run a command in a running container, streaming its output; returns its exit code."""
    tty = bool(kw.get("tty"))
    exec_id = api.exec_create(cid, cmd, **kw)["Id"]
    stream = api.exec_start(exec_id, stream=True, demux=True, tty=tty)
    stream_to_cell(stream)
    return int(api.exec_inspect(exec_id).get("ExitCode") or 0)
