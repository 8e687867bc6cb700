"""The real docker CLI against the dockyard daemon: run (attached, -d, -i, -it through a pty,
--rm), logs -f, start -a, events, and the start-failure exit codes the CLI derives."""

from __future__ import annotations

import os
import pty
import select
import time
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI


@pytest.fixture
def docker(dockyard_daemon: Any, client: Any) -> Any:
    return DockerCLI(dockyard_daemon.host, text=False)


def test_run_attached_rm(docker: Any, client: Any) -> None:
    done = docker("run", "--rm", "busybox", "echo", "hi")
    assert (done.returncode, done.stdout, done.stderr) == (0, b"hi\n", b"")
    done = docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 5")
    assert (done.returncode, done.stdout, done.stderr) == (5, b"out\n", b"err\n")
    assert not [c for c in client.api.containers(all=True) if "echo out" in c["Command"]]


def test_run_piped_stdin(docker: Any) -> None:
    done = docker("run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done",
                  input=b"line1\nline2\n")
    assert done.returncode == 0 and done.stdout == b"line1\nline2\ndone\n"


def test_run_large_stdin_does_not_deadlock(docker: Any) -> None:
    data = os.urandom(3 << 20).hex().encode()  # 6 MiB: far beyond every pipe and socket buffer
    # the input waits in the shim, which hands off to a bare interpreter meanwhile (0.5 s)
    done = docker("run", "--rm", "-i", "busybox", "sh", "-c", "sleep 1; cat", input=data)
    assert done.returncode == 0 and done.stdout == data


def test_run_missing_command_is_127(docker: Any) -> None:
    done = docker("run", "--rm", "busybox", "nope")
    assert done.returncode == 127
    assert b'exec: "nope": executable file not found in $PATH' in done.stderr


def test_run_it_through_a_pty(docker: Any) -> None:
    pid, master = pty.fork()
    if pid == 0:
        os.execvpe("docker", ["docker", "run", "-it", "--rm", "busybox", "sh"], docker.env)
    out = b""
    try:
        out += _read_until(master, b"# ", 20)
        os.write(master, b"echo hi$((1+1)); exit 3\r")
        out += _read_until(master, None, 20)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(master)
    assert b"hi2" in out
    assert os.WEXITSTATUS(status) == 3


def _read_until(fd: int, marker: bytes | None, timeout: float) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (marker is None or marker not in data):
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break  # EIO: the child closed the terminal
            if not chunk:
                break
            data += chunk
    return data


def test_detached_logs_follow_and_start_attach(docker: Any) -> None:
    cid = docker("run", "-d", "busybox", "sh", "-c", "echo a; sleep 0.3; echo b >&2").stdout.strip()
    done = docker("logs", "-f", "-t", cid.decode())
    assert done.stdout.split(b" ", 1)[1] == b"a\n" and done.stderr.endswith(b" b\n")
    assert done.stdout[:4].isdigit() and b"Z " in done.stdout
    assert docker("logs", "--tail", "0", cid.decode()).stdout == b""
    again = docker("start", "-a", cid.decode())
    assert again.returncode == 0 and again.stdout == b"a\n"
    assert docker("logs", cid.decode()).stdout == b"a\na\n"
    docker("rm", cid.decode())


def test_events_since_until(docker: Any) -> None:
    since = str(time.time())
    docker("run", "--rm", "--name", "evented", "busybox", "true")
    done = docker("events", "--since", since, "--until", str(time.time() + 0.5),
                  "--filter", "container=evented", "--format", "{{.Action}}")
    assert done.stdout.decode().split() == ["create", "attach", "start", "die", "destroy"]
