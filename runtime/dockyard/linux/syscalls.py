"""The only module that makes raw system calls (through ctypes); everything else calls these.

Each wrapper raises ``OSError`` with the kernel's errno and the call's arguments, so a failure
deep inside a container's set-up still says which call failed on which path.

``clone`` is the one subtle wrapper: it calls the raw syscall in *fork* mode (no new stack) via
``ctypes.PyDLL`` so the GIL stays held across the call, and the child carries on in Python just
as after ``os.fork``. It skips CPython's after-fork hooks, so it is only safe in a
single-threaded process — the launcher helper, which is exactly that.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Final, NoReturn

_libc = ctypes.CDLL(None, use_errno=True)
_pylibc = ctypes.PyDLL(None, use_errno=True)  # keeps the GIL held: needed around clone

# Namespace flags (sched.h)
CLONE_PARENT: Final = 0x00008000
CLONE_NEWNS: Final = 0x00020000
CLONE_NEWCGROUP: Final = 0x02000000
CLONE_NEWUTS: Final = 0x04000000
CLONE_NEWIPC: Final = 0x08000000
CLONE_NEWUSER: Final = 0x10000000
CLONE_NEWPID: Final = 0x20000000
CLONE_NEWNET: Final = 0x40000000
SIGCHLD: Final = 17

# mount(2) flags
MS_RDONLY: Final = 1
MS_NOSUID: Final = 2
MS_NODEV: Final = 4
MS_NOEXEC: Final = 8
MS_REMOUNT: Final = 32
MS_NOATIME: Final = 1024
MS_BIND: Final = 4096
MS_MOVE: Final = 8192
MS_REC: Final = 16384
MS_PRIVATE: Final = 1 << 18
MS_SLAVE: Final = 1 << 19
MS_SHARED: Final = 1 << 20
MS_RELATIME: Final = 1 << 21
MS_STRICTATIME: Final = 1 << 24
MNT_DETACH: Final = 2

# the new mount API (fsopen, fsmount, move_mount): mounts made before their place exists
MOUNT_ATTR_RDONLY: Final = 0x1
MOUNT_ATTR_NOSUID: Final = 0x2
MOUNT_ATTR_NODEV: Final = 0x4
MOUNT_ATTR_NOEXEC: Final = 0x8
MOUNT_ATTR_STRICTATIME: Final = 0x20
_FSCONFIG_SET_FLAG: Final = 0
_FSCONFIG_SET_STRING: Final = 1
_FSCONFIG_CMD_CREATE: Final = 6
_MOVE_MOUNT_F_EMPTY_PATH: Final = 0x4
_AT_FDCWD: Final = -100
AT_FDCWD: Final = _AT_FDCWD
_AT_RECURSIVE: Final = 0x8000
_AT_EMPTY_PATH: Final = 0x1000
_OPEN_TREE_CLONE: Final = 1
_CLOEXEC: Final = 1  # FSOPEN_CLOEXEC, FSMOUNT_CLOEXEC

# prctl(2) options
PR_SET_PDEATHSIG: Final = 1
PR_SET_KEEPCAPS: Final = 8
PR_CAPBSET_READ: Final = 23
PR_CAPBSET_DROP: Final = 24
PR_SET_NO_NEW_PRIVS: Final = 38
PR_CAP_AMBIENT: Final = 47
PR_CAP_AMBIENT_CLEAR_ALL: Final = 4

_SYSCALL_NUMBERS: Final = {
    "x86_64": {"clone": 56, "pivot_root": 155, "setns": 308, "seccomp": 317, "bpf": 321},
    "aarch64": {"clone": 220, "pivot_root": 41, "setns": 268, "seccomp": 277, "bpf": 280},
}
_NR: Final = {**_SYSCALL_NUMBERS.get(os.uname().machine, _SYSCALL_NUMBERS["x86_64"]),
              # numbered alike on every architecture since 5.1
              "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
              "mount_setattr": 442, "openat2": 437}


def _check(result: int, what: str, *paths: str) -> int:
    if result == -1:
        _fail(what, *paths)
    return result


def _fail(what: str, *paths: str) -> NoReturn:
    """Raise the errno of the call that just failed. Callers on a container's start path test
    the result themselves and build ``what`` only then: a message formatted on every success
    costs a start ~0.3 ms (and copy-on-write faults) for nothing."""
    err = ctypes.get_errno()
    raise OSError(err, f"{what}: {os.strerror(err)}", *paths[:1])


def _b(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    if _libc.unshare(ctypes.c_int(flags)) == -1:
        _fail(f"unshare(0x{flags:x})")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0,
          data: str | None = None) -> None:
    """mount(2); ``OSError.filename`` is the target, the message names source and type."""
    rc = _libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data))
    if rc == -1:
        _fail(f"mount {source or fstype} on {target} (type {fstype}, flags 0x{flags:x}"
              f"{', ' + data if data else ''})", target)


def new_mount(fstype: str, source: str, options: str | None, attrs: int) -> int:
    """A mount of a new ``fstype`` instance that is not attached anywhere yet (fsopen,
    fsconfig, fsmount): its fd, an ``O_PATH`` directory fd of its root, for ``*at`` calls
    and :func:`move_mount`. ``options`` as mount(2)'s data (``mode=755,size=64k``); the
    file system is bound to this process's namespaces (PID for proc, IPC for mqueue,
    cgroup for cgroup) as it is made."""
    call = _libc.syscall
    fs = call(ctypes.c_long(_NR["fsopen"]), fstype.encode(), ctypes.c_uint(_CLOEXEC))
    if fs == -1:
        _fail(f"fsopen({fstype})")
    try:
        params = [("source", source), *((k, v if eq else None) for k, eq, v in
                                        (o.partition("=") for o in (options or "").split(",") if o))]
        for key, value in params:
            kind = _FSCONFIG_SET_STRING if value is not None else _FSCONFIG_SET_FLAG
            if call(ctypes.c_long(_NR["fsconfig"]), ctypes.c_int(fs), ctypes.c_uint(kind),
                    key.encode(), _b(value), ctypes.c_int(0)) == -1:
                _fail(f"fsconfig({fstype}, {key}{'=' + value if value else ''})")
        if call(ctypes.c_long(_NR["fsconfig"]), ctypes.c_int(fs), ctypes.c_uint(_FSCONFIG_CMD_CREATE),
                None, None, ctypes.c_int(0)) == -1:
            _fail(f"fsconfig({fstype}, create)")
        fd = call(ctypes.c_long(_NR["fsmount"]), ctypes.c_int(fs), ctypes.c_uint(_CLOEXEC),
                  ctypes.c_uint(attrs))
        if fd == -1:
            _fail(f"fsmount({fstype})")
        return int(fd)
    finally:
        os.close(fs)


def clone_mount(dir_fd: int, path: str, recursive: bool = False) -> int:
    """A detached copy of the mount at ``path`` (relative to the mount ``dir_fd``, or
    :data:`AT_FDCWD`), as a bind mount of it would be (open_tree with OPEN_TREE_CLONE; with
    ``recursive``, and what is mounted below it, as ``rbind``): its fd."""
    flags = _OPEN_TREE_CLONE | os.O_CLOEXEC | (_AT_RECURSIVE if recursive else 0)
    fd = _libc.syscall(ctypes.c_long(_NR["open_tree"]), ctypes.c_int(dir_fd), _b(path),
                       ctypes.c_uint(flags))
    if fd == -1:
        _fail(f"open_tree({path})", path)
    return int(fd)


def move_mount(fd: int, target: str, dir_fd: int = _AT_FDCWD) -> None:
    """Attach the mount ``fd`` (with everything mounted on it) at ``target``, relative to
    ``dir_fd`` (another mount's fd, detached or not) when given."""
    rc = _libc.syscall(ctypes.c_long(_NR["move_mount"]), ctypes.c_int(fd), b"",
                       ctypes.c_int(dir_fd), _b(target), ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH))
    if rc == -1:
        _fail(f"move_mount to {target}", target)


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def set_mount_attrs(fd: int, attrs: int) -> None:
    """mount_setattr(2) on the mount ``fd`` itself (not what is mounted on it): e.g. a
    tmpfs made read-only once the directories on it are made."""
    attr = _MountAttr(attrs, 0, 0, 0)
    rc = _libc.syscall(ctypes.c_long(_NR["mount_setattr"]), ctypes.c_int(fd), b"",
                       ctypes.c_uint(_AT_EMPTY_PATH), ctypes.byref(attr),
                       ctypes.c_size_t(ctypes.sizeof(attr)))
    if rc == -1:
        _fail("mount_setattr")


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


# openat2(2) resolve flags
RESOLVE_NO_MAGICLINKS: Final = 0x02
RESOLVE_NO_SYMLINKS: Final = 0x04
RESOLVE_BENEATH: Final = 0x08


def openat2(dir_fd: int, path: str, flags: int, resolve: int) -> int:
    """openat2(2) (Linux 5.6+): ``path`` opened relative to ``dir_fd`` under ``resolve``'s
    rules, which the kernel enforces at every step of the walk (no check-then-use race)."""
    how = _OpenHow(flags, 0, resolve)
    fd = _libc.syscall(ctypes.c_long(_NR["openat2"]), ctypes.c_int(dir_fd), _b(path),
                       ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    if fd == -1:
        _fail(f"openat2 {path}", path)
    return int(fd)


_STATX_MNT_ID: Final = 0x1000
_AT_SYMLINK_NOFOLLOW: Final = 0x100
_STATX_SIZE: Final = 256  # struct statx; stx_mnt_id (u64) at byte 144
_STATX_MNT_ID_AT: Final = 144


def mount_id(path: str) -> int | None:
    """The id of the mount ``path`` (not followed if a symlink) is on, from statx(2) (Linux
    5.8+; None on an older kernel, which does not fill it in)."""
    buf = ctypes.create_string_buffer(_STATX_SIZE)
    if _libc.statx(ctypes.c_int(_AT_FDCWD), _b(path), ctypes.c_int(_AT_SYMLINK_NOFOLLOW),
                   ctypes.c_uint(_STATX_MNT_ID), buf) == -1:
        _fail(f"statx {path}", path)
    if not int.from_bytes(buf.raw[:4], sys.byteorder) & _STATX_MNT_ID:
        return None
    return int.from_bytes(buf.raw[_STATX_MNT_ID_AT:_STATX_MNT_ID_AT + 8], sys.byteorder)


def umount2(target: str, flags: int = 0) -> None:
    if _libc.umount2(_b(target), ctypes.c_int(flags)) == -1:
        _fail(f"umount {target}", target)


def pivot_root(new_root: str, put_old: str) -> None:
    rc = _libc.syscall(ctypes.c_long(_NR["pivot_root"]), _b(new_root), _b(put_old))
    if rc == -1:
        _fail(f"pivot_root({new_root}, {put_old})", new_root)


def sethostname(name: str) -> None:
    raw = name.encode()
    if _libc.sethostname(raw, ctypes.c_size_t(len(raw))) == -1:
        _fail(f"sethostname({name!r})")


def setdomainname(name: str) -> None:
    """The NIS domain name of this UTS namespace (``--domainname``; runc sets it beside the
    host name)."""
    raw = name.encode()
    if _libc.setdomainname(raw, ctypes.c_size_t(len(raw))) == -1:
        _fail(f"setdomainname({name!r})")


# getrlimit(2) resources by Docker's ``--ulimit`` names (asm-generic numbering)
RLIMITS: Final = {
    "cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5, "nproc": 6, "nofile": 7,
    "memlock": 8, "as": 9, "locks": 10, "sigpending": 11, "msgqueue": 12, "nice": 13,
    "rtprio": 14, "rttime": 15,
}
_U64: Final = (1 << 64) - 1


class _Rlimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_uint64), ("max", ctypes.c_uint64)]


def setrlimit(resource: int, soft: int, hard: int, pid: int = 0) -> None:
    """Set one resource limit of this process (or of ``pid``). Values are read as Go's
    ``uint64`` conversion reads Docker's (``-1`` is RLIM_INFINITY); a failure says it in runc's
    words ("error setting rlimit type 7: invalid argument")."""
    limit = _Rlimit(soft & _U64, hard & _U64)
    if _libc.prlimit(ctypes.c_int(pid), ctypes.c_int(resource), ctypes.byref(limit), None) == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"error setting rlimit type {resource}: {os.strerror(err).lower()}")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    rc: int = _libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                          ctypes.c_ulong(arg4), ctypes.c_ulong(arg5))
    if rc == -1:
        _fail(f"prctl({option})")
    return rc


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


_CAP_V3: Final = 0x20080522


def capget() -> tuple[int, int, int]:
    """``(effective, permitted, inheritable)`` of the calling thread as 64-bit masks."""
    header, data = _CapHeader(_CAP_V3, 0), (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(header), data), "capget")
    def join(f: str) -> int:
        return int(getattr(data[0], f)) | int(getattr(data[1], f)) << 32
    return join("effective"), join("permitted"), join("inheritable")


def capset(effective: int, permitted: int, inheritable: int) -> None:
    header, data = _CapHeader(_CAP_V3, 0), (_CapData * 2)()
    for i in range(2):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.capset(ctypes.byref(header), data), "capset")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class SeccompProgram:
    """A ``struct sock_fprog`` over a copy of ``program`` (``struct sock_filter``s), built
    ahead: in a freshly forked init, building it costs more than the call."""

    def __init__(self, program: bytes) -> None:
        self._buf = ctypes.create_string_buffer(program, len(program))
        self._fprog = _SockFprog(len(program) // 8, ctypes.addressof(self._buf))
        self.ref = ctypes.byref(self._fprog)


_SECCOMP_ARGS: Final = (ctypes.c_long(_NR["seccomp"]), ctypes.c_long(1), ctypes.c_long(0))


def seccomp_set_filter(program: SeccompProgram) -> None:
    """``seccomp(SECCOMP_SET_MODE_FILTER, 0, prog)``."""
    if _libc.syscall(*_SECCOMP_ARGS, program.ref) != 0:
        _fail("seccomp(SECCOMP_SET_MODE_FILTER)")


def bpf(cmd: int, attr: ctypes.Array[ctypes.c_char], what: str) -> int:
    """``bpf(cmd, attr, sizeof attr)``: its result (a new fd for a load); ``attr`` is a
    ``union bpf_attr`` laid out by the caller (``linux.devicebpf``), fields the kernel fills
    in written back into it. ``what`` names the call in the error."""
    rc = _libc.syscall(ctypes.c_long(_NR["bpf"]), ctypes.c_int(cmd), attr,
                       ctypes.c_uint(len(attr)))
    if rc == -1:
        _fail(what)
    return int(rc)


def setgroups(gids: list[int]) -> None:
    """setgroups(2) for this thread only is what glibc avoids; os.setgroups is process-wide."""
    os.setgroups(gids)


def clone(flags: int) -> int:
    """Fork-like ``clone(flags | SIGCHLD)``: returns the child's pid in the parent, 0 in the child.

    Only safe in a single-threaded process (see the module docstring)."""
    syscall = _pylibc.syscall
    syscall.restype = ctypes.c_long
    rc = syscall(ctypes.c_long(_NR["clone"]), ctypes.c_ulong(flags | SIGCHLD),
                 ctypes.c_void_p(0), ctypes.c_void_p(0), ctypes.c_void_p(0), ctypes.c_ulong(0))
    if rc == -1:
        _fail(f"clone(0x{flags:x})")
    return int(rc)


def syncfs(fd: int) -> None:
    """Flush the whole filesystem holding ``fd``: one call makes an unpacked layer durable
    before it is renamed into place (cheaper than an fsync per file)."""
    _check(_libc.syncfs(ctypes.c_int(fd)), "syncfs")


def read_all(fd: int) -> bytes:
    """Everything ``fd`` gives until its end: a pipe to EOF, a /proc or cgroup file."""
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def background() -> bool:
    """Run this process on otherwise idle CPU only (``SCHED_IDLE``): what a spare and its
    embryo do ahead of the next start (a fork's faults, a clone, a rehearsal: 3–5 ms of CPU)
    then never takes a core from the run in progress — the last one's exit, a client's next
    request. Root only: without CAP_SYS_NICE a process cannot come back (:func:`foreground`).
    Returns whether it went."""
    if os.geteuid() != 0:
        return False
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    return True


def foreground(pid: int = 0) -> None:
    """The normal policy again, for ``pid`` (this process by default): a spare or embryo that
    takes a container — before anything of the container runs, so nothing of it inherits
    the idle policy. A process gone meanwhile, or a rootless caller's EPERM, is no matter."""
    try:
        os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
    except OSError:
        pass
