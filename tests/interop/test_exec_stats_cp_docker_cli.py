"""The real docker CLI against the dockyard daemon: exec (-i, -it through a pty, -u, -w, -e),
stats --no-stream, and cp both ways (files, directories, a stopped container)."""

from __future__ import annotations

import os
import pty
import select
import time
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI


@pytest.fixture
def docker(dockyard_daemon: Any, client: Any) -> Any:
    return DockerCLI(dockyard_daemon.host, text=False)


@pytest.fixture
def box(docker: Any) -> str:
    done = docker("run", "-d", "--name", "clibox", "-m", "64m", "busybox", "sleep", "1000")
    assert done.returncode == 0, done.stderr
    return "clibox"


def test_exec_user_workdir_env_and_exit_code(docker: Any, box: str) -> None:
    done = docker("exec", "-u", "nobody", "-w", "/etc", "-e", "A=b", box,
                  "sh", "-c", "id -u; pwd; echo $A; exit 4")
    assert (done.returncode, done.stdout) == (4, b"65534\n/etc\nb\n")
    done = docker("exec", "-i", box, "tr", "a-z", "A-Z", input=b"shout\n")
    assert (done.returncode, done.stdout) == (0, b"SHOUT\n")
    done = docker("exec", box, "nosuch")
    assert done.returncode == 127
    assert b'exec: "nosuch": executable file not found in $PATH' in done.stdout + done.stderr


def test_exec_detached(docker: Any, box: str) -> None:
    done = docker("exec", "-d", box, "sh", "-c", "sleep 0.2; echo later > /tmp/detached")
    assert (done.returncode, done.stdout) == (0, b"")
    for _ in range(50):
        if docker("exec", box, "cat", "/tmp/detached").stdout == b"later\n":
            break
        time.sleep(0.1)
    assert docker("exec", box, "cat", "/tmp/detached").stdout == b"later\n"


def test_exec_it_through_a_pty(docker: Any, box: str) -> None:
    pid, master = pty.fork()
    if pid == 0:
        os.execvpe("docker", ["docker", "exec", "-it", box, "sh"], docker.env)
    out = b""
    try:
        out += _read_until(master, b"# ", 20)
        os.write(master, b"tty; echo in-$((6*7)); exit 9\r")
        out += _read_until(master, None, 20)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(master)
    assert b"in-42" in out and b"/dev/pts/" in out
    assert os.waitstatus_to_exitcode(status) == 9


def _read_until(fd: int, marker: bytes | None, timeout: float) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (marker is None or marker not in data):
        if select.select([fd], [], [], 0.5)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data


def test_stats_no_stream(docker: Any, box: str) -> None:
    done = docker("stats", "--no-stream", "--format",
                  "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.PIDs}}", box)
    assert done.returncode == 0, done.stderr
    name, cpu, mem, mem_percent, pids = done.stdout.decode().strip().split("|")
    assert name == box and cpu.endswith("%") and pids == "1"
    assert mem.endswith(" / 64MiB") and mem_percent.endswith("%")
    table = docker("stats", "--no-stream", box).stdout.decode().splitlines()
    assert table[0].split()[:3] == ["CONTAINER", "ID", "NAME"] and box in table[1]


def test_cp_both_ways(docker: Any, box: str, tmp_path: Path) -> None:
    (tmp_path / "up.txt").write_text("uploaded\n")
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "sub" / "f").write_text("deep\n")
    assert docker("cp", str(tmp_path / "up.txt"), f"{box}:/tmp/").returncode == 0
    assert docker("cp", str(tmp_path / "tree"), f"{box}:/srv").returncode == 0
    assert docker("exec", box, "cat", "/tmp/up.txt", "/srv/sub/f").stdout == b"uploaded\ndeep\n"
    down = tmp_path / "down"
    down.mkdir()
    assert docker("cp", f"{box}:/etc/passwd", str(down / "pw")).returncode == 0
    assert (down / "pw").read_text().startswith("root:x:0:0:")
    assert docker("cp", f"{box}:/srv/.", str(down / "srvcopy")).returncode == 0
    assert (down / "srvcopy" / "sub" / "f").read_text() == "deep\n"
    piped = docker("cp", f"{box}:/etc/passwd", "-")  # a tar on stdout…
    assert piped.returncode == 0 and b"root:x:0:0:" in piped.stdout
    assert docker("cp", "-", f"{box}:/srv", input=piped.stdout).returncode == 0  # …and back in
    assert docker("exec", box, "head", "-c", "5", "/srv/passwd").stdout == b"root:"
    done = docker("cp", f"{box}:/nope", str(down))
    assert done.returncode != 0 and b"Could not find the file /nope in container clibox" in done.stderr


def test_cp_into_a_stopped_container(docker: Any, tmp_path: Path) -> None:
    assert docker("create", "--name", "cpcold", "busybox", "cat", "/in.txt").returncode == 0
    (tmp_path / "in.txt").write_text("cold copy\n")
    assert docker("cp", str(tmp_path / "in.txt"), "cpcold:/in.txt").returncode == 0
    done = docker("start", "-a", "cpcold")
    assert (done.returncode, done.stdout) == (0, b"cold copy\n")
