"""Exit statuses, exec failures, signals and cgroup limits, as Docker reports them."""

from __future__ import annotations

import json
import os
import select
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from containerprobe import Result, collect

from dockyard.containers import shim
from dockyard.containers.runtime import Runtime, dockerd_start_error
from dockyard.containers.shim import HANDOFF_AFTER
from dockyard.containers.spec import ContainerSpec, Mount, User
from dockyard.errors import Conflict, InvalidArgument
from dockyard.linux import cgroups
from dockyard.linux.cgroups import Limits
from dockyard.linux.launcher import Launcher, StartFailed
from dockyard.linux.syscalls import read_all
from dockyard.network.errors import NetworkError

Run = Callable[..., Result]
MakeSpec = Callable[..., ContainerSpec]


def test_exit_code_is_passed_through(run: Run) -> None:
    assert run("exit 3").code == 3


def test_signal_death_is_128_plus_signo(runtime: Runtime, make_spec: MakeSpec) -> None:
    c = runtime.start(make_spec(["sleep", "100"]))
    assert c.running and c.pid > 1
    c.kill()
    assert c.wait(5).exit_code == 128 + signal.SIGKILL


def _held_by(pid: int) -> set[str]:
    held = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            held.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return held


@pytest.mark.parametrize("cloned", [False, True], ids=["from-an-embryo", "cloned-at-start"])
def test_the_shim_holds_the_inits_mounts_until_the_exit_is_reported(
        runtime: Runtime, make_spec: MakeSpec, tmp_path: Path, cloned: bool) -> None:
    """Whoever drops the last reference to a container's mounts unmounts them all; that must
    not be the exiting init, whose exit every waiter waits for. Its shim holds the mount, IPC
    and network namespaces from the start, across its hand-off to a bare interpreter too —
    whether the init was a spare's embryo or cloned at the start (another cgroup parent than
    the embryo's)."""
    parent = f"dockyard/dytest-{os.getpid()}-parent" if cloned else "dockyard"
    spec = make_spec(["sleep", "100"], cgroup_parent=parent)
    pid, sock = runtime.start_shim(spec, str(tmp_path), str(tmp_path / "log"))
    try:
        shim = int(Path(f"/proc/{pid}/status").read_text().split("PPid:")[1].split()[0])
        spaces = {os.readlink(f"/proc/{pid}/ns/{ns}") for ns in ("mnt", "ipc", "net")}
        deadline = time.monotonic() + 5
        while not spaces <= _held_by(shim) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert spaces <= _held_by(shim)
        time.sleep(HANDOFF_AFTER + 0.3)
        assert "resume" in Path(f"/proc/{shim}/cmdline").read_text()  # the handed-off shim
        assert spaces <= _held_by(shim)
    finally:
        sock.send(b"k9")
        while (packet := sock.recv(65536)) and packet[:1] != b"x":
            pass
        sock.close()
        if cloned:
            _remove_cgroup_parent(parent)
    assert json.loads(packet[1:])["exit_code"] == 128 + signal.SIGKILL


def _remove_cgroup_parent(parent: str) -> None:
    """The parent's directories, once the shim has removed the container's under them."""
    for mount in set(cgroups.detect().v1.values()):
        path = os.path.join(mount, parent)
        deadline = time.monotonic() + 5
        while os.path.isdir(path):
            try:
                os.rmdir(path)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)


def test_init_without_handler_ignores_sigterm_but_a_trap_runs(runtime: Runtime,
                                                              make_spec: MakeSpec) -> None:
    """pid 1 only gets signals it handles — why ``docker stop`` escalates to SIGKILL."""
    c = runtime.start(make_spec(["sh", "-c", "trap 'exit 42' TERM; while :; do sleep 0.01; done"]))
    time.sleep(0.2)
    c.signal(signal.SIGTERM)
    assert c.wait(5).exit_code == 42


@pytest.mark.parametrize(("args", "message", "code"), [
    (["nosuchcmd"], 'exec: "nosuchcmd": executable file not found in $PATH', 127),
    (["/bin/nothere"], 'exec: "/bin/nothere": stat /bin/nothere: no such file or directory', 127),
    (["/etc/passwd"], 'exec: "/etc/passwd": permission denied', 126),
    (["/etc"], 'exec: "/etc": permission denied', 126),
])
def test_exec_failures_match_runc_and_docker(runtime: Runtime, make_spec: MakeSpec,
                                             args: list[str], message: str, code: int) -> None:
    err_r, err_w = os.pipe()
    with pytest.raises(StartFailed) as info:
        runtime.start(make_spec(args), stderr=err_w)
    os.close(err_w)
    assert str(info.value) == message and info.value.exit_code == code
    assert info.value.status == 400
    assert os.read(err_r, 4096).decode() == message + "\n"
    os.close(err_r)
    assert dockerd_start_error(message).endswith(f"unable to start container process: {message}: unknown")


@pytest.mark.parametrize(("content", "message"), [
    (b"#!/nowhere/sh\n", "exec /x: no such file or directory"),
    (b"not a program\n", "exec /x: exec format error"),
])
def test_an_exec_that_fails_after_the_lookup_is_the_containers_exit(
        runtime: Runtime, make_spec: MakeSpec, tmp_path: Path, content: bytes, message: str) -> None:
    """runc's split: a missing entrypoint fails the start (above); one that is found but
    cannot be exec'd has started, and exits 1 with runc's words on its stderr."""
    layer = tmp_path / "entry"
    layer.mkdir()
    (layer / "x").write_bytes(content)
    (layer / "x").chmod(0o755)
    spec = make_spec(["/x"])
    spec.lower_dirs.insert(0, str(layer))
    result = collect(runtime, spec)
    assert (result.code, result.err, result.out) == (1, message + "\n", "")


def test_a_workdir_only_root_may_enter_is_entered_before_the_user_change(
        runtime: Runtime, make_spec: MakeSpec) -> None:
    """runc's finalizeNamespace: the cwd first, as root (dockerd runs ``-u nobody -w /root``)."""
    result = collect(runtime, make_spec(["sh", "-c", "pwd; id -u"], cwd="/root", user=User(1, 1)))
    assert (result.code, result.out) == (0, "/root\n1\n")


def test_path_lookup_uses_the_containers_path(run: Run, runtime: Runtime,
                                              make_spec: MakeSpec) -> None:
    assert collect(runtime, make_spec(["busybox", "true"], env=["PATH=/bin"])).code == 0
    with pytest.raises(StartFailed):
        runtime.start(make_spec(["busybox"], env=["PATH=/nowhere"]))


def test_memory_cpu_pids_limits_visible_inside(run: Run) -> None:
    r = run("cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes cpu/cpu.cfs_quota_us "
            "cpu/cpu.cfs_period_us cpu/cpu.shares pids/pids.max; cat /proc/self/cgroup",
            limits=Limits(memory=64 << 20, cpu_quota=50000, cpu_period=100000, cpu_shares=512,
                          pids=50))
    assert r.code == 0, r.err
    assert r.out.split()[:5] == [str(64 << 20), "50000", "100000", "512", "50"]
    assert "4:memory:/\n" in r.out  # the cgroup namespace shows the container's cgroup as /


def test_pids_limit_is_enforced(run: Run) -> None:
    r = run("for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait", limits=Limits(pids=4))
    assert "can't fork" in r.err or "Resource temporarily unavailable" in r.err


def test_oom_kill_is_reported_as_docker_does(run: Run) -> None:
    r = run("x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
            limits=Limits(memory=16 << 20))
    assert r.status.oom_killed and r.code == 137 and "survived" not in r.out


def test_a_spec_without_a_command_is_refused_in_dockerds_words(runtime: Runtime,
                                                              make_spec: MakeSpec) -> None:
    """(Limits out of dockerd's ranges are refused at create, in its words and order:
    containers.create.check_resources, tests/interop/test_resource_limits_dockerd.py.)"""
    with pytest.raises(InvalidArgument, match="No command specified"):
        runtime.start(make_spec([]))


def test_default_hostname_is_the_short_id_and_ids_are_unique(runtime: Runtime,
                                                             make_spec: MakeSpec) -> None:
    spec = make_spec(["sleep", "30"])
    c = runtime.start(spec)
    try:
        with pytest.raises(Conflict, match="already running"):
            runtime.start(spec)
        assert c.running  # the refused duplicate did not disturb the first
    finally:
        c.cleanup()
    other = make_spec(["hostname"])
    assert collect(runtime, other).out.strip() == other.id[:12]


def test_stats_and_pause(runtime: Runtime, make_spec: MakeSpec) -> None:
    c = runtime.start(make_spec(["sh", "-c", "while :; do :; done"], limits=Limits(memory=64 << 20)))
    try:
        c.pause()
        time.sleep(0.05)
        before = c.stats().cpu_usage_ns
        time.sleep(0.1)
        frozen = c.stats()
        assert frozen.cpu_usage_ns == before  # no CPU while frozen
        assert frozen.memory_limit == 64 << 20 and frozen.pids == 1
        c.pause(False)
        time.sleep(0.1)
        assert (c.stats().cpu_usage_ns or 0) > (before or 0)
    finally:
        c.cleanup()
    with pytest.raises(Conflict):
        c.stats()


def test_tty_gives_a_pty_from_the_containers_devpts(runtime: Runtime, make_spec: MakeSpec) -> None:
    c = runtime.start(make_spec(["sh", "-c", ("tty; [ -t 0 ] && echo interactive; "
                                 "ls -l /dev/console; read line; echo got:$line")], tty=True))
    assert c.console is not None
    os.write(c.console, b"hello\n")
    chunks = []
    while True:
        try:
            chunk = os.read(c.console, 4096)
        except OSError:  # EIO: the last slave closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(c.console)
    out = b"".join(chunks).decode().replace("\r\n", "\n")
    assert c.cleanup().exit_code == 0
    # the terminal echoes "hello" when it is written, which may fall between the lines
    assert "/dev/pts/0\n" in out and "interactive\n" in out and "got:hello" in out
    assert "/dev/console" in out


def test_unknown_capability_is_refused_before_anything_starts(runtime: Runtime,
                                                              make_spec: MakeSpec) -> None:
    with pytest.raises(InvalidArgument, match='unknown capability: "CAP_NOPE"'):
        runtime.start(make_spec(["true"], cap_add=["nope"]))


def _run_in_shim(runtime: Runtime, spec: ContainerSpec, tmp_path: Path,
                 stdin: bytes | None = None) -> tuple[int, str]:
    """Exit code and output of ``spec`` started under a shim (with ``stdin`` written)."""
    log = tmp_path / f"{spec.id}.log"
    _pid, sock = runtime.start_shim(spec, str(tmp_path), str(log), open_stdin=stdin is not None)
    with sock:
        if stdin is not None:
            sock.send(b"0" + stdin)
            sock.send(b"c")
        while (packet := sock.recv(65536)) and packet[:1] != b"x":
            pass
    out = "".join(json.loads(line)["log"] for line in log.read_text().splitlines())
    return json.loads(packet[1:])["exit_code"], out


def _until_announced(runtime: Runtime) -> None:
    """Wait until the held spare's announcement of its embryo waits on its socket: a start then
    goes to the embryo (``Runtime._hatch``), whatever the machine's load made it take."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with runtime._spare_cv:
            spare = runtime._spare
            if spare is not None and select.select([spare[0]], [], [], 0)[0]:
                return
        time.sleep(0.02)
    raise AssertionError("the held spare never announced its embryo")


def test_a_start_goes_straight_to_the_held_spares_embryo(runtime: Runtime, make_spec: MakeSpec,
                                                         tmp_path: Path) -> None:
    """Once the held spare has announced its embryo, the runtime hands the container to the
    embryo itself and the spare only supervises: output, stdin, a tty, exit codes and a
    failed exec come out as through the spare."""
    cases = [
        (make_spec(["sh", "-c", "echo out; echo err >&2; exit 3"]), None, 3, "out\nerr\n"),
        (make_spec(["cat"]), b"fed\n", 0, "fed\n"),
        (make_spec(["sh", "-c", "tty"], tty=True), None, 0, "/dev/pts/0\r\n"),
    ]
    _run_in_shim(runtime, make_spec(["true"]), tmp_path)  # a spare is held from now on
    for spec, stdin, code, out in cases:
        _until_announced(runtime)  # the spare made after the last start
        before = runtime.hatched
        assert _run_in_shim(runtime, spec, tmp_path, stdin) == (code, out)
        assert runtime.hatched == before + 1
    _until_announced(runtime)
    before = runtime.hatched
    with pytest.raises(StartFailed) as failed:
        runtime.start_shim(make_spec(["no-such-command"]), str(tmp_path), str(tmp_path / "log"))
    assert failed.value.exit_code == 127 and "executable file not found" in str(failed.value)
    assert runtime.hatched == before + 1


def test_an_embryo_binds_its_files_only_once_the_network_is_ready(runtime: Runtime, make_spec: MakeSpec,
                                                                  tmp_path: Path) -> None:
    """A start's network set-up finishes while the embryo makes its mounts: the embryo waits
    for it before binding the spec's files (made only then, here, after a pause the embryo
    would have overtaken); a set-up that fails ends the start with its own error and leaves no
    process behind; without an embryo it runs before the spec goes."""
    def network_ready(n: int, text: str, delay: float = 0.0) -> Callable[[], None]:
        def ready() -> None:
            time.sleep(delay)
            (tmp_path / f"hosts-{n}").write_text(text)
        return ready

    def spec_reading(n: int, **kw: Any) -> ContainerSpec:
        return make_spec(["cat", "/etc/gated"], mounts=[Mount("bind", "/etc/gated", str(tmp_path / f"hosts-{n}"),
                                                              options=["norbind"])], **kw)

    def start(spec: ContainerSpec, ready: Callable[[], None]) -> tuple[int, str]:
        log = tmp_path / f"{spec.id}.log"
        _pid, sock = runtime.start_shim(spec, str(tmp_path), str(log), network_ready=ready)
        with sock:
            while (packet := sock.recv(65536)) and packet[:1] != b"x":
                pass
        out = "".join(json.loads(line)["log"] for line in log.read_text().splitlines())
        return json.loads(packet[1:])["exit_code"], out

    before = runtime.hatched  # the host's cgroup namespace: never an embryo's, whether announced or not
    assert start(spec_reading(0, cgroupns="host"), network_ready(0, "first\n")) == (0, "first\n")
    assert runtime.hatched == before
    _until_announced(runtime)  # the spare made after that start
    assert start(spec_reading(1), network_ready(1, "gated\n", delay=0.5)) == (0, "gated\n")
    assert runtime.hatched == before + 1

    _until_announced(runtime)
    failing = spec_reading(2)

    def broken() -> None:
        raise NetworkError("failed to add the veth pair: the test's own failure")
    with pytest.raises(NetworkError, match="the test's own failure"):
        runtime.start_shim(failing, str(tmp_path), str(tmp_path / "log"), network_ready=broken)
    assert runtime.hatched == before + 2
    paths = cgroups.CgroupV1(failing.id, cgroups.detect()).paths
    deadline = time.monotonic() + 10
    while any(map(os.path.isdir, paths)) and time.monotonic() < deadline:  # the embryo gives up
        time.sleep(0.05)
    assert not any(map(os.path.isdir, paths))
    _until_announced(runtime)
    assert start(spec_reading(3), network_ready(3, "after\n")) == (0, "after\n")


def test_an_init_writes_nothing_on_its_error_pipe_on_its_way_to_the_exec(make_spec: MakeSpec) -> None:
    """A started init's error pipe ends (close-on-exec) with nothing on it: whoever waits for
    the exec wakes once, at the exec, not on the way to it (a byte before the ``execve`` woke
    it, and it preempted the init for it, on the start's path). The raw pipe of an embryo's
    early start, as a shim hands it to the daemon."""
    shim.warm(1)  # as a launcher before it clones: the init imports nothing past pivot_root
    launcher = Launcher()
    embryo = launcher.embryo()
    assert embryo is not None  # root on cgroup v1, as CI
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        running = launcher.start(make_spec(["sleep", "30"]), [devnull] * 3, embryo, early=True)
    finally:
        os.close(devnull)
    assert running.exec_pipe is not None and running.root_sock is not None
    try:
        said = read_all(running.exec_pipe)
        exe = os.readlink(f"/proc/{running.pid}/exe")
    finally:
        os.close(running.exec_pipe)
        running.root_sock.close()
        os.kill(running.pid, signal.SIGKILL)
        event = Launcher.reap(running)
    assert said == b""
    assert exe == "/bin/sleep"  # its command (the path in its mount namespace), not Python
    assert event["exit_code"] == 128 + signal.SIGKILL
