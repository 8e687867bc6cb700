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
from typing import Final, NoReturn

_libc = ctypes.CDLL(None, use_errno=True)
_pylibc = ctypes.PyDLL(None, use_errno=True)  # keeps the GIL held: needed around clone

# Namespace flags (sched.h)
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
MS_RELATIME: Final = 1 << 21
MNT_DETACH: Final = 2

# prctl(2) options
PR_SET_PDEATHSIG: Final = 1
PR_SET_KEEPCAPS: Final = 8
PR_CAPBSET_READ: Final = 23
PR_CAPBSET_DROP: Final = 24
PR_SET_NO_NEW_PRIVS: Final = 38
PR_CAP_AMBIENT: Final = 47
PR_CAP_AMBIENT_CLEAR_ALL: Final = 4

_SYSCALL_NUMBERS: Final = {
    "x86_64": {"clone": 56, "pivot_root": 155, "setns": 308},
    "aarch64": {"clone": 220, "pivot_root": 41, "setns": 268},
}
_NR: Final = _SYSCALL_NUMBERS.get(os.uname().machine, _SYSCALL_NUMBERS["x86_64"])


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


def setrlimit(resource: int, soft: int, hard: int) -> None:
    """Set one resource limit of this process. Values are read as Go's ``uint64`` conversion
    reads Docker's (``-1`` is RLIM_INFINITY); a failure says it in runc's words
    ("error setting rlimit type 7: invalid argument")."""
    limit = _Rlimit(soft & _U64, hard & _U64)
    if _libc.prlimit(ctypes.c_int(0), ctypes.c_int(resource), ctypes.byref(limit), None) == -1:
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
