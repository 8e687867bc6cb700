"""Running one more process inside a running container (``docker exec``).

Two processes, as runc's ``nsexec`` does it, because entering a PID namespace only affects
children created afterwards:

1. The *joiner*, forked by the launcher, joins the container's user, IPC, UTS, network, PID,
   cgroup and mount namespaces (mount last: it also sets root and cwd to the container's root;
   a root joiner joins the user namespace last instead — a remapped container's network
   namespace may be the initial user namespace's, out of reach from inside the container's —
   and sets the rlimits before, which inside it could only lower),
   then clones the *process* with ``CLONE_PARENT`` — so the launcher is its parent and reaps
   it like a container — writes its pid to the launcher and exits.
2. The launcher (root) moves the process into the container's cgroups, seen from the host, and
   lets it go on: as runc's exec enters them only with its final process, so a container at
   its ``pids.max`` (a fork bomb's) still takes a ``docker exec c kill …`` — a move into a
   cgroup is not a fork in it.
3. The *process* becomes a session leader, takes its stdio (or a pty from the container's own
   devpts), resolves the user through the container's /etc/passwd and /etc/group, changes to
   the working directory, applies the container's capabilities, ``no_new_privs``, and execs.

Failures before exec go to the launcher on the same close-on-exec error pipe as a container
start (:mod:`dockyard.linux.child`), with the exit codes dockerd records (126/127).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field
from typing import Any, Final, NoReturn

from ..containers.spec import DEFAULT_PATH
from . import capabilities, cgroups, idmap, namespaces, seccomp, syscalls, userns, users
from .child import (
    SETUP_FAILED,
    ExecError,
    _console,
    _default_signals,
    _describe,
    _report,
    _say,
    _stdio,
    chdir_cwd,
    docker_exit_code,
    find_executable,
    set_oom_score_adj,
    set_rlimits,
)

CLONE_PARENT = 0x00008000


@dataclass
class ExecSpec:
    """One exec, resolved as far as the daemon can without entering the container."""

    id: str                                  # the exec id (the launcher's handle for it)
    pid: int                                 # the container's init, as the host sees it
    args: list[str]
    env: list[str] = field(default_factory=lambda: [f"PATH={DEFAULT_PATH}"])
    cwd: str = "/"
    user: str = ""                           # Docker's User: name|uid[:group|gid]
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False                 # the exec's own --privileged: every capability
    no_new_privs: bool = False
    seccomp: str = ""                        # the container's (``linux.seccomp.program_for``)
    tty: bool = False
    rlimits: list[list[int]] = field(default_factory=list)  # the container's --ulimit, as runc
    oom_score_adj: int = 0                   # the container's --oom-score-adj, as runc's exec
    holds_caps: bool = False
    """The container's process (its user root) holds its capabilities: until the execve,
    so does the exec's process whatever its user (dockerd 20.10 gives an exec its container's process spec, the
    capabilities made for the container's user). The execve of a non-root user drops them: they
    let it reach its command (``exec -u nobody c /root/x`` in a 0700 /root runs it)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecSpec:
        return cls(**data)


@dataclass
class ExecContext:
    """The fds the launcher prepared: error pipe, pid pipe, the pipe on which the process
    waits for its cgroups, console socket, stdio."""

    err_fd: int
    pid_fd: int
    go_fd: int
    stdio: list[int]
    close_fds: list[int]
    console_fd: int | None
    caps: int
    hier: cgroups.Hierarchies


_JOINED: Final = (*cgroups.V1_CONTROLLERS, *cgroups.V1_UNLIMITED, "cpuset")


def join_cgroups(mover: int, pid: int, hier: cgroups.Hierarchies) -> None:
    """Move process ``mover`` into every cgroup ``pid`` is in (its cpuset cgroup too — every
    container has one; a host-cgroupns one is in every hierarchy, a hybrid host's v2 one
    included); one it is in already is skipped."""
    with open(f"/proc/{pid}/cgroup", encoding="utf-8") as f:
        lines = f.read().splitlines()
    with open(f"/proc/{mover}/cgroup", encoding="utf-8") as f:
        own = set(f.read().splitlines())
    for line in lines:
        _hid, controllers, path = line.split(":", 2)
        if line in own:
            continue
        if controllers:
            mount = next((hier.v1[c] for c in controllers.split(",")
                          if (c in _JOINED or c.startswith("name=")) and c in hier.v1), None)
        else:
            mount = hier.v2
        if mount is not None:
            with open(os.path.join(mount, path.lstrip("/"), "cgroup.procs"), "w") as procs:
                procs.write(str(mover))


def joiner(spec: ExecSpec, ctx: ExecContext) -> NoReturn:
    """Step 1 (see the module docstring); never returns."""
    code = SETUP_FAILED
    try:
        for fd in ctx.close_fds:
            os.close(fd)
        if os.geteuid() == 0:
            # a remapped container's: raising a hard limit needs the initial namespace's root,
            # and inside, its /proc/self/oom_score_adj is not the exec's to open
            set_rlimits(spec.rlimits)
            set_oom_score_adj(spec.oom_score_adj)
            namespaces.join(spec.pid, namespaces.ROOT_JOIN_ORDER)
        else:
            namespaces.join(spec.pid)
        child = syscalls.clone(CLONE_PARENT)
        if child == 0:
            process(spec, ctx)
        os.write(ctx.pid_fd, str(child).encode())
        code = 0
    except BaseException as exc:  # noqa: BLE001 — reported to the launcher, never unwound
        message = _container_gone(exc, spec.pid) or _describe(exc)
        _report(ctx.err_fd, "setup", message, SETUP_FAILED)
    finally:
        os._exit(code)


def _container_gone(exc: BaseException, pid: int) -> str | None:
    if isinstance(exc, FileNotFoundError | ProcessLookupError) and not os.path.exists(f"/proc/{pid}"):
        return "the container's init process has exited"
    return None


def process(spec: ExecSpec, ctx: ExecContext) -> NoReturn:
    """Step 2: set up and exec the command; never returns."""
    code = SETUP_FAILED
    try:
        os.close(ctx.pid_fd)
        if os.read(ctx.go_fd, 1) != b"1":  # the launcher could not move us: it reports why
            os._exit(SETUP_FAILED)
        os.close(ctx.go_fd)
        path, env = _setup(spec, ctx)
        try:
            os.execve(path, spec.args, env)
        except OSError as exc:
            raise ExecError(f'exec: "{spec.args[0]}": {os.strerror(exc.errno or 13).lower()}',
                            127 if exc.errno == 2 else 126) from None
    except ExecError as exc:
        code = exc.exit_code
        _report(ctx.err_fd, "exec", str(exc), code)
        _say(str(exc))
    except BaseException as exc:  # noqa: BLE001 — reported to the launcher, never unwound
        message = str(exc) if not isinstance(exc, OSError) else _describe(exc)
        code = docker_exit_code(message)
        _report(ctx.err_fd, "setup", message, code, type(exc).__name__)
        _say(message)
    finally:
        os._exit(code)


def _setup(spec: ExecSpec, ctx: ExecContext) -> tuple[str, dict[str, str]]:
    os.setsid()
    _default_signals()
    _stdio(ctx.stdio)
    user = users.resolve(spec.user, ["/"])  # the container's files: we are in its root now
    if userns.inside():  # rootless: a user the map lacks is named, not EINVAL from setresuid
        extra = list(user.additional_gids) if _setgroups_allowed() else []
        idmap.check_mapped(userns.current(), user.uid, [user.gid, *extra])
    if ctx.console_fd is not None:
        _console(ctx.console_fd, user.uid)
    env = dict(item.partition("=")[::2] for item in spec.env)
    env.setdefault("HOME", user.home)
    entered = chdir_cwd(spec.cwd or "/", False)
    set_oom_score_adj(spec.oom_score_adj)
    set_rlimits(spec.rlimits)
    program = seccomp.program_for(spec.seccomp, ctx.caps)  # the container's, as runc's exec
    if program and not spec.no_new_privs:
        seccomp.load(program)
    capabilities.drop_bounding(ctx.caps)
    if _setgroups_allowed():  # "deny" in a user namespace with a single-uid (rootless) map
        syscalls.setgroups(list(user.additional_gids))
    keep = user.uid == 0 or spec.holds_caps
    if keep and user.uid != 0:  # runc's SetKeepCaps around the user change, then ApplyCaps
        syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 1)  # (the execve resets the flag)
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)
    if keep:
        capabilities.restrict(ctx.caps)
    if spec.no_new_privs:
        syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
        if program:
            seccomp.load(program)
    if not entered:
        chdir_cwd(spec.cwd or "/", True)
    return find_executable(spec.args[0], spec.env), env


def _setgroups_allowed() -> bool:
    try:
        with open("/proc/self/setgroups", encoding="ascii") as f:
            return f.read().strip() != "deny"
    except OSError:
        return True


def launch(spec: ExecSpec, stdio: list[int], hier: cgroups.Hierarchies,
           caps: int) -> tuple[int, int, int | None, dict[str, Any] | None]:
    """Launcher side: fork the joiner, learn the process's pid, wait for its exec.

    Returns ``(pid, pidfd, console, failure)``; with a failure report the process has already
    exited (the caller reaps it), and ``pid`` is 0 if it never existed."""
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid_r, pid_w = os.pipe2(os.O_CLOEXEC)
    go_r, go_w = os.pipe2(os.O_CLOEXEC)
    con_r, con_w = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET) if spec.tty \
        else (None, None)
    ctx = ExecContext(err_w, pid_w, go_r, stdio,
                      [err_r, pid_r, go_w] + ([con_r.fileno()] if con_r else []),
                      con_w.fileno() if con_w else None, caps, hier)
    joiner_pid = os.fork()
    if joiner_pid == 0:
        joiner(spec, ctx)
    os.close(err_w)
    os.close(pid_w)
    os.close(go_r)
    if con_w is not None:
        con_w.close()
    moved: str | None = None
    try:
        text = syscalls.read_all(pid_r)
        os.waitpid(joiner_pid, 0)
        pid = int(text) if text else 0
        pidfd = os.pidfd_open(pid) if pid else -1
        if pid:
            moved = _move(pid, spec.pid, hier)
            if moved is None:
                try:
                    os.write(go_w, b"1")
                except BrokenPipeError:  # killed while it waited (its container removed):
                    pass                 # reaped as any exec's process — its init waits for that
        os.close(go_w)
        go_w = -1
        console = _receive_console(con_r) if con_r is not None and pid and moved is None else None
        failure = syscalls.read_all(err_r)
    finally:
        if go_w != -1:
            os.close(go_w)
        os.close(pid_r)
        os.close(err_r)
        if con_r is not None:
            con_r.close()
    report: dict[str, Any] | None = _parse_report(failure) if failure or not pid else None
    if moved is not None:
        report = {"kind": "setup", "message": moved, "exit": SETUP_FAILED}
    return pid, pidfd, console, report


def _move(pid: int, container: int, hier: cgroups.Hierarchies) -> str | None:
    """The exec's process into the container's cgroups (a root launcher's; a rootless one has
    none to move it to): None, or why it could not be moved."""
    if os.geteuid() != 0 or hier.mode == "none":
        return None
    try:
        join_cgroups(pid, container, hier)
    except (OSError, ValueError) as exc:  # ValueError: a cgroup file read as the process went
        gone = _container_gone(exc, container)
        return gone or f"failed to add the exec process to the container's cgroups: {_describe(exc)}"
    return None


def _parse_report(data: bytes) -> dict[str, Any]:
    try:
        report: dict[str, Any] = json.loads(data)
    except ValueError:
        report = {"kind": "setup", "message": "the exec process failed to start", "exit": SETUP_FAILED}
    return report


def _receive_console(sock: socket.socket) -> int | None:
    _data, fds, _flags, _addr = socket.recv_fds(sock, 64, 1)
    for fd in fds:
        os.set_inheritable(fd, False)
    return fds[0] if fds else None
