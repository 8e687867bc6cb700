"""The launcher's exec op: a process inside a running container (namespaces, cgroup, root,
user, capabilities, cwd, env, tty), started with the low-level Runtime directly."""

from __future__ import annotations

import os
import select
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.containers.runtime import Container, Runtime
from dockyard.containers.spec import ContainerSpec
from dockyard.linux.enter import ExecSpec
from dockyard.linux.launcher import StartFailed
from dockyard.testing.busybox import busybox_rootfs


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    rt = Runtime()
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def box(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """One long-running container (``sleep``) for every exec of this module."""
    base = tmp_path_factory.mktemp("execbox")
    rootfs = busybox_rootfs(base / "rootfs")
    spec = ContainerSpec(id=f"dytest-exec-{os.getpid()}", lower_dirs=[str(rootfs)],
                         upper_dir=str(base / "upper"), work_dir=str(base / "work"),
                         args=["sh", "-c", "mkdir -p /work/dir; echo x > /work/dir/f; exec sleep 1000"],
                         hostname="execbox", env=["PATH=/bin:/sbin:/usr/bin", "FROM_IMAGE=1"])
    container = runtime.start(spec)
    yield container
    container.cleanup()


_counter = iter(range(1_000_000))


def run(runtime: Runtime, box: Container, args: list[str], **kw: object) -> tuple[int, str, str]:
    """Exec ``args`` in ``box`` with pipes; (exit code, stdout, stderr)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    spec = ExecSpec(id=f"exec-{os.getpid()}-{next(_counter)}", pid=box.pid, args=args, **kw)  # type: ignore[arg-type]
    try:
        process = runtime.exec(spec, stdout=out_w, stderr=err_w)
    finally:
        os.close(out_w)
        os.close(err_w)
    out, err = _read(out_r), _read(err_r)
    return process.wait(10).exit_code, out.decode(), err.decode()


def _read(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def test_joins_the_containers_namespaces_root_and_cgroup(runtime: Runtime, box: Container) -> None:
    code, out, _ = run(runtime, box, ["sh", "-c", "hostname; ls /work/dir; echo $$; ls /proc | grep -c '^[0-9]'"])
    hostname, listing, pid, nprocs = out.split()
    assert (code, hostname, listing) == (0, "execbox", "f")
    assert int(pid) > 1 and int(nprocs) <= 4  # the container's pid namespace: init, sh, ls, grep
    for kind in ("mnt", "pid", "uts", "ipc", "net", "cgroup"):
        code, out, _ = run(runtime, box, ["readlink", f"/proc/self/ns/{kind}"])
        assert out.strip() == os.readlink(f"/proc/{box.pid}/ns/{kind}")
    code, out, _ = run(runtime, box, ["cat", "/proc/self/cgroup"])
    with open(f"/proc/{box.pid}/cgroup", encoding="ascii") as f:
        init_lines = [line for line in f.read().splitlines() if "memory" in line or "pids" in line]
    assert init_lines and all(line.rsplit(":", 1)[0] + ":/" in out for line in init_lines)


def test_user_env_cwd_and_home(runtime: Runtime, box: Container) -> None:
    code, out, _ = run(runtime, box, ["sh", "-c", "id -u; id -g; pwd; echo $HOME $FROM_IMAGE $EXTRA"],
                       user="nobody", cwd="/work/dir",
                       env=["PATH=/bin", "FROM_IMAGE=1", "EXTRA=yes"])
    assert code == 0
    assert out.split() == ["65534", "65534", "/work/dir", "/home", "1", "yes"]
    assert run(runtime, box, ["id", "-u"], user="1234:5")[1].strip() == "1234"


def test_capabilities_match_the_container_unless_privileged(runtime: Runtime, box: Container) -> None:
    with open(f"/proc/{box.pid}/status", encoding="ascii") as f:
        init_caps = next(line for line in f if line.startswith("CapEff")).split()[1]
    _, out, _ = run(runtime, box, ["grep", "CapEff", "/proc/self/status"])
    assert out.split()[1] == init_caps
    _, out, _ = run(runtime, box, ["grep", "CapEff", "/proc/self/status"], privileged=True)
    assert int(out.split()[1], 16) > int(init_caps, 16)
    _, out, _ = run(runtime, box, ["grep", "NoNewPrivs", "/proc/self/status"], no_new_privs=True)
    assert out.split()[1] == "1"


def test_exit_codes_and_exec_failures(runtime: Runtime, box: Container) -> None:
    assert run(runtime, box, ["sh", "-c", "exit 7"])[0] == 7
    cases = [(["nosuch"], 'exec: "nosuch": executable file not found in $PATH', 127),
             (["/etc/passwd"], 'exec: "/etc/passwd": permission denied', 126)]
    for args, message, code in cases:
        with pytest.raises(StartFailed) as info:
            run(runtime, box, args)
        assert (str(info.value), info.value.exit_code) == (message, code)
    with pytest.raises(StartFailed, match="unable to find user nouser"):
        run(runtime, box, ["true"], user="nouser")
    with pytest.raises(StartFailed, match='chdir to cwd \\("/nowhere"\\)'):
        run(runtime, box, ["true"], cwd="/nowhere")


def test_stdin_pipe_and_signal(runtime: Runtime, box: Container) -> None:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    process = runtime.exec(ExecSpec(id=f"exec-{os.getpid()}-cat", pid=box.pid, args=["cat"]),
                           stdin=in_r, stdout=out_w)
    os.close(in_r)
    os.close(out_w)
    os.write(in_w, b"through stdin\n")
    os.close(in_w)
    assert _read(out_r) == b"through stdin\n"
    assert process.wait(5).exit_code == 0
    sleeper = runtime.exec(ExecSpec(id=f"exec-{os.getpid()}-sleep", pid=box.pid, args=["sleep", "100"]))
    sleeper.signal(signal.SIGKILL)
    assert sleeper.wait(5).exit_code == 128 + signal.SIGKILL


def test_tty_from_the_containers_devpts(runtime: Runtime, box: Container) -> None:
    process = runtime.exec(ExecSpec(id=f"exec-{os.getpid()}-tty", pid=box.pid, tty=True,
                                    args=["sh", "-c", "tty; stty size; exit 3"]))
    assert process.console is not None
    chunks: list[bytes] = []
    reader = threading.Thread(target=_read_console, args=(process.console, chunks))
    reader.start()
    assert process.wait(5).exit_code == 3
    reader.join(5)
    os.close(process.console)
    text = b"".join(chunks).decode()
    assert "/dev/pts/" in text and "\r\n" in text


def _read_console(fd: int, chunks: list[bytes]) -> None:
    while select.select([fd], [], [], 5)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the last slave fd closed
            return
        if not chunk:
            return
        chunks.append(chunk)


def test_exec_into_an_exited_container_fails_clearly(runtime: Runtime, tmp_path: Path) -> None:
    rootfs = busybox_rootfs(tmp_path / "rootfs")
    spec = ContainerSpec(id=f"dytest-exec-gone-{os.getpid()}", lower_dirs=[str(rootfs)],
                         upper_dir=str(tmp_path / "upper"), work_dir=str(tmp_path / "work"),
                         args=["true"])
    container = runtime.start(spec)
    container.cleanup()
    with pytest.raises(StartFailed, match="init process has exited|No such file"):
        runtime.exec(ExecSpec(id="exec-gone", pid=container.pid, args=["true"]))
