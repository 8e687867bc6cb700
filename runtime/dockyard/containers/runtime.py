"""The low-level container runtime as the engine sees it: start a container from a
:class:`~dockyard.containers.spec.ContainerSpec`, get a handle with its pid, wait for its exit
status, signal it, clean up.

The work happens in a launcher process (``dockyard.linux.launcher``) spawned once per
:class:`Runtime` — never by forking the caller, whose size would make every start slow. A
reader thread receives the launcher's replies and exit events.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import queue
import select
import signal as _signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Self

from .. import errors
from ..linux import cgroups, syscalls
from ..linux.child import GATE_GO, GATE_STOP
from ..linux.enter import ExecSpec
from ..linux.launcher import ENOTDIR_HINT, StartFailed, exec_result
from .shim import NETNS_PINNED
from .spec import ContainerSpec
from .trace import mark

CLOSED: Final = "the daemon is shutting down: the container runtime is closed"
CLOSE_WAIT: Final = 10.0  # seconds close() waits for a request's answer, at the most
_PACKAGE_ROOT: Final = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_BOOT: Final = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
                "from dockyard.linux.launcher import main; main()")


def dockerd_start_error(message: str) -> str:
    """The whole message dockerd (with containerd and runc) returns for a failed start, which
    the docker CLI prints after ``docker: Error response from daemon:``; ENOTDIR's words get
    its ``translateContainerdStartErr``'s hint (``docker run busybox /etc/passwd/x``)."""
    whole = ("failed to create shim task: OCI runtime create failed: runc create failed: "
             f"unable to start container process: {message}: unknown")
    if os.strerror(errno.ENOTDIR).lower() in whole.lower():
        whole += ENOTDIR_HINT
    return whole


def start_exit_code(message: str) -> int:
    """The exit code dockerd 20.10 records for a start the runtime refused, read from the
    message as its ``translateContainerdStartErr`` reads it: ENOTDIR's words (a
    ``--cgroup-parent`` through a file, a mount onto a file) 127 — that message also ends
    with its "Are you trying to mount a directory onto a file" — else its ``exitUnknown``,
    128. (Its 126 for EACCES's words and 127 for a command not found come with the init's
    own failures: ``StartFailed.exit_code``.)"""
    return 127 if os.strerror(errno.ENOTDIR).lower() in message.lower() else 128


@dataclass(frozen=True)
class ExitStatus:
    exit_code: int
    oom_killed: bool = False


class _Launched:
    """A process the launcher started and reports the exit of (never polled): a container's
    init or an exec's process."""

    kind = "container"

    def __init__(self, runtime: Runtime, id: str, pid: int) -> None:
        self.runtime = runtime
        self.id = id
        self.pid = pid
        self._done = threading.Event()
        self._status: ExitStatus | None = None
        self.console: int | None = None
        """With a tty: the pty master (read output, write input); the caller closes it."""

    def _exited(self, status: ExitStatus) -> None:
        self._status = status
        self._done.set()

    @property
    def running(self) -> bool:
        return not self._done.is_set()

    @property
    def status(self) -> ExitStatus | None:
        return self._status

    def wait(self, timeout: float | None = None) -> ExitStatus:
        if not self._done.wait(timeout):
            raise errors.ExitTimeout(f"{self.kind} {self.id} still running after {timeout} s")
        assert self._status is not None
        return self._status


class Container(_Launched):
    """A started container."""

    def __init__(self, runtime: Runtime, spec: ContainerSpec, pid: int) -> None:
        super().__init__(runtime, spec.id, pid)
        self.spec = spec

    def signal(self, signo: int = _signal.SIGTERM) -> None:
        """Signal the init process (through a pidfd: never a recycled pid)."""
        if self.running:
            self.runtime._request({"op": "signal", "id": self.id, "signal": int(signo)})

    def kill(self) -> None:
        try:
            self.signal(_signal.SIGKILL)
        except errors.InvalidArgument:
            pass  # exited meanwhile

    def _cgroup(self) -> cgroups.Cgroup:
        cg = cgroups.for_container(self.id, parent=self.spec.cgroup_parent)
        if cg is None or not self.running:
            raise errors.Conflict(f"container {self.id} has no cgroup (not running, or rootless)")
        return cg

    def stats(self) -> cgroups.Stats:
        """What ``docker stats`` shows, read from the container's cgroup."""
        return self._cgroup().stats()

    def pause(self, paused: bool = True) -> None:
        """Freeze (or thaw) every process of the container."""
        self._cgroup().freeze(paused)

    def cleanup(self, timeout: float = 10.0) -> ExitStatus:
        """Kill if still running, wait, and make sure the cgroup is gone (mounts die with the
        container's mount namespace)."""
        if self.running:
            self.kill()
        status = self.wait(timeout)
        _remove_cgroup(self.spec)
        return status


class ExecProcess(_Launched):
    """A process started inside a running container (``docker exec``); the launcher is its
    parent and reports its exit like a container's."""

    kind = "exec"

    def __init__(self, runtime: Runtime, spec: ExecSpec, pid: int) -> None:
        super().__init__(runtime, spec.id, pid)
        self.spec = spec

    def signal(self, signo: int = _signal.SIGTERM) -> None:
        if self.running:
            try:
                self.runtime._request({"op": "signal", "id": self.id, "signal": int(signo)})
            except errors.InvalidArgument:
                pass  # exited meanwhile


def _remove_cgroup(spec: ContainerSpec) -> None:
    """Idempotent: the launcher normally removes it; this covers a launcher that died."""
    if os.geteuid() == 0:
        cg = cgroups.for_container(spec.id, parent=spec.cgroup_parent)
        if cg is not None:
            cg.remove()


class Runtime:
    """One launcher process and the containers it runs; close it to kill them all."""

    def __init__(self, python: str = sys.executable) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._proc = subprocess.Popen(
            [python, "-S", "-c", _BOOT, _PACKAGE_ROOT, str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        theirs.close()
        self._sock = mine
        self._lock = threading.Lock()
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._containers: dict[str, Container] = {}
        self._execs: dict[str, ExecProcess] = {}
        self._closed = False  # no more requests: closed, or the launcher died
        self._closing = False  # closed by close()
        self._spare: tuple[socket.socket, int] | None = None  # a held spare, and its pid
        self._spare_cv = threading.Condition()
        self._filler: threading.Thread | None = None
        self.hatched = 0  # starts handed straight to an embryo (``_hatch``)
        self._reader = threading.Thread(target=self._read, name="dockyard-launcher", daemon=True)
        self._reader.start()
        self._request({"op": "ping"})

    @property
    def launcher_pid(self) -> int:
        return self._proc.pid

    def _read(self) -> None:
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self._sock, 1 << 20, 1)
            except OSError:
                data, fds = b"", []
            if not data:
                self._launcher_gone()
                return
            msg = json.loads(data)
            msg["fds"] = fds
            if msg.get("event") == "exit":
                self._on_exit(msg)
            else:
                self._replies.put(msg)

    def _launcher_gone(self) -> None:
        """The launcher died: its containers were SIGKILLed with it (``die_with_parent``)."""
        self._closed = True
        self._replies.put({"ok": False, "gone": True})
        for container in list(self._containers.values()):
            try:
                _remove_cgroup(container.spec)
            except OSError:
                pass  # still busy: Container.cleanup() tries again
            container._exited(ExitStatus(128 + _signal.SIGKILL))
        self._containers.clear()
        for process in list(self._execs.values()):
            process._exited(ExitStatus(128 + _signal.SIGKILL))
        self._execs.clear()

    def _on_exit(self, msg: dict[str, Any]) -> None:
        container = self._containers.pop(msg["id"], None) or self._execs.pop(msg["id"], None)
        if container is not None:
            container._exited(ExitStatus(msg["exit_code"], msg["oom_killed"]))

    def _request(self, msg: dict[str, Any], fds: list[int] | None = None) -> dict[str, Any]:
        with self._lock:
            if self._closed:
                raise self._gone()
            try:
                socket.send_fds(self._sock, [json.dumps(msg).encode()], fds or [])
            except OSError:  # the launcher died, its end closed before the reader saw it
                raise self._gone() from None
            reply = self._replies.get()
        if reply.get("gone"):  # the reader's word for the launcher's end
            raise self._gone()
        if not reply["ok"]:
            raise _error(reply["error"])
        return reply

    def _gone(self) -> errors.DockyardError:
        """What a request gets once the launcher is gone: closed by :meth:`close` (the
        daemon stopping), or dead."""
        if self._closing:
            return errors.Unavailable(CLOSED)
        return errors.DockyardError("the launcher process exited")

    def start(self, spec: ContainerSpec, stdin: int | None = None, stdout: int | None = None,
              stderr: int | None = None) -> Container:
        """Start ``spec``; returns once the entrypoint has been exec'd (or raises
        :class:`StartFailed` with Docker's exit code 127/126 and runc's message). With
        ``spec.tty`` the stdio arguments are ignored: ``Container.console`` is the terminal."""
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            stdio = [devnull if fd is None else fd for fd in (stdin, stdout, stderr)]
            container = Container(self, spec, 0)
            if spec.id in self._containers:
                raise errors.Conflict(f"container {spec.id} is already running")
            self._containers[spec.id] = container
            try:
                reply = self._request({"op": "start", "spec": spec.to_dict()}, stdio)
            except BaseException:
                self._containers.pop(spec.id, None)
                raise
        finally:
            os.close(devnull)
        container.pid = reply["pid"]
        container.console = reply["fds"][0] if reply["fds"] else None
        return container

    def exec(self, spec: ExecSpec, stdin: int | None = None, stdout: int | None = None,
             stderr: int | None = None) -> ExecProcess:
        """Start a process in the running container whose init is ``spec.pid``; returns once it
        has exec'd (or raises :class:`StartFailed` with runc's message). With ``spec.tty``,
        ``console`` is its terminal."""
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        process = ExecProcess(self, spec, 0)
        self._execs[spec.id] = process  # before the request: the exit event may come first
        try:
            stdio = [devnull if fd is None else fd for fd in (stdin, stdout, stderr)]
            reply = self._request({"op": "exec", "spec": spec.to_dict()}, stdio)
        except BaseException:
            self._execs.pop(spec.id, None)
            raise
        finally:
            os.close(devnull)
        process.pid = reply["pid"]
        process.console = reply["fds"][0] if reply["fds"] else None
        return process

    def start_shim(self, spec: ContainerSpec, directory: str, log_path: str,
                   open_stdin: bool = False,
                   on_started: Callable[[int], None] | None = None,
                   network_ready: Callable[[], None] | None = None) -> tuple[int, socket.socket]:
        """Start ``spec`` under its own supervisor (:mod:`dockyard.containers.shim`), which
        outlives this runtime; returns the init's pid and a connected socket to the shim.

        The spare shim that takes it was forked by the launcher ahead of time and is held
        here: the spec goes to it directly, and it reports on the same socket.
        ``on_started(pid)`` runs once the init exists, while it execs the command (a failed
        exec still raises afterwards). ``network_ready`` finishes the network's set-up: while
        an embryo makes its mounts, which then waits for it; once the shim says a remapped
        init's network namespace is pinned (``spec.netns_pin``); or else before the spec goes."""
        mark(spec.id, "runtime.begin")
        cfg = {"dir": directory, "log_path": log_path, "open_stdin": open_stdin}
        try:
            hatched = self._hatch(spec, cfg, on_started, network_ready)
            if hatched is not None:
                return hatched
            if network_ready is not None and not spec.netns_pin:
                network_ready()
                network_ready = None
            message = json.dumps({"spec": spec.to_dict(), "shim": cfg}).encode()
            mark(spec.id, "runtime.encoded")
            mine = self._hand_to_spare(message)
            mark(spec.id, "runtime.sent-to-spare")
            return self._shim_started(mine, on_started, network_ready)
        finally:
            self._refill()  # after the start: the next spare's fork must not slow this one

    def _shim_started(self, mine: socket.socket, on_started: Callable[[int], None] | None,
                      network_ready: Callable[[], None] | None = None,
                      ) -> tuple[int, socket.socket]:
        """The shim's report of its start (the exec's pipe with it, when early); then the
        exec's outcome. ``network_ready`` runs when the shim says the init's network
        namespace is pinned (:func:`_wire_pinned`)."""
        data: bytes = b""
        fds: list[int] = []
        try:
            while True:
                data, fds, _flags, _addr = socket.recv_fds(mine, 1 << 16, 1)
                if data == NETNS_PINNED and network_ready is not None:
                    _wire_pinned(mine, network_ready)
                    continue
                if not data.startswith(b'{"embryo"'):
                    break
                for fd in fds:  # its embryo's announcement, crossed with our container
                    os.close(fd)
            reply: dict[str, Any] = json.loads(data) if data else {"ok": False, "error": {
                "type": "DockyardError",
                "message": "the container's shim exited before starting it"}}
            if reply["ok"] and on_started is not None:
                on_started(int(reply["pid"]))
            if reply["ok"] and reply.get("exec_pipe"):
                exec_result(fds.pop())  # the init reports its exec to us: one hop less
        except BaseException:
            mine.close()
            raise
        finally:
            for fd in fds:
                os.close(fd)
        if not reply["ok"]:
            mine.close()
            raise _error(reply["error"])
        return int(reply["pid"]), mine

    # ---- a container straight to a spare's embryo ---------------------------------------------

    def _hatch(self, spec: ContainerSpec, cfg: dict[str, Any], on_started: Callable[[int], None] | None,
               network_ready: Callable[[], None] | None) -> tuple[int, socket.socket] | None:
        """Hand ``spec`` to the embryo of the held spare ourselves, when the spare has announced
        it (``shim._announce``) and the spec fits it: the cgroup renamed, the limits, the spec
        and its stdio to the embryo, then the spare told to supervise what it became — where
        the spare did all that after decoding the spec: one process hop and ~1 ms of the
        spare's work less on the start's path. None: no such embryo (or it died meanwhile),
        and the caller goes through a spare as before."""
        from ..linux import launcher
        if not spec.own_namespaces:  # the host's or another's: a clone
            return None
        if spec.userns is not None or spec.cgroup_parent != cgroups.DEFAULT_PARENT or \
                spec.cgroupns == "host":  # an embryo has a cgroup namespace of its own
            return None
        with self._spare_cv:
            spare = self._spare
            announced = _announcement(spare[0]) if spare is not None else None
            if spare is None or announced is None:
                return None
            try:  # what the spare would refuse (its embryo stays its own to use then)
                spec.validate()
                launcher.prepare_dirs(spec)
                caps = launcher.spec_caps(spec)
            except BaseException:
                announced[1].close()
                raise
            self._spare = None
        (mine, spare_pid), (embryo_pid, embryo_sock) = spare, announced
        spare_cg = cgroups.CgroupV1.spare(launcher.SPARE_CGROUP.format(pid=spare_pid), cgroups.detected())
        try:
            cg = spare_cg.rename(spec.id)
        except BaseException as exc:
            embryo_sock.close()
            mine.close()  # the spare discards its embryo
            cgroups.CgroupV1(spec.id, cgroups.detected()).remove()  # whatever was renamed
            if isinstance(exc, FileNotFoundError):
                return None  # the spare was killed and its embryo's cgroup removed meanwhile
            raise
        mark(spec.id, "runtime.renamed")
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        embryos, shims = _stdio_pairs(spec.tty, bool(cfg["open_stdin"]))
        plain = spec.to_dict()  # for the embryo and the spare both
        try:
            launcher.send_spec(embryo_sock, spec, cg, caps, [err_w, *embryos[:3]],
                               embryos[3] if spec.tty else None, plain, gated=network_ready is not None)
            mark(spec.id, "runtime.sent-to-embryo")
            socket.send_fds(mine, [json.dumps({"spec": plain, "shim": cfg,
                                               "hatched": True}).encode()], shims)
        except BaseException as exc:
            os.close(err_r)
            mine.close()
            embryo_sock.close()
            cg.remove()  # the embryo with it, whatever it was given
            if isinstance(exc, ConnectionError):
                return None  # the embryo (or its spare) died meanwhile: start another way
            if isinstance(exc, Exception):  # a limit the kernel refused…: as the spare says it
                raise _error(launcher._error(exc)["error"]) from None
            raise
        finally:
            _close_all(err_w, *embryos, *shims)
        self.hatched += 1
        if network_ready is not None:
            _open_gate(embryo_sock, network_ready, err_r, mine)
        embryo_sock.close()
        try:
            if on_started is not None:
                on_started(embryo_pid)
            exec_result(err_r)
        except BaseException:
            mine.close()
            raise
        return self._shim_started(mine, None)

    # ---- spare shims, held here ---------------------------------------------------------------

    def _hand_to_spare(self, message: bytes) -> socket.socket:
        for _ in range(3):  # a spare killed while it waited is replaced
            with self._spare_cv:
                spare, self._spare = self._spare, None
            sock, pid = spare or self._new_spare()
            try:
                syscalls.foreground(pid)  # it may still be getting ready on idle CPU
                sock.send(message)
                return sock
            except OSError:
                sock.close()
        raise errors.DockyardError("could not hand the container to a shim")

    def _new_spare(self) -> tuple[socket.socket, int]:
        reply = self._request({"op": "spare"})
        fd = reply["fds"][0]
        os.set_inheritable(fd, False)
        return socket.socket(fileno=fd), int(reply["pid"])

    def _refill(self) -> None:
        with self._spare_cv:
            if self._filler is None:
                self._filler = threading.Thread(target=self._fill, name="dockyard-spares",
                                                daemon=True)
                self._filler.start()
            self._spare_cv.notify()

    def _fill(self) -> None:
        """Keep one spare: made after each start, off every start's path."""
        while True:
            with self._spare_cv:
                while self._spare is not None and not self._closed:
                    self._spare_cv.wait()
                if self._closed:
                    return
            try:
                spare = self._new_spare()
            except errors.DockyardError:
                return  # the launcher is gone
            with self._spare_cv:
                if self._spare is None and not self._closed:
                    self._spare = spare
                    continue
            spare[0].close()

    def close(self) -> None:
        """Stop the launcher: it kills and reaps every container and exec it still runs. A
        request on its way (a start, an exec) gets its answer first — waiting at most
        :data:`CLOSE_WAIT` seconds — and is then ended with the rest; a request made from
        now on fails with :data:`CLOSED` (503), never with the socket's broken pipe."""
        with self._spare_cv:
            self._closing = self._closed = True
            if self._spare is not None:
                self._spare[0].close()
                self._spare = None
            self._spare_cv.notify()
        answered = self._lock.acquire(timeout=CLOSE_WAIT)
        try:
            if self._proc.poll() is None:
                self._sock.shutdown(socket.SHUT_RDWR)
                self._proc.wait()
        finally:
            if answered:
                self._lock.release()
        self._sock.close()
        self._reader.join(5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _announcement(sock: socket.socket) -> tuple[int, socket.socket] | None:
    """A spare's ``{"embryo": pid}`` with the embryo's socket, if it has sent it: never waits
    (``socket.recv_fds`` drops its flags, MSG_DONTWAIT included, before Python 3.12)."""
    try:
        data, ancdata, _flags, _addr = sock.recvmsg(
            256, socket.CMSG_SPACE(4), socket.MSG_DONTWAIT | socket.MSG_CMSG_CLOEXEC)
    except (BlockingIOError, InterruptedError):
        return None
    fds = [int.from_bytes(d[i:i + 4], sys.byteorder, signed=True)
           for level, kind, d in ancdata if (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS)
           for i in range(0, len(d) - len(d) % 4, 4)]
    if not data.startswith(b'{"embryo"') or len(fds) != 1:
        _close_all(*fds)
        return None
    return int(json.loads(data)["embryo"]), socket.socket(fileno=fds[0])


def _open_gate(embryo: socket.socket, network_ready: Callable[[], None], err_r: int,
               mine: socket.socket) -> None:
    """Finish the network's set-up while the embryo makes its mounts, then let it go on to
    bind the /etc files (``child.await_gate``). When the set-up fails, the embryo is told to
    give up, and the start fails with the network's error, as when the set-up came first."""
    try:
        network_ready()
    except BaseException:
        with contextlib.suppress(OSError):
            embryo.send(GATE_STOP)
        embryo.close()
        _until_eof(err_r, GATE_STOP_WAIT)
        os.close(err_r)
        mine.close()
        raise
    with contextlib.suppress(OSError):  # the embryo died meanwhile: its error pipe tells
        embryo.send(GATE_GO)


def _wire_pinned(shim: socket.socket, network_ready: Callable[[], None]) -> None:
    """Finish the network's set-up in the namespace a remapped init's clone made, now pinned
    (``Shim._await_network``), and tell the shim to let the init go on. When the set-up fails,
    the shim is told to give up; the start fails with the network's error once the shim has
    reported (its init gone)."""
    try:
        network_ready()
    except BaseException:
        with contextlib.suppress(OSError):
            shim.send(GATE_STOP)
            shim.settimeout(GATE_STOP_WAIT)
            while shim.recv(1 << 16).startswith(b'{"embryo"'):
                pass
        shim.close()
        raise
    with contextlib.suppress(OSError):  # the shim died meanwhile: the next receive says so
        shim.send(GATE_GO)


GATE_STOP_WAIT: Final = 10.0
"""Seconds a failed start waits for its embryo to give up. Until it has, it may still be
making its mounts under the container's directory by path: a removal (``--rm``) renaming the
directory away meanwhile would have it make a fresh ``<id>/merged/proc`` … there."""


def _until_eof(fd: int, timeout: float) -> None:
    """Read ``fd`` (an embryo's error pipe) until EOF — its last holder exited — or
    ``timeout`` seconds."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if poller.poll(left * 1000) and not os.read(fd, 65536):
            return


def _stdio_pairs(tty: bool, open_stdin: bool) -> tuple[list[Any], list[int]]:
    """The stdio of an init the runtime hatches: the embryo's ends (stdin, stdout, stderr;
    /dev/null for a tty's, whose console socket comes fourth) and the shim's (stdin's writer
    when open, stdout's and stderr's readers; a tty's console socket)."""
    if tty:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        return [null, null, null, theirs], [ours.detach()]
    embryos: list[Any] = []
    shims: list[int] = []
    if open_stdin:
        r, w = os.pipe2(os.O_CLOEXEC)
        embryos.append(r)
        shims.append(w)
    else:
        embryos.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
    for _ in range(2):
        r, w = os.pipe2(os.O_CLOEXEC)
        embryos.append(w)
        shims.append(r)
    return embryos, shims


def _close_all(*items: Any) -> None:
    """Close each fd or socket once (a tty's /dev/null stands for three)."""
    seen = set()
    for item in items:
        if isinstance(item, socket.socket):
            item.close()
        elif item not in seen:
            seen.add(item)
            os.close(item)


_ERRORS: Final[dict[str, type[errors.DockyardError]]] = {
    "InvalidArgument": errors.InvalidArgument, "NotFound": errors.NotFound,
    "Unavailable": errors.Unavailable, "Conflict": errors.Conflict,
}


def _error(info: dict[str, Any]) -> errors.DockyardError:
    if info.get("type") == "StartFailed" or info.get("kind") == "exec":
        return StartFailed(info["message"], info.get("kind", "setup"), info.get("exit") or 125)
    cls = _ERRORS.get(info.get("type", ""), errors.DockyardError)
    return cls(info["message"])
