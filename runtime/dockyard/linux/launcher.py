"""The launcher: a small single-threaded process that starts containers and reaps them.

Why a separate process: ``fork`` (and ``clone``) get slower as the forking process grows — a
daemon with a large heap would pay ~10 ms per container just to copy page tables. The launcher
is spawned once, early, stays small (a bare interpreter plus this package's ``linux`` and
``containers.spec`` modules), and clones each container's init process directly into its new
namespaces, so the init is pid 1 with no intermediate process.

Protocol (``SOCK_SEQPACKET``, one JSON object per packet, stdio fds via ``SCM_RIGHTS``)::

    → {"op": "start", "spec": {...}}  + 3 fds   ← {"ok": true, "pid": N}  (+ pty master if tty)
                                               | {"ok": false, "error": {"type", "kind", "message", "exit"}}
    → {"op": "exec", "spec": {...}}   + 3 fds   ← like "start" (``linux.enter``: a process in a
                                                 running container; its exit is an "exit" event)
    → {"op": "signal", "id": ID, "signal": S}   ← {"ok": true} | {"ok": false, "error": …}
    → {"op": "spare"}                            ← {"ok": true, "pid": N} + 1 socket
      (a spare shim for the caller to hold: sending it {"spec", "shim"} starts the container,
      and the spare reports on that same socket — one hop less than the "shim" op)
    → {"op": "shim", "spec": {...}, "shim": {"dir", "log_path", "open_stdin"}} + 1 socket
                                               ← {"ok": true, "shim_pid": N}  (at once)
      (a per-container supervisor forked from here, see ``dockyard.containers.shim``; it
      reports the start on that socket itself, so the launcher never waits for a container;
      the container is the shim's, not the launcher's: no exit event, not killed on EOF)
    ← {"event": "exit", "id": ID, "pid": N, "exit_code": C, "oom_killed": B}   (unsolicited)

On EOF of its socket the launcher kills every container it started, reaps them, removes their
cgroups and exits: a crashed caller leaves nothing behind.
"""

from __future__ import annotations

import errno
import json
import os
import selectors
import signal
import socket
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..containers.spec import ContainerSpec
from ..containers.trace import mark
from ..errors import DockyardError, InvalidArgument, Unavailable
from . import capabilities, cgroups, child, idmap, mounts, namespaces, syscalls

if TYPE_CHECKING:
    from collections.abc import Callable

    from . import enter

MAX_PACKET = 1 << 20
SPARE_CGROUP = "spare-{pid}"
"""The cgroup of the embryo waiting in the spare shim ``pid`` (renamed to the container's id)."""


class StartFailed(DockyardError):
    """The init process died before exec; ``exit_code`` is what Docker records (127/126/125).
    dockerd answers 400 where its ``translateContainerdStartErr`` set 126 or 127
    (``startInvalidConfigError``), else 500 (``errdefs.Unknown``)."""

    def __init__(self, message: str, kind: str, exit_code: int) -> None:
        super().__init__(message)
        self.kind = kind
        self.exit_code = exit_code
        self.status = 400 if exit_code in (126, 127) else 500


@dataclass
class Running:
    id: str
    pid: int
    pidfd: int
    cgroup: cgroups.Cgroup | None
    console: int | None = None  # pty master (``tty``): the caller's to read, write and close
    exec_pipe: int | None = None  # ``early``: EOF = exec'd, else the failure (see ``exec_result``)
    console_sock: socket.socket | None = None  # ``early`` + tty: the master comes through it
    root_sock: socket.socket | None = None  # ``early``: the init sends its root mount there
    """(an ``O_PATH`` fd; holding it defers the overlay's unmount, and its sync of the upper
    file system, from the init's exit to whenever the holder closes it: ``child._hand_root``)"""
    joined: bool = False  # an exec's process, in a container's namespaces (not an init)


def exit_code(status: int) -> int:
    """Docker's exit code: the status, or 128 + signal number for a signal death."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def spec_caps(spec: ContainerSpec) -> int:
    """The container's capability mask; raises on an unknown name before anything starts."""
    return capabilities.mask(capabilities.resolve(spec.cap_add, spec.cap_drop, spec.privileged))


@dataclass
class Embryo:
    """A container init cloned before its container is known: fresh PID, UTS and IPC
    namespaces (mount and network ones come with the spec), already in a cgroup of its own. Moving a task into a cgroup v1 waits
    for an RCU grace period (measured 10–17 ms here, the largest part of a start), and the
    clone takes another ~1 ms; an embryo pays both before the start, which then only renames
    the cgroup, writes the limits and sends the spec (:func:`dockyard.linux.child.embryo`)."""

    pid: int
    pidfd: int
    sock: socket.socket
    cgroup: cgroups.CgroupV1
    is_ready: bool | None = None  # what :meth:`ready` found

    def ready(self, raise_first: bool = True) -> bool:
        """Wait until it is in its cgroup (False: it died): only then may the cgroup be
        renamed, and only a live embryo can be trusted to report a failed start. An embryo
        still on idle CPU (``syscalls.background``) is raised first: a start waits for it now."""
        if self.is_ready is None:
            if raise_first:
                syscalls.foreground(self.pid)
            try:
                self.is_ready = self.sock.recv(16) == b"ready"
            except OSError:
                self.is_ready = False
        return self.is_ready


class Launcher:
    """Starts containers in-process; the server loop below wraps it, and a supervisor (shim)
    that is itself small may use it directly."""

    def __init__(self) -> None:
        self.hier = cgroups.detect()
        self.host_hierarchies = mounts.host_hierarchies() if self.hier.mode == "v1" else []
        self.rootless = os.geteuid() != 0
        if self.rootless:  # newuidmap runs from a shim's start: imported once, here
            import shutil  # noqa: F401
            import subprocess  # noqa: F401

    def _cgroup(self, spec: ContainerSpec) -> cgroups.Cgroup | None:
        cg = None if self.rootless else cgroups.for_container(
            spec.id, self.hier, spec.cgroup_parent, everywhere=spec.cgroupns == "host")
        if cg is None and not spec.limits.empty:
            raise Unavailable("resource limits need a writable cgroup hierarchy, and "
                              + ("a rootless process cannot create cgroups on cgroup v1 "
                                 "(cgroup v2 with delegation is required)" if self.rootless
                                 else "none is mounted under /sys/fs/cgroup"))
        if cg is not None:
            try:
                cg.create(spec.limits)
            except NotADirectoryError:
                raise InvalidArgument(_parent_not_a_directory(cg)) from None
        return cg

    def _prepare(self, spec: ContainerSpec) -> None:
        spec.validate()
        if self.rootless and spec.userns is None:
            spec.userns = idmap.rootless()
        if spec.userns is not None:
            if not self.rootless:  # root writes any map itself (a remapping daemon's)
                spec.userns.by_parent = True
            user = spec.user
            # a single-id map denies setgroups: the init keeps no supplementary groups at all
            extra = user.additional_gids if spec.userns.from_outside else []
            idmap.check_mapped(spec.userns, user.uid, [user.gid, *extra])
        prepare_dirs(spec)

    def start(self, spec: ContainerSpec, stdio: list[int], embryo: Embryo | None = None,
              early: bool = False, network_wired: Callable[[], None] | None = None) -> Running:
        """Start ``spec``: in ``embryo`` when it fits the spec (it is used up either way).
        With ``early`` and an embryo, return as soon as it has the spec: the exec's outcome
        is then ``Running.exec_pipe``'s to tell whoever waits for it (:func:`exec_result`),
        and a tty's master comes through ``console_sock`` — one process hop less.
        ``network_wired``: called once a remapped init's network is pinned
        (``spec.netns_pin``), for the daemon to wire it before the init goes on."""
        try:
            self._prepare(spec)
            caps = spec_caps(spec)
        except BaseException:
            if embryo is not None:
                self.discard(embryo)
            raise
        if embryo is not None and not spec.own_namespaces:  # the host's or another's: a clone
            self.discard(embryo)
            embryo = None
        if embryo is not None and (spec.userns is not None or not embryo.ready() or
                                   spec.cgroup_parent != embryo.cgroup.parent or
                                   spec.cgroupns == "host"):  # an embryo has its own
            self.discard(embryo)
            embryo = None
        mark(spec.id, "launcher.prepared")
        if embryo is not None:
            return self._hatch(spec, stdio, embryo, caps, early)
        cg = self._cgroup(spec)
        try:
            return self._clone(spec, stdio, cg, caps, network_wired)
        except BaseException:
            if cg is not None:
                cg.remove()
            raise

    def embryo(self) -> Embryo | None:
        """An init cloned ahead of time, for the next start. Root on cgroup v1 only (a v1
        cgroup can be renamed to the container's id); elsewhere a start clones as before."""
        if self.rootless or self.hier.mode != "v1":
            return None
        cg = cgroups.CgroupV1(SPARE_CGROUP.format(pid=os.getpid()), self.hier)
        cg.create(cgroups.Limits())
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            # no mount nor network namespace yet: the mounts are copied at the start (so they
            # hold what was mounted meanwhile: volumes, netns pins), and the network is the
            # spec's (a fresh one for "none" is made then; a daemon's network manager passes one)
            pid = syscalls.clone(namespaces.clone_flags("host", False) & ~namespaces.FLAGS["mnt"])
        except OSError:
            _close(theirs.detach(), mine.detach())
            cg.remove()
            return None
        if pid == 0:
            child.embryo(theirs.detach(), mine.detach(), cg, self.host_hierarchies)
        theirs.close()
        return Embryo(pid, os.pidfd_open(pid), mine, cg)

    def forget_spare(self, pid: int) -> None:
        """Remove the embryo cgroup a spare shim left (killed while it waited); usually gone."""
        if self.rootless or self.hier.mode != "v1":
            return
        cg = cgroups.CgroupV1(SPARE_CGROUP.format(pid=pid), self.hier)
        if any(os.path.isdir(p) for p in cg.paths):
            try:
                cg.remove()
            except OSError as exc:
                print(f"dockyard launcher: cannot remove {cg.paths}: {exc}", file=sys.stderr)

    def sweep_spares(self) -> None:
        """Remove the embryo cgroups of spares that are gone: a launcher killed with its daemon
        (SIGKILL) never reaped its spares to remove theirs (``forget_spare``). Another
        daemon's live spares keep theirs."""
        if self.rootless or self.hier.mode != "v1":
            return
        names: set[str] = set()
        for mountpoint in self.hier.v1.values():
            try:
                names.update(os.listdir(os.path.join(mountpoint, cgroups.DEFAULT_PARENT)))
            except OSError:
                pass
        for name in names:
            pid = name.removeprefix(SPARE_CGROUP.format(pid=""))
            if name != pid and pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                self.forget_spare(int(pid))

    @staticmethod
    def discard(embryo: Embryo) -> None:
        embryo.sock.close()
        _kill_and_reap(embryo.pid, embryo.pidfd)
        embryo.cgroup.remove()

    def _hatch(self, spec: ContainerSpec, stdio: list[int], embryo: Embryo,
               caps: int, early: bool = False) -> Running:
        """Hand ``spec`` to the embryo: its cgroup renamed to the container's, the limits,
        then the spec with the error pipe, stdio and the console socket; then as after a
        clone."""
        try:
            cg = embryo.cgroup.rename(spec.id)
            mark(spec.id, "launcher.renamed")
        except BaseException:
            self.discard(embryo)
            cgroups.CgroupV1(spec.id, self.hier).remove()  # whatever was renamed already
            raise
        try:
            return self._send_spec(spec, stdio, embryo, cg, caps, early)
        except BaseException:
            cg.remove()
            raise

    def _send_spec(self, spec: ContainerSpec, stdio: list[int], embryo: Embryo,
                   cg: cgroups.CgroupV1, caps: int, early: bool) -> Running:
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        con_r, con_w = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET) if spec.tty \
            else (None, None)
        try:
            send_spec(embryo.sock, spec, cg, caps, [err_w, *stdio], con_w)
            mark(spec.id, "launcher.sent-to-embryo")
        except BaseException:
            _close(err_r)
            if con_r:
                con_r.close()
            _kill_and_reap(embryo.pid, embryo.pidfd)
            embryo.sock.close()
            raise
        finally:
            _close(err_w)
            if con_w:
                con_w.close()
        if early:
            return Running(spec.id, embryo.pid, embryo.pidfd, cg, None, err_r, con_r, embryo.sock)
        embryo.sock.close()
        return self._started(spec, embryo.pid, embryo.pidfd, err_r, None, con_r, cg)

    def _clone(self, spec: ContainerSpec, stdio: list[int], cg: cgroups.Cgroup | None,
               caps: int, network_wired: Callable[[], None] | None = None) -> Running:
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        sync_r, sync_w = os.pipe2(os.O_CLOEXEC) if spec.userns and spec.userns.from_outside \
            else (None, None)
        con_r, con_w = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET) if spec.tty \
            else (None, None)
        ctx = child.ChildContext(err_w, sync_r, stdio, cg, self.host_hierarchies,
                                 [fd for fd in (err_r, sync_w) if fd is not None]
                                 + ([con_r.fileno()] if con_r else []),
                                 con_w.detach() if con_w else None, caps)
        flags = namespaces.clone_flags(spec.network, spec.userns is not None) & \
            ~namespaces.shared_flags(spec.pid_ns, spec.ipc_ns, spec.uts_ns)
        try:
            if spec.userns is not None and spec.userns.by_parent:
                from . import remapstart  # here: only a remapped start needs it
                pid = remapstart.clone(spec, ctx, flags)
            elif spec.userns_join:  # rootless: x's user namespace, for x's PID or IPC one
                pid = namespaces.clone_in(spec.userns_join, spec.pid_ns,
                                          flags & ~namespaces.FLAGS["user"])
            else:
                with namespaces.children_in(spec.pid_ns):  # --pid container:x
                    pid = syscalls.clone(flags)
                    if pid == 0:  # the init never leaves the block: it cannot go back
                        child.run(spec, ctx)
        except BaseException as exc:
            _close(err_r, err_w, sync_r, sync_w, ctx.console_fd)
            if isinstance(exc, mounts.BindSourceError):  # a remapped start's, made out here
                raise StartFailed(str(exc.strerror), "setup", 127) from None
            if isinstance(exc, OSError):
                raise _clone_error(exc, spec) from None
            raise
        if pid == 0:
            child.run(spec, ctx)
        mark(spec.id, "launcher.cloned")
        _close(err_w, sync_r, ctx.console_fd)
        return self._started(spec, pid, os.pidfd_open(pid), err_r, sync_w, con_r, cg,
                             network_wired)

    @staticmethod
    def _started(spec: ContainerSpec, pid: int, pidfd: int, err_r: int, sync_w: int | None,
                 con_r: socket.socket | None, cg: cgroups.Cgroup | None,
                 network_wired: Callable[[], None] | None = None) -> Running:
        """Wait for the init's exec (EOF on the error pipe) or its report of why not."""
        console = None
        try:
            if sync_w is not None:
                _write_maps(pid, spec, sync_w, cg, network_wired)
            console = _receive_console(con_r) if con_r else None
            failure = _exec_outcome(err_r)
        except BaseException:
            _close(console)
            _kill_and_reap(pid, pidfd)
            raise
        finally:
            _close(err_r, sync_w)
            if con_r:
                con_r.close()
        if failure:
            _close(console)
            _kill_and_reap(pid, pidfd)
            raise _start_error(json.loads(failure))
        return Running(spec.id, pid, pidfd, cg, console)

    def exec(self, spec: enter.ExecSpec, stdio: list[int]) -> Running:
        """Start a process in the running container whose init is ``spec.pid``."""
        from . import enter
        caps = capabilities.mask(capabilities.resolve(spec.cap_add, spec.cap_drop, spec.privileged))
        pid, pidfd, console, failure = enter.launch(spec, stdio, self.hier, caps)
        if failure is not None:
            _close(console)
            if pid:
                os.waitpid(pid, 0)
                os.close(pidfd)
            raise StartFailed(failure["message"], failure["kind"], failure["exit"])
        return Running(spec.id, pid, pidfd, None, console, joined=True)

    @staticmethod
    def collect(running: Running) -> dict[str, Any]:
        """Reap an exited container: its exit event (status, OOM flag); pidfd closed."""
        _, status = os.waitpid(running.pid, 0)
        oom = running.cgroup.oom_killed() if running.cgroup is not None else False
        os.close(running.pidfd)
        return {"event": "exit", "id": running.id, "pid": running.pid,
                "exit_code": exit_code(status), "oom_killed": oom}

    @staticmethod
    def release(running: Running) -> None:
        """Remove what outlives the processes: the cgroup (mounts died with the namespace)."""
        if running.cgroup is not None:
            running.cgroup.remove()

    @classmethod
    def reap(cls, running: Running) -> dict[str, Any]:
        event = cls.collect(running)
        cls.release(running)
        return event


def prepare_dirs(spec: ContainerSpec) -> None:
    """The overlay's upper, work and mount directories (a start's own when a create did not
    make them), ``rootfs_dir`` defaulting to ``merged`` beside the upper dir."""
    if not spec.rootfs_dir:
        spec.rootfs_dir = os.path.join(os.path.dirname(spec.upper_dir.rstrip("/")), "merged")
    for path in (spec.upper_dir, spec.work_dir, spec.rootfs_dir):
        if not os.path.isdir(path):
            os.makedirs(path, exist_ok=True)
            os.chmod(path, 0o755)  # the upper dir's mode is the container's "/" mode


def send_spec(sock: socket.socket, spec: ContainerSpec, cg: cgroups.CgroupV1, caps: int,
              fds: list[int], console: socket.socket | None,
              plain: dict[str, Any] | None = None, gated: bool = False) -> None:
    """Hand ``spec`` to a ready embryo on ``sock`` (:func:`child.embryo`), its cgroup (renamed
    to the container's) given the limits first: ``fds`` are the error pipe and stdio, then the
    network namespace to join (opened here) and the console socket go along. ``plain``: the
    spec's ``to_dict()``, when the caller has it already. ``gated``: the embryo waits for
    :data:`child.GATE_GO` on ``sock`` before it binds the spec's mounts."""
    net = None
    try:
        if spec.network not in ("none", "host"):  # host: the embryo is in ours already
            net = os.open(spec.network, os.O_RDONLY | os.O_CLOEXEC)
        cg.apply(spec.limits)
        message = json.dumps({"caps": caps, "net": net is not None, "console": bool(console),
                              "gate": gated, "spec": spec.to_dict() if plain is None else plain}).encode()
        socket.send_fds(sock, [message], [*fds, *([net] if net else []),
                                          *([console.fileno()] if console else [])])
    finally:
        _close(net)


def exec_result(exec_pipe: int) -> None:
    """Wait for an early start's exec (:func:`_exec_outcome`); raise its failure. Closes the
    pipe. The process is its parent's to reap."""
    try:
        failure = _exec_outcome(exec_pipe)
    finally:
        os.close(exec_pipe)
    if failure:
        raise _start_error(json.loads(failure))


def _start_error(report: dict[str, Any]) -> DockyardError:
    """The child's report as a typed error: its own class for a DockyardError it raised."""
    typed = {"InvalidArgument": InvalidArgument, "Unavailable": Unavailable}.get(report["type"])
    if typed is not None and report["kind"] == "setup":
        return typed(report["message"])
    return StartFailed(report["message"], report["kind"], report["exit"])


def _write_maps(pid: int, spec: ContainerSpec, sync_w: int, cg: cgroups.Cgroup | None,
                network_wired: Callable[[], None] | None = None) -> None:
    """The init's maps from outside, then "go" ("0": it gives up). A remapped init gets its
    network, cgroup and rlimits here too (``remapstart.release``)."""
    assert spec.userns is not None
    try:
        if spec.userns.by_parent:
            from . import remapstart
            remapstart.release(pid, spec, cg, network_wired)
        elif not spec.userns_join:  # a joined namespace has its maps
            idmap.write_for(pid, spec.userns)
    except BaseException:
        os.write(sync_w, b"0")
        raise
    os.write(sync_w, b"1")


def _clone_error(exc: OSError, spec: ContainerSpec) -> DockyardError:
    if spec.userns is not None and exc.errno in (errno.EPERM, errno.ENOSPC, errno.EINVAL):
        reason = idmap.userns_unavailable_reason()
        return Unavailable(reason or f"cannot create a user namespace: {exc.strerror}")
    return Unavailable(f"cannot create the container's namespaces: {exc.strerror}")


def _close(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            os.close(fd)


def _receive_console(sock: socket.socket) -> int | None:
    """The pty master the child sends before exec; ``None`` if it failed before that."""
    _data, fds, _flags, _addr = socket.recv_fds(sock, 64, 1)
    for fd in fds:
        os.set_inheritable(fd, False)
    return fds[0] if fds else None


def _exec_outcome(err_r: int) -> bytes:
    """The init's failure report from its error pipe, or b"" at its EOF with none: it has
    exec'd (close-on-exec), as ``runc start`` reads its exec fifo to the end — before that,
    ``docker top`` would list the init as the launcher's Python, and an exec would find it
    there. An ``execve`` that fails after the lookup ends the process unreported: EOF as well,
    and the start stands (the container's exit 1, as runc's). One wake-up: the init writes
    nothing on its way to the exec."""
    return syscalls.read_all(err_r)


def _kill_and_reap(pid: int, pidfd: int) -> None:
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    os.close(pidfd)


class Server:
    """The launcher's request loop over one SOCK_SEQPACKET connection."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.launcher = Launcher()
        self.launcher.sweep_spares()
        self.running: dict[str, Running] = {}
        self.selector = selectors.DefaultSelector()
        self.selector.register(sock, selectors.EVENT_READ, None)
        self.spares: Any = None  # dockyard.containers.shim.Spares, on the first shim op
        self.hung_up = False  # the caller closed its end: what we had to say goes nowhere

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        """A reply or event; a caller that has closed its end (a daemon stopping while a start,
        an exec or an exit was on its way) is taken as the EOF it is about to read."""
        try:
            socket.send_fds(self.sock, [json.dumps(message).encode()], fds or [])
        except (BrokenPipeError, ConnectionResetError):
            self.hung_up = True

    def serve(self) -> None:
        while True:
            for key, _ in self.selector.select():
                if key.data is None:
                    if not self._request():
                        self._shutdown()
                        return
                elif isinstance(key.data, int):  # a shim we forked: reap it, nothing to report
                    self.selector.unregister(key.fd)
                    os.close(key.fd)
                    os.waitpid(key.data, 0)
                    self.launcher.forget_spare(key.data)
                else:
                    self._exited(key.data)
                if self.hung_up:
                    self._shutdown()
                    return

    def _request(self) -> bool:
        data, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_PACKET, 3)
        if not data:
            return False
        for fd in fds:
            os.set_inheritable(fd, False)
        reply_fds: list[int] = []
        try:
            self.send(self._handle(json.loads(data), fds, reply_fds), reply_fds)
        finally:
            _close(*fds, *reply_fds)
        if self.hung_up:
            return False
        if self.spares is not None:
            self.spares.refill()  # after the reply: the next shim is forked off the clock
        return True

    def _reap_later(self, pid: int) -> None:
        """A shim is our child while we live: reap it when it exits (no event to report)."""
        self.selector.register(os.pidfd_open(pid), selectors.EVENT_READ, pid)

    def _handle(self, msg: dict[str, Any], fds: list[int],
                reply_fds: list[int]) -> dict[str, Any]:
        try:
            if msg["op"] == "start":
                spec = ContainerSpec.from_dict(msg["spec"])
                if spec.id in self.running:
                    raise InvalidArgument(f"container {spec.id} is already running")
                running = self.launcher.start(spec, fds)
                self.running[spec.id] = running
                self.selector.register(running.pidfd, selectors.EVENT_READ, spec.id)
                if running.console is not None:
                    reply_fds.append(running.console)  # handed over: closed after sending
                return {"ok": True, "pid": running.pid}
            if msg["op"] == "exec":
                from . import enter
                running = self.launcher.exec(enter.ExecSpec.from_dict(msg["spec"]), fds)
                self.running[running.id] = running
                self.selector.register(running.pidfd, selectors.EVENT_READ, running.id)
                if running.console is not None:
                    reply_fds.append(running.console)
                return {"ok": True, "pid": running.pid}
            if msg["op"] == "shim":
                from ..containers import shim
                mark(msg["spec"]["id"], "launcher.shim-op")
                if len(fds) != 1:
                    raise InvalidArgument("the shim op takes exactly one socket")
                ContainerSpec.from_dict(msg["spec"]).validate()
                if self.spares is None:
                    self.spares = shim.Spares(self.launcher, self._reap_later)
                return {"ok": True, "shim_pid": self.spares.take(msg["spec"], msg["shim"], fds[0])}
            if msg["op"] == "spare":
                from ..containers import shim
                pid, ctrl = shim.Spares(self.launcher, self._reap_later).fork()
                reply_fds.append(ctrl.detach())  # handed over: closed after sending
                return {"ok": True, "pid": pid}
            if msg["op"] == "signal":
                if msg["id"] not in self.running:
                    raise InvalidArgument(f"container {msg['id']} is not running")
                signal.pidfd_send_signal(self.running[msg["id"]].pidfd, msg["signal"])
                return {"ok": True}
            return {"ok": True} if msg["op"] == "ping" else _error(InvalidArgument("bad op"))
        except Exception as exc:  # noqa: BLE001 — every failure goes back to the caller as a typed error
            return _error(exc)

    def _exited(self, container_id: str) -> None:
        running = self.running.pop(container_id)
        self.selector.unregister(running.pidfd)
        self.send(Launcher.collect(running))  # report the exit first: removal takes ~1 ms
        Launcher.release(running)

    def _shutdown(self) -> None:
        """Kill everything, then reap the execs' processes before the inits: a killed init
        exits only once every process of its PID namespace is reaped (``zap_pid_ns_processes``),
        and an exec's process is ours to reap — waiting for the init first never returns."""
        running = sorted(self.running.values(), key=lambda r: not r.joined)
        for item in running:
            try:
                signal.pidfd_send_signal(item.pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for item in running:
            Launcher.reap(item)


def _parent_not_a_directory(cg: cgroups.Cgroup) -> str:
    """dockerd 20.10's 400 for a ``--cgroup-parent`` through a file (``/cgroup.procs/x``): runc
    fails first reading the freezer state below it."""
    dirs = getattr(cg, "dirs", {})
    where = f"{dirs['freezer']}/freezer.state" if "freezer" in dirs else f"{cg.paths[0]}/cgroup.procs"
    return ("failed to create shim task: OCI runtime create failed: runc create failed: unable to "
            f"get cgroup freezer state: openat2 {where}: not a directory: unknown{ENOTDIR_HINT}")


ENOTDIR_HINT: Final = (": Are you trying to mount a directory onto a file (or vice-versa)? "
                       "Check if the specified host path exists and is the expected type")
"""What dockerd 20.10's ``translateContainerdStartErr`` adds to a start's error in ENOTDIR's words."""


def _error(exc: BaseException) -> dict[str, Any]:
    kind = getattr(exc, "kind", "setup")
    code = getattr(exc, "exit_code", None)
    message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return {"ok": False, "error": {"type": type(exc).__name__, "kind": kind, "message": message,
                                   "exit": code, "status": getattr(exc, "status", 500)}}


def main() -> None:
    """Entry point of the helper process: fd 3 is the socket (see ``runtime.Runtime``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    os.set_inheritable(fd, False)
    sock = socket.socket(fileno=fd)
    server = Server(sock)
    _settle()
    server.serve()


def _settle() -> None:
    """Prepare this process to be forked once per container: run the start's pure code until
    it is warm (``shim.warm``), freeze what exists now out of reach of our own garbage
    collections (a collection writes to every object it visits, and every page written after
    a fork is copied), and give the allocator's free pages back (fewer pages to share)."""
    import gc

    from ..containers import shim
    shim.warm()
    gc.collect()
    gc.freeze()
    try:
        import ctypes
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


if __name__ == "__main__":
    main()
