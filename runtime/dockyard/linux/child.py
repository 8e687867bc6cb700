"""What a container's init process does between ``clone`` and ``execve``.

It runs in the freshly cloned child (new mount/PID/UTS/IPC[/net][/user] namespaces) and never
returns: it either reports why it cannot run the entrypoint on the *error pipe* (a
close-on-exec pipe to the launcher) and exits with the code dockerd would record
(:func:`docker_exit_code`), or execs it, writing nothing there. The start is done at the pipe's
EOF with no report, as ``runc start`` reads its exec fifo to the end (runc's init holds it
close-on-exec): the container's process is then its command, never this Python image
(``docker top`` right after a start listed the launcher's command line). That EOF comes after
the kernel has torn this image down (``exit_mmap`` of the old mm inside ``execve``: ~1.2 ms of
the ~1.5 ms from here to the EOF, traced); a byte before the ``execve`` (``EXECUTING`` until
session 13) only woke the waiter on the way, and it preempted us for it. An ``execve`` that
fails after the lookup (a script's missing interpreter, a binary for another machine) is the
process's own end, as with runc: EOF too, the start stands, its message in the container's
output, exit code 1.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import socket
import stat
import termios
from dataclasses import dataclass, field
from typing import NoReturn

from ..containers.spec import DEFAULT_PATH, MASKED_PATHS, READONLY_PATHS, ContainerSpec
from ..containers.trace import mark
from ..errors import DockyardError
from . import capabilities, idmap, mounts, namespaces, overlay, seccomp, syscalls, sysctls
from .cgroups import Cgroup

SETUP_FAILED = 128  # dockerd's code for a start failure it cannot classify
EXEC_FAILED = 1     # runc's exit code when the execve itself fails


def docker_exit_code(message: str) -> int:
    """dockerd 20.10.24's ``translateContainerdStartErr`` over what runc says: 127 for a
    missing file ("executable file not found", ENOENT's words — the command named or not: 20.10
    records 127 for ``/Nope``, which an older rule's case-sensitive look for the command
    missed), 126 for EACCES's, 127 for ENOTDIR's, checked in that order; else its
    ``exitUnknown``, 128. A code other than 128 is also its 400 (``startInvalidConfigError``)."""
    text = message.lower()
    code = SETUP_FAILED
    if "executable file not found" in text or "no such file or directory" in text:
        code = 127
    if "permission denied" in text:
        code = 126
    if "not a directory" in text:
        code = 127
    return code


def chdir_cwd(cwd: str, user_set: bool) -> bool:
    """runc's ``finalizeNamespace``: the cwd is entered before the user change (root may enter
    what the user may not: ``-u nobody -w /root`` runs) and, when that is refused (EACCES,
    EPERM: a directory only the user may enter), once more after it (``user_set``). Returns
    whether it is entered; raises runc's error otherwise."""
    try:
        os.chdir(cwd)
    except PermissionError as exc:
        if user_set:
            raise _cwd_error(cwd, exc) from None
        return False
    except OSError as exc:
        raise _cwd_error(cwd, exc) from None
    return True


def _cwd_error(cwd: str, exc: OSError) -> ExecError:
    message = (f'chdir to cwd ("{cwd}") set in config.json failed: '
               f"{os.strerror(exc.errno or 13).lower()}")
    return ExecError(message, docker_exit_code(message))


class ExecError(Exception):
    """The entrypoint cannot be executed; ``str`` is runc's wording, which dockerd relays."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class ChildContext:
    """Everything the child needs that the launcher prepared before ``clone``."""

    err_fd: int
    sync_fd: int | None
    stdio: list[int]
    cgroup: Cgroup | None
    hierarchies: list[tuple[str, str, str]] = field(default_factory=list)
    close_fds: list[int] = field(default_factory=list)
    console_fd: int | None = None  # socket to send the pty master through (``tty``)
    caps: int = 0                  # capability mask, resolved (and validated) before clone
    net_joined: bool = False       # an embryo joined ``spec.network`` through a passed fd
    root_sock: int | None = None   # an embryo's socket to its shim: the root mount goes there
    cgroupns: bool = False         # unshared already where the init's cgroups are for good
    #                                (an embryo's, before it made ``premade``'s cgroup tree)
    premade: mounts.Premade | None = None  # an embryo's /proc, /dev and /sys/fs/cgroup
    gated: bool = False            # wait for GATE_GO on ``root_sock`` before the spec's mounts
    overlay_fd: int | None = None  # the root, made detached by a root launcher (``linux.remapstart``)
    sys_fd: int | None = None      # /sys of a network namespace not the user namespace's, likewise
    binds: dict[int, mounts.MadeBind] = field(default_factory=dict)  # spec.mounts' index: likewise


def _env_path(env: list[str]) -> str:
    for item in env:
        if item.startswith("PATH="):
            return item[5:]
    return DEFAULT_PATH


def find_executable(name: str, env: list[str]) -> str:
    """Go's ``exec.LookPath`` as runc applies it inside the container."""
    if "/" in name:
        try:
            st = os.stat(name)
        except OSError as exc:  # ENOENT 127, EACCES (a directory the user may not search) 126
            message = f'exec: "{name}": stat {name}: {os.strerror(exc.errno or 2).lower()}'
            raise ExecError(message, docker_exit_code(message)) from None
        if stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o111:
            raise ExecError(f'exec: "{name}": permission denied', 126)
        return name
    for directory in _env_path(env).split(":"):
        path = os.path.join(directory or ".", name)
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o111:
            return path
    raise ExecError(f'exec: "{name}": executable file not found in $PATH', 127)


def _stdio(fds: list[int]) -> None:
    for target, fd in enumerate(fds[:3]):
        if fd != target:
            os.dup2(fd, target, inheritable=True)
        else:
            os.set_inheritable(fd, True)


def _enter_userns(spec: ContainerSpec, ctx: ChildContext) -> None:
    if spec.userns is None:
        return
    if ctx.sync_fd is not None:  # the launcher writes our maps (newuidmap) and then says "go"
        if os.read(ctx.sync_fd, 1) != b"1":
            raise RuntimeError("the launcher failed to write the user namespace maps")
    elif not spec.userns_join:  # a joined namespace has its maps
        idmap.write_own(spec.userns)
    if spec.userns.by_parent:  # remapped: cloned without its IPC namespace (``remapstart``)
        os.setresuid(0, 0, 0)
        if not spec.ipc_ns:  # --ipc container:x: x's, joined below (its user namespace ours)
            _own_ipc()
        os.setresgid(0, 0, 0)
    else:
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)


def _own_ipc() -> None:
    """A remapped init's IPC namespace, made as runc makes it: after root's uid, before its gid.
    Its mqueue file system's root takes the maker's fsuid and fsgid, so /dev/mqueue shows
    ``0:65534`` inside, as under dockerd 20.10 with ``--userns-remap`` (made by the clone, with
    the launcher's ids, it showed ``65534:65534``)."""
    syscalls.unshare(namespaces.FLAGS["ipc"])


def _filesystem(spec: ContainerSpec, ctx: ChildContext) -> None:
    root = spec.rootfs_dir
    userns = spec.userns
    rootless = userns is not None and not userns.by_parent  # a rootless daemon's container
    mounts.prepare_root(root, spec.rootfs_propagation)
    if ctx.overlay_fd is not None:
        syscalls.move_mount(ctx.overlay_fd, root)
        os.close(ctx.overlay_fd)
    else:
        overlay.mount(spec.lower_dirs, spec.upper_dir, spec.work_dir, root, userxattr=rootless)
    if ctx.root_sock is not None:
        _hand_root(root, ctx.root_sock)
    mark(spec.id, "child.overlay")
    made = ctx.premade
    masked, readonly = spec.masked_paths, spec.readonly_paths
    proc = None  # the premade proc has the default /proc entries masked: for a spec that does
    if made and not spec.privileged and (masked, readonly) == (_MASKED, _READONLY):
        proc = made.proc
        masked, readonly = _MASKED_ELSEWHERE, _READONLY_ELSEWHERE
    mounts.mount_proc(root, proc, host_pid=spec.pid_ns == "host")
    mounts.mount_sys(root, read_only=not spec.privileged, own_netns=spec.network == "none",
                     made=ctx.sys_fd)
    # dockerd clears the cgroup mount's read-only flag for --privileged and under the remap
    cgroups_ro = not spec.privileged and spec.userns is None
    if not rootless and ctx.hierarchies and spec.cgroupns == "host":
        mounts.bind_cgroups(root, ctx.hierarchies, read_only=cgroups_ro)
    elif not rootless and ctx.hierarchies:
        mounts.mount_cgroups(root, ctx.hierarchies, read_only=cgroups_ro,
                             made=made.cgroups if made and ctx.cgroupns and cgroups_ro else None)
    extra = mounts.host_devices() if spec.privileged and not rootless else []
    mark(spec.id, "child.proc-sys-cg")
    mounts.mount_dev(root, use_mknod=userns is None, pts_gid=_pts_gid(userns), extra=extra,
                     made=made.dev if made else None, shm=spec.shm,
                     host_ipc=spec.ipc_ns == "host")
    mark(spec.id, "child.dev")
    if ctx.root_sock is not None:
        if ctx.gated:
            await_gate(ctx.root_sock)
            mark(spec.id, "child.gate-opened")
        os.close(ctx.root_sock)
    for i, m in enumerate(spec.mounts):
        if i in ctx.binds:
            mounts.attach_bind(root, ctx.binds[i], m.source, m.target,
                               mounts.bind_propagation(m.options))
        elif m.type == "bind":
            mounts.bind(root, m.source, m.target, m.read_only, "norbind" not in m.options,
                        m.subpath, mounts.bind_propagation(m.options))
        else:
            mounts.tmpfs(root, m.target, m.options, m.read_only)
    if spec.uts_ns != "host":  # --uts host: the host's names stay
        syscalls.sethostname(spec.hostname or spec.id[:12])  # Docker's default: the short id
        if spec.domainname:
            syscalls.setdomainname(spec.domainname)
    if spec.sysctls:  # through the /proc still at /proc, in the init's namespaces: runc's order
        sysctls.apply(spec.sysctls)
    mounts.pivot(root)
    mark(spec.id, "child.pivot")
    if ctx.console_fd is not None:
        _console(ctx.console_fd, spec.user.uid, dev_console=True)
    if not spec.privileged:
        mounts.mask(masked)
        mounts.make_readonly(readonly)
    if spec.cwd != "/":  # the create made it; a mount over it hides that (runc makes it too)
        mkdir_all(spec.cwd)
    if spec.read_only:
        mounts.remount_readonly("/")
    mark(spec.id, "child.masked")


def mkdir_all(path: str, mode: int = 0o755) -> None:
    """Go's ``os.MkdirAll``, as runc's ``prepareRootfs`` makes the cwd, failing in runc's words
    with the part Go names: ``mkdir /proc/foo: no such file or directory`` (procfs refuses),
    ``mkdir /etc/mtab: not a directory`` (a link to a file, followed)."""
    try:
        mounts.go_mkdir_all(path, mode)
    except OSError as exc:
        raise OSError(exc.errno, f"error during container init: {exc.strerror}") from None


def _pts_gid(userns: idmap.UserNamespace | None) -> int | None:
    """devpts' ``gid=5`` (tty), where the namespace maps it (not a rootless one's: its tty
    group would be another group of the host's)."""
    if userns is None or userns.by_parent and idmap.mapped(userns.gid_map, 5):
        return 5
    return None


# Docker's default masked and read-only paths, split: an embryo's premade /proc has its own
# done (names under /proc); a start that masks the defaults does the rest
_MASKED, _READONLY = list(MASKED_PATHS), list(READONLY_PATHS)
_PROC_MASKED = [p.removeprefix("/proc/") for p in _MASKED if p.startswith("/proc/")]
_PROC_READONLY = [p.removeprefix("/proc/") for p in _READONLY if p.startswith("/proc/")]
_MASKED_ELSEWHERE = [p for p in _MASKED if not p.startswith("/proc/")]
_READONLY_ELSEWHERE = [p for p in _READONLY if not p.startswith("/proc/")]


def _hand_root(root: str, sock_fd: int) -> None:
    """Send the shim a reference to the overlay mount (an ``O_PATH`` fd of its root). The last
    reference to an overlay syncs the whole upper file system as it goes (``ovl_sync_fs``:
    4–8 ms here, more when the disk is busy); without this one, that is our own exit's, and
    every waiter waits for it. With it, the shim drops the mount after reporting the exit —
    where containerd's shim unmounts a container's rootfs too."""
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        sock = socket.socket(fileno=sock_fd)
        try:
            socket.send_fds(sock, [b"root"], [fd])
        finally:
            sock.detach()  # the caller's to close: a gate may come on it yet
    finally:
        os.close(fd)


GATE_GO, GATE_STOP = b"go", b"stop"
GATE_TIMEOUT = 120.0
"""Seconds an embryo waits for its network (the daemon finishes it meanwhile, in ms)."""


def await_gate(sock_fd: int) -> None:
    """Wait until the daemon has finished the network's set-up (its /etc files exist to be
    bound, its interfaces are up): ``GATE_GO``. Anything else — ``GATE_STOP``, EOF, a
    timeout — is the start's end; the daemon reports its own error then."""
    sock = socket.socket(fileno=sock_fd)
    try:
        sock.settimeout(GATE_TIMEOUT)
        try:
            said = sock.recv(16)
        except OSError:
            said = b""
    finally:
        sock.detach()
    if said != GATE_GO:
        raise DockyardError("the container's network was not set up")


def _console(sock_fd: int, uid: int, dev_console: bool = False) -> None:
    """A pty from the container's own devpts (``/dev/ptmx`` now leads there) as stdio and
    controlling terminal, and for a container's init (``dev_console``) ``/dev/console``; its
    master goes back to the launcher, as runc hands it over through ``--console-socket``."""
    master, slave = os.openpty()
    if dev_console:
        mounts.ensure_file("/dev/console")
        syscalls.mount(os.ttyname(slave), "/dev/console", None, syscalls.MS_BIND)
    os.fchown(slave, uid, -1)
    for target in range(3):
        os.dup2(slave, target)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    with socket.socket(fileno=sock_fd) as sock:
        socket.send_fds(sock, [b"console"], [master])
    os.close(master)
    os.close(slave)


def set_rlimits(rlimits: list[list[int]]) -> None:
    """``--ulimit``s, for the init and each exec, while raising a hard limit is still allowed
    (runc sets them before its init drops capabilities); a refusal in runc's words."""
    try:
        for resource, soft, hard in rlimits:
            syscalls.setrlimit(resource, soft, hard)
    except OSError as exc:
        raise OSError(exc.errno, "error during container init: error setting rlimits for ready "
                                 f"process: {exc.strerror}") from None


def set_oom_score_adj(value: int, pid: int | str = "self") -> None:
    """``--oom-score-adj``, for the init and each exec while still root (lowering it needs
    ``CAP_SYS_RESOURCE``); what it execs, and every child, inherits it. Written whatever its
    value, as runc writes the one dockerd gives (0 by default): a container does not keep the
    daemon's own — but a 0 the process may not write (below its score without the privilege
    to lower it: a rootless daemon under systemd --user; inside a user namespace, where the
    file is not its to open) is left as it was. A remapped container's init and execs have it
    written from outside (``pid``: by the root launcher, ``remapstart.release``, and an exec's
    joiner before it enters), as runc's nsexec writes it as the host's root before its clone;
    a score already there is not written again (inside, the file is not theirs to open).
    A refusal in runc 1.1's words: its nsexec writes the value before it reports the child's
    PID and, refused, dies with no reason given (dockerd 20.10's "can't get final child's PID
    from pipe: EOF", for ``--oom-score-adj -1`` where the daemon lacks CAP_SYS_RESOURCE)."""
    path = f"/proc/{pid}/oom_score_adj"
    try:
        with open(path, "rb") as current:
            if int(current.read()) == value:
                return
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, str(value).encode())
        finally:
            os.close(fd)
    except OSError as exc:
        if value == 0 and exc.errno == errno.EACCES:  # not even opened, in a user namespace
            return
        raise OSError(exc.errno, OOM_SCORE_REFUSED) from None


OOM_SCORE_REFUSED = "can't get final child's PID from pipe: EOF"
"""runc 1.1's words for an ``oom_score_adj`` it may not write (see :func:`set_oom_score_adj`)."""


def _become_user(spec: ContainerSpec, caps: int) -> None:
    set_oom_score_adj(spec.oom_score_adj)
    set_rlimits(spec.rlimits)
    program = seccomp.program_for(spec.seccomp, caps)
    if program and not spec.no_new_privs:  # as runc: while CAP_SYS_ADMIN allows it
        seccomp.load(program)
    capabilities.drop_bounding(caps)
    user = spec.user
    if spec.userns is None or spec.userns.from_outside:
        os.setgroups(user.additional_gids)
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)  # non-root: the kernel clears every capability
    if user.uid == 0:
        capabilities.restrict(caps)
    if spec.no_new_privs:
        syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
        if program:  # as runc: last, so the filter need allow nothing of the set-up
            seccomp.load(program)
    if spec.die_with_parent:  # after the uid change, which would clear it
        syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)


def _default_signals() -> None:
    """Ignored signals survive exec: undo Python's (SIGPIPE, SIGXFSZ) and the launcher's
    (SIGINT) so the entrypoint starts with every disposition at its default and none blocked."""
    for signo in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):
        signal.signal(signo, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _setup(spec: ContainerSpec, ctx: ChildContext) -> str:
    mark(spec.id, "child.begin")
    for fd in ctx.close_fds:
        os.close(fd)
    os.setsid()  # no controlling terminal: /dev/tty must not reach the caller's terminal
    os.umask(0o022)  # Docker's, whatever the launcher inherited
    _default_signals()
    _stdio(ctx.stdio)
    _enter_userns(spec, ctx)
    mark(spec.id, "child.stdio")
    if ctx.cgroup is not None:
        ctx.cgroup.join(0)
    mark(spec.id, "child.cgroup-joined")
    if not ctx.cgroupns and spec.cgroupns != "host":
        syscalls.unshare(namespaces.FLAGS["cgroup"])
    if spec.ipc_ns.startswith("/"):  # --ipc container:x, before /dev's mqueue is mounted
        namespaces.join_path(spec.ipc_ns, "ipc")
    if spec.network not in ("none", "host") and not ctx.net_joined:
        namespaces.join_network(spec.network)
    elif spec.network == "none":  # a namespace of our own (rootless, or no network manager)
        namespaces.loopback_up()
        sysctls.set_netns_defaults()
        if not spec.netns_pin:  # a remapped one's, wired by now, had it from the launcher
            sysctls.set_ipv6_off()
    mark(spec.id, "child.fs")
    _filesystem(spec, ctx)
    entered = chdir_cwd(spec.cwd, False)
    _become_user(spec, ctx.caps)
    if not entered:
        chdir_cwd(spec.cwd, True)
    path = find_executable(spec.args[0], spec.env)
    mark(spec.id, "child.exec")
    return path


def _report(fd: int, kind: str, message: str, code: int, error: str = "StartFailed") -> None:
    report = {"kind": kind, "message": message, "exit": code, "type": error}
    try:
        os.write(fd, json.dumps(report).encode())
    except OSError:
        pass


def run(spec: ContainerSpec, ctx: ChildContext) -> NoReturn:
    """Set the container up and exec its entrypoint; never returns."""
    code = SETUP_FAILED
    try:
        path = _setup(spec, ctx)
        env = dict(item.partition("=")[::2] for item in spec.env)
        try:  # nothing on the error pipe: its EOF (close-on-exec) is the exec
            os.execve(path, spec.args, env)
        except OSError as exc:
            code = EXEC_FAILED
            _say(f"exec {path}: {os.strerror(exc.errno or 13).lower()}")
    except ExecError as exc:
        code = exc.exit_code
        _report(ctx.err_fd, "exec", str(exc), code)
        _say(str(exc))
    except BaseException as exc:  # noqa: BLE001 — anything else: report it, never let Python unwind further
        typed = isinstance(exc, DockyardError)
        message = str(exc) if typed else _describe(exc)
        code = docker_exit_code(message)
        _report(ctx.err_fd, "setup", message, code, type(exc).__name__ if typed else "StartFailed")
        _say(message)
    finally:
        os._exit(code)


def embryo(sock_fd: int, peer_fd: int, cgroup: Cgroup,
           hierarchies: list[tuple[str, str, str]]) -> NoReturn:
    """An init cloned before its container is known (``linux.launcher.Embryo``): it joins its
    cgroup off the clock, unshares its cgroup namespace there and makes /proc, /dev and
    /sys/fs/cgroup as detached mounts (:class:`mounts.Premade`), then waits for
    ``{"spec", "caps", "net", "console"}`` with the error pipe, stdio, the network namespace
    to join (a path's: as an fd) and the console socket (tty), makes its mount namespace (a
    copy of the mounts as they are at the start) and, for ``none``, its network namespace, and
    goes on as :func:`run`; the same socket takes the root mount back to the shim
    (:func:`_hand_root`). Its parent's death, or EOF, ends it."""
    try:
        syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)
        os.close(peer_fd)  # the parent's end: its death is our EOF
        cgroup.join(0)
        syscalls.unshare(namespaces.FLAGS["cgroup"])  # rooted here: renames keep it
        premade = mounts.Premade.make(hierarchies, _PROC_MASKED, _PROC_READONLY)
        syscalls.foreground()  # cloned by a spare on idle CPU: the container must not inherit it
        sock = socket.socket(fileno=sock_fd)
        sock.send(b"ready")  # in the cgroup: from now on it may be renamed
        data, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 8)
    except BaseException:  # noqa: BLE001 — nobody to tell yet: the parent sees us gone
        os._exit(SETUP_FAILED)
    if not data or len(fds) < 4:
        os._exit(0)
    for fd in fds:  # (recv_fds drops its flags argument: MSG_CMSG_CLOEXEC cannot do this)
        os.set_inheritable(fd, False)
    try:
        msg = json.loads(data)
        spec = ContainerSpec.from_dict(msg["spec"])
        mark(spec.id, "embryo.got-spec")
        syscalls.unshare(namespaces.FLAGS["mnt"] |  # now: a copy of the mounts as they are now
                         (namespaces.FLAGS["net"] if spec.network == "none" else 0))
        mark(spec.id, "embryo.unshared")
        extra = fds[4:]
        if msg["net"]:
            net = extra.pop(0)
            syscalls.setns(net, namespaces.FLAGS["net"])
            os.close(net)
        ctx = ChildContext(fds[0], None, fds[1:4], None, hierarchies, [],
                           extra[0] if msg["console"] else None, int(msg["caps"]),
                           bool(msg["net"]), sock.detach(),
                           # our cgroups are the container's, its cpuset's too (made and
                           # joined with the rest): the namespace and premade tree stay right
                           True, premade, bool(msg.get("gate")))
    except BaseException as exc:  # noqa: BLE001 — reported like any failed start; nothing
        # may unwind into the code of the process we were cloned from
        _report(fds[0], "setup", _describe(exc), SETUP_FAILED)
        os._exit(SETUP_FAILED)
    run(spec, ctx)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        # syscalls.py puts the call and its arguments in strerror; os.* put the path aside
        return exc.strerror + (f": {exc.filename}" if exc.filename and
                               str(exc.filename) not in exc.strerror else "")
    return f"{type(exc).__name__}: {exc}"


def _say(message: str) -> None:
    try:
        os.write(2, f"{message}\n".encode())
    except OSError:
        pass
