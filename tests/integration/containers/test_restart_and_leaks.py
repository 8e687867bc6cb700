"""A private daemon: containers survive a daemon restart and are re-adopted (state, logs, wait),
"always" containers come back, a killed shim is reported; nothing leaks (mounts, cgroups,
shims, container processes, container directories)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from dockyard.containers import skeleton
from dockyard.linux import cgroups
from dockyard.testing.daemon import DaemonProcess

MARK = f"DOCKYARD_LEAKTEST={uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def daemon(busybox_archive: Path) -> Iterator[DaemonProcess]:
    key, _, value = MARK.partition("=")
    os.environ[key] = value  # inherited by the daemon, its launcher and every shim
    try:
        with DaemonProcess() as d:
            yield d.load(busybox_archive)
    finally:
        del os.environ[key]


@pytest.fixture
def client(daemon: DaemonProcess) -> Iterator[Any]:
    c = daemon.client()
    yield c
    for item in c.api.containers(all=True):
        c.api.remove_container(item["Id"], force=True)
    c.close()


def _shims() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes()
            except OSError:
                continue
            if MARK.encode() in environ.split(b"\0"):
                found.append(int(entry))
    return found


def _cgroups(ids: list[str]) -> list[str]:
    hier = cgroups.detect()
    return [p for m in hier.v1.values() for i in ids
            if os.path.isdir(p := os.path.join(m, "dockyard", i))]


def _mounts(root: Path) -> list[str]:
    """Mounts under ``root`` but the netns the daemon keeps ready (at most one per kind) and
    the data root's own shared bind (``linux.daemonroot``)."""
    found = [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
             if str(root) in line and line.split()[4] != str(root)]
    assert len([line for line in found if "/netns/pool-" in line]) <= 2
    return [line for line in found if "/netns/pool-" not in line]


def _shim_pid(daemon: DaemonProcess, cid: str) -> int:
    path = daemon.root / "containers" / cid / "shim.pid"
    _wait_for(path.exists)
    return int(path.read_text())


def _wait_for(predicate: Any, timeout: float = 10.0, what: Any = None) -> None:
    """Wait for ``predicate``; on a timeout, say what ``what()`` still shows."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"condition not reached: {what() if what else ''}"
        time.sleep(0.02)


def test_daemon_restart_readopts_running_and_exited(daemon: DaemonProcess, client: Any) -> None:
    script = 'trap "echo two; exit 7" TERM; echo one; while true; do sleep 0.05; done'
    runner = client.containers.run("busybox", ["sh", "-c", script], detach=True)
    quick = client.containers.run("busybox", ["sh", "-c", "sleep 0.3; exit 3"], detach=True)
    always = client.containers.run("busybox", ["sleep", "100"], detach=True,
                                   restart_policy={"Name": "always"})
    always.stop(timeout=0)
    pid = client.api.inspect_container(runner.id)["State"]["Pid"]
    _wait_for(lambda: b"one" in runner.logs())
    client.close()
    daemon.restart()
    time.sleep(0.4)  # "quick" exits while nobody listens… or after the new daemon adopted it
    c = daemon.client()
    state = c.api.inspect_container(runner.id)["State"]
    assert state["Running"] and state["Pid"] == pid
    assert c.api.wait(quick.id, timeout=10)["StatusCode"] == 3
    c.api.kill(runner.id, "TERM")
    assert c.api.wait(runner.id, timeout=10)["StatusCode"] == 7
    assert c.api.logs(runner.id) == b"one\ntwo\n"
    assert c.api.inspect_container(always.id)["State"]["Running"], daemon.log()
    c.close()


def test_killed_shim_is_reported_and_cleaned(daemon: DaemonProcess, client: Any) -> None:
    c = client.containers.run("busybox", ["sleep", "100"], detach=True)
    shim = _shim_pid(daemon, c.id)
    os.kill(shim, signal.SIGKILL)
    result = client.api.wait(c.id, timeout=10)
    assert result["StatusCode"] == 255 and "shim" in result["Error"]["Message"]
    _wait_for(lambda: _cgroups([c.id]) == [])


def test_cgroup_its_shim_left_is_removed(daemon: DaemonProcess, client: Any) -> None:
    """A shim that cannot remove its container's cgroup (here: a child cgroup inside it keeps
    the kernel saying EBUSY until the shim gives up) leaves it to the daemon."""
    c = client.containers.run("busybox", ["sleep", "100"], detach=True)
    pids = cgroups.detect().v1["pids"]
    blocker = os.path.join(pids, "dockyard", c.id, "blocker")
    os.mkdir(blocker)
    try:
        c.kill()
        assert client.api.wait(c.id, timeout=10)["StatusCode"] == 137
        _wait_for(lambda: f"the shim of {c.id} left its cgroup" in daemon.log(), timeout=30)
    finally:
        os.rmdir(blocker)
    _wait_for(lambda: _cgroups([c.id]) == [], timeout=30, what=daemon.log)


def test_failed_starts_with_rm_leave_no_cgroup(daemon: DaemonProcess, client: Any) -> None:
    """A start whose network fails while the embryo makes its mounts, with --rm: the removal
    takes the container's directory while the embryo is still giving up, so its shim finds
    nowhere to be adoptable — it must still end the init and remove the cgroup (it crashed
    and left the cgroup whenever the embryo took more than LISTEN_AFTER to give up)."""
    ids = []
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        for _ in range(20):  # the embryo takes that long only sometimes
            time.sleep(0.3)  # the spare announces its embryo: the start goes to it
            cid = client.api.create_container("busybox", "true", ports=[80],
                                              host_config=client.api.create_host_config(
                                                  port_bindings={80: ("127.0.0.1", port)},
                                                  auto_remove=True))["Id"]
            ids.append(cid)
            with pytest.raises(docker.errors.APIError, match=f"127.0.0.1:{port}"):
                client.api.start(cid)
    _wait_for(lambda: _cgroups(ids) == [], what=lambda: (_cgroups(ids), daemon.log()))
    assert client.api.containers(all=True, filters={"id": ids[-1]}) == []
    # nor a directory: the embryo, still making its mounts by path when the removal renamed
    # the container's directory away, made a fresh <id>/merged/… there
    containers = daemon.root / "containers"
    _wait_for(lambda: not any(p.name.removeprefix(".removing-") in ids for p in containers.iterdir()),
              what=lambda: sorted(p.name for p in containers.iterdir()))


def test_nothing_leaks(daemon: DaemonProcess, client: Any) -> None:
    client.containers.run("busybox", "true", remove=True)  # the launcher and a spare exist
    busy_before = _busy(_shims(), daemon.pid)
    ids = []
    for i in range(4):
        ids.append(client.containers.run("busybox", "true", detach=True).id)
    client.containers.run("busybox", ["sh", "-c", "echo x; exit 1"], detach=True).wait()
    with pytest.raises(docker.errors.APIError):
        client.containers.run("busybox", "nope", detach=True)
    with pytest.raises(docker.errors.ImageNotFound):
        client.api.create_container("ghost", "true")
    with pytest.raises(docker.errors.APIError):
        client.containers.run("busybox", "true", mem_limit="1m")
    with socket.socket() as holder:  # a network set-up that fails while the embryo makes its mounts
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        time.sleep(1)  # the spare announces its embryo: the start goes to it
        with pytest.raises(docker.errors.APIError, match=f"127.0.0.1:{port}"):
            client.containers.run("busybox", "true", ports={"80/tcp": ("127.0.0.1", port)})
        time.sleep(1)  # the same with --rm: the removal races the shim's clean-up
        auto = client.api.create_container("busybox", "true", ports=[80], host_config=client.api.create_host_config(
            port_bindings={80: ("127.0.0.1", port)}, auto_remove=True))["Id"]
        ids.append(auto)
        with pytest.raises(docker.errors.APIError, match=f"127.0.0.1:{port}"):
            client.api.start(auto)
    victim = client.containers.run("busybox", ["sleep", "100"], detach=True)
    os.kill(_shim_pid(daemon, victim.id), signal.SIGKILL)
    victim.wait(timeout=10)
    running = client.containers.run("busybox", ["sleep", "100"], detach=True,
                                    mem_limit="64m", pids_limit=50)
    ids += [victim.id, running.id]
    for item in client.api.containers(all=True):
        ids.append(item["Id"])
        client.api.remove_container(item["Id"], force=True)
    _wait_for(lambda: _busy(_shims(), daemon.pid) == busy_before)
    _wait_for(lambda: _cgroups(ids) == [], what=lambda: (_cgroups(ids), daemon.log()))
    _wait_for(lambda: _spare_cgroups_of_gone_spares() == [])
    assert _mounts(daemon.root) == []
    _wait_for(lambda: [p.name for p in (daemon.root / "containers").iterdir()] == [skeleton.POOL])
    assert len(os.listdir(daemon.root / "containers" / skeleton.POOL)) <= 1  # the one kept ready
    assert len(busy_before) == 1  # the launcher itself, and no shim, stays


def _busy(pids: list[int], daemon_pid: int) -> list[int]:
    """Our processes but the daemon and the idle spare shim (a child of the launcher waiting
    for the next container, with at most its embryo as a child)."""
    idle = _idle_spares(pids, daemon_pid)
    embryos = {q for q in pids if _parent(q) in idle}
    return sorted(p for p in pids if p != daemon_pid and p not in idle | embryos)


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return 0


def _idle_spares(pids: list[int], daemon_pid: int) -> set[int]:
    launchers = [p for p in pids if _parent(p) == daemon_pid]
    return {p for p in pids if _parent(p) in launchers and _only_embryos(p)}


def _only_embryos(pid: int) -> bool:
    """A spare shim's children are at most its embryo: an init cloned ahead of time, which has
    not exec'd (same executable as the shim) and has no children."""
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return all(os.readlink(f"/proc/{k}/exe") == os.readlink(f"/proc/{pid}/exe")
                   and not _has_children(int(k)) for k in kids)
    except OSError:
        return False


def _spare_cgroups_of_gone_spares() -> list[str]:
    """Embryo cgroups (``dockyard/spare-<pid>``) whose spare shim no longer exists."""
    hier = cgroups.detect()
    return [os.path.join(m, "dockyard", name) for m in hier.v1.values()
            if os.path.isdir(os.path.join(m, "dockyard"))
            for name in os.listdir(os.path.join(m, "dockyard"))
            if name.startswith("spare-") and not Path(f"/proc/{name[6:]}").exists()]


def _has_children(pid: int) -> bool:
    try:
        return bool(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    except OSError:
        return False


def test_a_new_launcher_removes_dead_spares_cgroups(daemon: DaemonProcess) -> None:
    """A daemon killed with SIGKILL takes its launcher and spares along, and their embryo
    cgroups (``dockyard/spare-<pid>``) stay: the next daemon's launcher removes them (a live
    spare's, another daemon's, stays)."""
    hier = cgroups.detect()
    dead = cgroups.CgroupV1(f"spare-{_reaped_pid()}", hier).paths
    live = cgroups.CgroupV1(f"spare-{os.getpid()}", hier).paths
    for path in dead + live:
        os.makedirs(path, exist_ok=True)
    try:
        daemon.restart()
        c = daemon.client()
        c.containers.run("busybox", "true", remove=True)
        c.close()
        _wait_for(lambda: not any(os.path.isdir(p) for p in dead), what=lambda: dead)
        assert all(os.path.isdir(p) for p in live)
    finally:
        for path in dead + live:
            if os.path.isdir(path):
                os.rmdir(path)


def _reaped_pid() -> int:
    """A pid that no longer exists."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_exit_file_is_atomic_json(daemon: DaemonProcess, client: Any) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "exit 9"], detach=True, auto_remove=False)
    c.wait()
    status = json.loads((daemon.root / "containers" / c.id / "exit.json").read_text())
    assert status["exit_code"] == 9 and status["oom_killed"] is False
    assert not (daemon.root / "containers" / c.id / "shim.sock").exists()


def test_long_running_shim_hands_off_to_a_small_interpreter(daemon: DaemonProcess,
                                                            client: Any) -> None:
    from dockyard.containers.shim import HANDOFF_AFTER
    from dockyard.testing.daemon import rss_kib

    script = 'trap "echo bye; exit 5" TERM; echo hi; while true; do sleep 0.05; done'
    c = client.containers.run("busybox", ["sh", "-c", script], detach=True)
    shim = _shim_pid(daemon, c.id)
    _wait_for(lambda: b"resume" in Path(f"/proc/{shim}/cmdline").read_bytes(),
              HANDOFF_AFTER + 5)
    time.sleep(0.1)
    assert rss_kib(shim) <= 13 * 1024
    c.kill("TERM")
    assert c.wait(timeout=10)["StatusCode"] == 5
    assert c.logs() == b"hi\nbye\n"
    _wait_for(lambda: not Path(f"/proc/{shim}").exists())


def test_daemon_crash_loses_nothing(daemon: DaemonProcess, client: Any) -> None:
    script = 'trap "echo after; exit 6" TERM; echo before; while true; do sleep 0.05; done'
    c = client.containers.run("busybox", ["sh", "-c", script], detach=True)
    _wait_for(lambda: c.logs() == b"before\n")
    client.close()
    daemon.stop(sig=signal.SIGKILL)
    daemon.start()
    fresh = daemon.client()
    assert fresh.api.inspect_container(c.id)["State"]["Running"]
    fresh.api.kill(c.id, "TERM")
    assert fresh.api.wait(c.id, timeout=10)["StatusCode"] == 6
    assert fresh.api.logs(c.id) == b"before\nafter\n"
    fresh.close()


def test_a_killed_spare_shim_is_replaced(daemon: DaemonProcess, client: Any) -> None:
    client.containers.run("busybox", "true", remove=True)  # a spare now waits
    # (the run's own shim, its init gone, looks like one until it has released the overlay)
    _wait_for(lambda: len(_idle_spares(_shims(), daemon.pid)) == 1)
    spares = _idle_spares(_shims(), daemon.pid)
    assert len(spares) == 1
    os.kill(spares.pop(), signal.SIGKILL)
    time.sleep(0.1)
    assert client.containers.run("busybox", ["echo", "hi"], remove=True) == b"hi\n"
    _wait_for(lambda: _spare_cgroups_of_gone_spares() == [])  # its embryo's cgroup too


def _kernel_log() -> str:
    """The kernel's log; a dmesg that cannot run fails the test rather than pass it unread."""
    return subprocess.run(["dmesg"], capture_output=True, text=True, timeout=10, check=True).stdout


def _take_fds(pid: int, wanted: Any) -> list[int]:
    """Copies (``pidfd_getfd``) of the descriptors of process ``pid`` whose
    ``/proc/<pid>/fd`` entry ``wanted(path)`` accepts."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    taken = []
    try:
        for name in os.listdir(f"/proc/{pid}/fd"):
            if wanted(f"/proc/{pid}/fd/{name}"):
                fd = libc.syscall(438, pidfd, int(name), 0)  # pidfd_getfd (x86_64, aarch64)
                assert fd >= 0, os.strerror(ctypes.get_errno())
                taken.append(fd)
    finally:
        os.close(pidfd)
    return taken


def test_a_restart_waits_for_the_previous_runs_overlay(daemon: DaemonProcess, client: Any) -> None:
    """A start right after an exit waits until the last run's shim is gone, for that shim
    holds the last run's overlay while it reports the exit (two live overlays on one upper dir
    are undefined behaviour; the kernel warns). The test plays a slow shim: it takes copies of
    the shim's root mount and sockets before the exit and lets them go only later — so a start
    that did not wait would mount a second overlay and finish before that."""
    import threading

    before = _kernel_log().count("upperdir is in-use")
    c = client.containers.create("busybox", ["sh", "-c", ("echo run >> /runs; wc -l < /runs; "
                                              "exec sleep 100")])
    try:
        c.start()
        _wait_for(lambda: c.logs() == b"1\n")
        init = client.api.inspect_container(c.id)["State"]["Pid"]
        shim = _parent(init)
        root_dev = os.stat(f"/proc/{init}/root").st_dev
        mount = _take_fds(shim, lambda p: os.stat(p).st_dev == root_dev)
        assert len(mount) == 1, "the shim holds the container's root mount"
        sockets = _take_fds(shim, lambda p: os.readlink(p).startswith("socket:"))
        try:
            c.kill()
            assert c.wait(timeout=10)["StatusCode"] == 137
            _wait_for(lambda: not Path(f"/proc/{shim}").exists())
            result: list[Any] = []
            starter = threading.Thread(target=lambda: result.append(c.start()), daemon=True)
            starter.start()
            starter.join(1.0)
            assert starter.is_alive(), "the start did not wait for the last run's overlay"
        finally:
            for fd in mount + sockets:  # the mount first, as the shim lets go of it
                os.close(fd)
        starter.join(10)
        assert not starter.is_alive() and result == [None]
        _wait_for(lambda: c.logs() == b"1\n2\n",  # the second run saw the first one's write
                  what=lambda: (c.logs(), client.api.inspect_container(c.id)["State"], daemon.log()[-3000:]))
        assert _kernel_log().count("upperdir is in-use") == before
    finally:
        c.remove(force=True)
