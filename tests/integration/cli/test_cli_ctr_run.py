"""``dockyard run`` against real daemons: output, exit status, flags, stdin, TTY, signals."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cliengines import Engine, engines

CONTAINERS = engines("containers")


@CONTAINERS
def test_run_streams_output_and_exits_with_the_containers_status(engine: Engine) -> None:
    assert engine.cli("run", "--rm", "busybox", "echo", "hi") == (0, "hi\n", "")
    code, out, err = engine.cli("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                                "echo out; echo err >&2; exit 3")
    assert (code, out, err) == (3, "out\n", "err\n")
    assert engine.ok("ps", "-a", "-q") == ""  # --rm left nothing


@CONTAINERS
def test_run_failures_are_one_line_with_dockers_status(engine: Engine) -> None:
    code, out, err = engine.cli("run", "--rm", "busybox", "nosuchcommand")
    assert code == 127 and out == ""
    assert err.startswith("dockyard: ") and err.count("\n") == 1 and "nosuchcommand" in err
    code, _, err = engine.cli("run", "--rm", "--pull", "never", "nosuchimage:v9", "true")
    assert code == 125 and "No such image" in err and err.count("\n") == 1
    code, _, err = engine.cli("run", "--rm", "--memory", "lots", "busybox", "true")
    assert (code, err) == (125, ('dockyard: invalid argument "lots" for "-m, --memory" flag: '
                                 "invalid size: 'lots'\n"))  # the docker CLI's words
    code, _, err = engine.cli("run", "--rm", "--restart", "always", "busybox", "true")
    assert (code, err) == (125, "dockyard: Conflicting options: --restart and --rm\n")
    assert engine.ok("ps", "-a", "-q") == ""


@CONTAINERS
def test_run_detached_applies_config_flags(engine: Engine, tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nB=from-file\n\n")
    cid = engine.ok("run", "-d", "--name", "flags", "-e", "A=1", "--env-file", str(env_file), "-w", "/tmp",
                    "-u", "1:2", "-h", "box", "-l", "tier=web", "--memory", "64m", "--cpus", "0.5",
                    "--cpu-shares", "512", "--pids-limit", "64", "--cap-drop", "NET_RAW",
                    "--restart", "on-failure:2", "busybox", "sleep", "30").strip()
    assert len(cid) == 64
    out = engine.ok("exec", "flags", "sh", "-c", 'echo $A $B; pwd; id -u; id -g; hostname')
    assert out.split("\n")[:5] == ["1 from-file", "/tmp", "1", "2", "box"]
    fmt = ("{{.Config.Labels.tier}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} "
           "{{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}} {{json .HostConfig.CapDrop}} "
           "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}")
    assert engine.ok("inspect", "-f", fmt, "flags") == \
        'web 67108864 500000000 512 64 ["CAP_NET_RAW"] on-failure:2\n'  # sent as the docker CLI does


@CONTAINERS
def test_entrypoint_and_read_only(engine: Engine) -> None:
    code, out, _ = engine.cli("run", "--rm", "--entrypoint", "echo", "busybox", "via", "entrypoint")
    assert (code, out) == (0, "via entrypoint\n")
    code, _, err = engine.cli("run", "--rm", "--read-only", "busybox", "touch", "/nope")
    assert code == 1 and "Read-only file system" in err


@engines("mounts")
def test_tmpfs_bind_and_mount_flags(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "hostfile").write_text("from host\n")
    code, out, err = engine.cli("run", "--rm", "--read-only", "--tmpfs", "/scratch", "-v", f"{tmp_path}:/h:ro",
                                "--mount", f"type=bind,src={tmp_path},dst=/m", "busybox", "sh", "-c",
                                "touch /scratch/ok && cat /h/hostfile && touch /m/made && touch /h/no")
    assert (code, out) == (1, "from host\n") and "Read-only file system" in err
    assert (tmp_path / "made").exists()


@CONTAINERS
def test_interactive_stdin_is_forwarded_then_closed(engine: Engine) -> None:
    r = engine.proc("run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo done", input="line 1\nline 2\n")
    assert (r.returncode, r.stdout) == (0, "line 1\nline 2\ndone\n"), r.stderr


@CONTAINERS
def test_it_gives_a_terminal_with_the_callers_size(engine: Engine) -> None:
    r = engine.proc("run", "-it", "--rm", "busybox", "true", input="")
    assert (r.returncode, r.stderr) == (1, "dockyard: the input device is not a TTY\n")
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI on a 30x100 terminal
        os.execvpe(sys.executable, [sys.executable, "-m", "dockyard.cli.main", "-H", engine.host, "run",
                                    "-it", "--rm", "busybox", "sh"], os.environ)
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    _read_until(fd, b"# ")
    os.write(fd, b"stty size; tty; echo ab''cd; exit 5\r")
    out = _read_until(fd, b"abcd\r\n", timeout=20)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 5
    assert b"30 100\r\n" in out and b"/dev/pts/0\r\n" in out


def _read_until(fd: int, marker: bytes, timeout: float = 20) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data += os.read(fd, 4096)
            except OSError:
                break
    assert marker in data, data
    return data


@CONTAINERS
def test_ctrl_c_is_forwarded_to_the_container(engine: Engine) -> None:
    script = 'trap "echo got INT; exit 7" INT; echo ready; while true; do sleep 0.1; done'
    proc = subprocess.Popen([sys.executable, "-m", "dockyard.cli.main", "-H", engine.host, "run", "--rm",
                             "--name", "sigproxy", "busybox", "sh", "-c", script],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (proc.returncode, out) == (7, "got INT\n"), err


@CONTAINERS
def test_create_then_start_attached(engine: Engine) -> None:
    cid = engine.ok("create", "--name", "later", "busybox", "sh", "-c", "echo started; exit 2").strip()
    assert json.loads(engine.ok("inspect", "later"))[0]["State"]["Status"] == "created"
    assert engine.ok("ps", "-a", "--filter", "status=created", "-q", "--no-trunc") == cid + "\n"
    assert engine.cli("start", "-a", "later") == (2, "started\n", "")
    assert engine.ok("start", "later") == "later\n"
    assert engine.ok("wait", "later") == "2\n"


@CONTAINERS
def test_attach_streams_until_exit_and_returns_the_status(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "late", "busybox", "sh", "-c", "sleep 1; echo late; echo err >&2; exit 6")
    assert engine.cli("attach", "late") == (6, "late\n", "err\n")
    code, _, err = engine.cli("attach", "late")
    assert (code, err) == (1, "dockyard: You cannot attach to a stopped container, start it first\n")


@CONTAINERS
def test_exec_it_gives_a_terminal_with_the_callers_size(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "shell", "busybox", "sleep", "60")
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(sys.executable, [sys.executable, "-m", "dockyard.cli.main", "-H", engine.host, "exec",
                                    "-it", "shell", "sh"], os.environ)
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    _read_until(fd, b"# ")
    os.write(fd, b"stty size; echo ab''cd; exit 3\r")
    out = _read_until(fd, b"abcd\r\n", timeout=20)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 3 and b"40 120\r\n" in out


def test_run_pulls_a_missing_image_first(dockyard_daemon: Any, busybox_image: str, dockyard_registry: Any,
                                         capfd: pytest.CaptureFixture[str]) -> None:
    """docker's ``--pull missing``: "Unable to find image" on stderr, the pull, then the run. On
    the session daemon (host network namespace, so it reaches the registry on 127.0.0.1); the
    container itself has ``--network none``."""
    ref = f"{dockyard_registry.host}/cli/bb:v1"
    eng = Engine("dockyard", dockyard_daemon.host, capfd)
    eng.ok("tag", "busybox", ref)
    eng.ok("push", ref)
    eng.ok("rmi", ref)
    try:
        code, out, err = eng.cli("run", "--rm", "--network", "none", ref, "echo", "pulled")
        assert (code, out) == (0, "pulled\n"), err
        assert err.startswith(f"Unable to find image '{ref}' locally\n")
        assert eng.ok("images", "-q", ref) != ""
    finally:
        eng.cli("rmi", ref)


@engines("detach-keys")
def test_ctrl_p_ctrl_q_detaches_and_leaves_it_running(engine: Engine) -> None:
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(sys.executable, [sys.executable, "-m", "dockyard.cli.main", "-H", engine.host, "run",
                                    "-it", "--name", "detachme", "busybox", "sh"], os.environ)
    _read_until(fd, b"# ")
    os.write(fd, b"\x10\x11")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert engine.ok("inspect", "-f", "{{.State.Running}}", "detachme") == "true\n"
