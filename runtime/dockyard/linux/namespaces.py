"""Which namespaces a container gets, and joining an existing container's namespaces.

A container always gets new mount, PID, UTS, IPC and cgroup namespaces; a network namespace
unless it shares the host's (``network="host"``) or joins a prepared one (a path such as
``/run/netns/x``); a user namespace when rootless or ``--userns-remap`` asks for one. The cgroup
namespace is created *after* the init process has joined its cgroup (so the container sees its
own cgroup as ``/``); everything else is created by ``clone`` itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import struct
from collections.abc import Iterator
from typing import Final

from . import syscalls

FLAGS: Final = {
    "mnt": syscalls.CLONE_NEWNS, "pid": syscalls.CLONE_NEWPID, "uts": syscalls.CLONE_NEWUTS,
    "ipc": syscalls.CLONE_NEWIPC, "net": syscalls.CLONE_NEWNET, "user": syscalls.CLONE_NEWUSER,
    "cgroup": syscalls.CLONE_NEWCGROUP,
}
# setns order: the user namespace first (it grants the rights to join the others), mnt last.
JOIN_ORDER: Final = ("user", "ipc", "uts", "net", "pid", "cgroup", "mnt")
# root's: every namespace first (root outside may join any), the user namespace last — a
# remapped container's bridge network belongs to the initial user namespace, which a process
# in the container's may not join
ROOT_JOIN_ORDER: Final = ("ipc", "uts", "net", "pid", "cgroup", "mnt", "user")


def clone_flags(network: str, userns: bool) -> int:
    """Flags for the ``clone`` that creates the init process (cgroup ns comes later)."""
    flags = FLAGS["mnt"] | FLAGS["pid"] | FLAGS["uts"] | FLAGS["ipc"]
    if network == "none":
        flags |= FLAGS["net"]
    if userns:
        flags |= FLAGS["user"]
    return flags


def shared_flags(pid: str, ipc: str, uts: str) -> int:
    """The clone flags a container leaves out for the namespaces it shares (``--pid``,
    ``--ipc``, ``--uts``: "host", or a path to join; "" is one of its own)."""
    return (FLAGS["pid"] if pid else 0) | (FLAGS["ipc"] if ipc else 0) | \
        (FLAGS["uts"] if uts else 0)


@contextlib.contextmanager
def children_in(pid_ns: str) -> Iterator[None]:
    """Children cloned meanwhile go into the PID namespace at ``pid_ns`` (a path: ``--pid
    container:x``; anything else changes nothing). Entering a PID namespace moves only the
    caller's later children, and the caller's own is entered again afterwards."""
    if not pid_ns.startswith("/"):
        yield
        return
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        join_path(pid_ns, "pid")
        try:
            yield
        finally:
            syscalls.setns(own, FLAGS["pid"])
    finally:
        os.close(own)


def clone_in(userns: str, pid_ns: str, flags: int) -> int:
    """``syscalls.clone(flags)`` with the child in the user namespace at ``userns`` (its other
    new namespaces that namespace's) and, given ``pid_ns`` (a path), in that PID namespace
    (``--pid container:x``: x's, which x's user namespace owns), and still our child: a
    helper forked here joins them — a process that joins a user namespace cannot come back,
    and loses its rights outside — and clones it with ``CLONE_PARENT``. 0 in the child.

    The helper needs no rights outside: joining a user namespace takes ``CAP_SYS_ADMIN`` in
    it, which root has and so has its owner (a rootless launcher, for its containers'); in it
    the helper may enter the PID namespace it owns."""
    fds: list[int] = []
    try:
        for kind, path in [("user", userns), ("PID", pid_ns)][:2 if pid_ns.startswith("/") else 1]:
            fds.append(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
    except OSError as exc:  # the other container is gone
        _close(fds)
        raise OSError(exc.errno, f"cannot join the {kind} namespace of {path}: "
                                 f"{exc.strerror}") from None
    report_r = report_w = -1
    try:
        report_r, report_w = os.pipe2(os.O_CLOEXEC)
        helper = syscalls.clone(0)
    except BaseException:
        _close([*fds, report_r, report_w])
        raise
    if helper == 0:
        if _helper(fds, report_r, report_w, flags) == 0:
            return 0
        os._exit(0)
    _close([*fds, report_w])
    try:
        said = syscalls.read_all(report_r)
    finally:
        os.close(report_r)
        os.waitpid(helper, 0)
    if not said.startswith(b"pid "):
        code = int(said.split()[1]) if said.startswith(b"errno ") else 0
        raise OSError(code, f"cannot join the user namespace of {userns}: "
                            f"{os.strerror(code) if code else 'the helper died'}")
    return int(said.split()[1])


def _helper(fds: list[int], report_r: int, report_w: int, flags: int) -> int:
    """In :func:`clone_in`'s helper: join (the user namespace first: it grants the rights to
    enter the other), clone, report the child's pid (or the errno) and return it — 0 in the
    child, which closes what was the helper's."""
    try:
        os.close(report_r)
        for fd, kind in zip(fds, ("user", "pid"), strict=False):
            syscalls.setns(fd, FLAGS[kind])
        pid = syscalls.clone(flags | syscalls.CLONE_PARENT)
    except OSError as exc:
        os.write(report_w, f"errno {exc.errno or 0}".encode())
        os._exit(1)
    except BaseException:  # noqa: BLE001 — nothing may unwind into the launcher's code
        os._exit(1)
    if pid == 0:
        _close([*fds, report_w])
        return 0
    os.write(report_w, f"pid {pid}".encode())
    return pid


def _close(fds: list[int]) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)


def join_path(path: str, kind: str) -> None:
    """Enter the ``kind`` namespace at ``path`` (``/proc/<pid>/ns/<kind>``)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.setns(fd, FLAGS[kind])
    finally:
        os.close(fd)


_SIOCSIFFLAGS: Final = 0x8914
_IFF_UP_LOOPBACK_RUNNING: Final = 0x1 | 0x8 | 0x40


def loopback_up() -> None:
    """``lo`` up in the calling process's (new) network namespace, as every container's
    ``--network none`` has it (one ioctl, ~0.05 ms)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", _IFF_UP_LOOPBACK_RUNNING))


def join_network(path: str) -> None:
    """Enter a prepared network namespace (bridge networking sets one up beforehand)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.setns(fd, FLAGS["net"])
    finally:
        os.close(fd)


def join(pid: int, kinds: tuple[str, ...] = JOIN_ORDER) -> None:
    """Enter the namespaces of ``pid`` (for ``exec`` and ``cp``); skips ones already shared.

    Entering a PID namespace only affects children created afterwards."""
    fds = {}
    try:
        for kind in kinds:
            path = f"/proc/{pid}/ns/{kind}"
            if os.stat(path).st_ino != os.stat(f"/proc/self/ns/{kind}").st_ino:
                fds[kind] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        for kind in kinds:
            if kind in fds:
                syscalls.setns(fds[kind], FLAGS[kind])
    finally:
        for fd in fds.values():
            os.close(fd)
