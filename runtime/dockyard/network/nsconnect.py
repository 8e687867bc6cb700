"""Sockets inside a container's network namespace, for a daemon that cannot ``setns`` there.

A rootless daemon has no CAP_SYS_ADMIN in the host user namespace, so it cannot enter the netns
its (rootless) containers got from the launcher. It owns their user namespace though, which
grants every capability *inside* it to a single-threaded process of the same uid. So one small
helper per container (started on the first connection to a published port) joins the
container's user and network namespaces, brings ``lo`` up there (the launcher leaves it down),
and hands out fresh sockets over a socketpair (SCM_RIGHTS). The proxy connects them to
127.0.0.1:<container port>; a socket stays in the namespace it was created in.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from typing import Final

_HELPER: Final = r"""
import ctypes, fcntl, os, socket, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
pid, chan = int(sys.argv[1]), socket.socket(fileno=int(sys.argv[2]))
for kind, flag in (("user", 0x10000000), ("net", 0x40000000)):
    path = f"/proc/{pid}/ns/{kind}"
    if os.stat(path).st_ino != os.stat(f"/proc/self/ns/{kind}").st_ino:
        fd = os.open(path, os.O_RDONLY)
        if libc.setns(fd, flag) != 0:
            sys.exit(f"setns {kind}: {os.strerror(ctypes.get_errno())}")
        os.close(fd)
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
fcntl.ioctl(probe, 0x8914, struct.pack("16sH14x", b"lo", 0x49))
probe.close()
while (req := chan.recv(1)):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if req == b"t" else socket.SOCK_DGRAM)
    socket.send_fds(chan, [b"k"], [s.fileno()])
    s.close()
"""


class SocketFactory:
    """Fresh sockets in the netns of process ``pid`` (a container's init)."""

    def __init__(self, pid: int) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._chan = ours
        self._lock = threading.Lock()
        self._proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _HELPER, str(pid), str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        theirs.close()

    def socket(self, kind: int) -> socket.socket:
        with self._lock:
            self._chan.sendall(b"t" if kind == socket.SOCK_STREAM else b"u")
            _, fds, _, _ = socket.recv_fds(self._chan, 1, 1)
        if not fds:
            err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
            raise OSError(f"cannot enter the container's network namespace: {err.strip()}")
        return socket.socket(fileno=fds[0])

    def close(self) -> None:
        """Stop the helper (by its pid, which this object started)."""
        self._chan.close()
        try:
            self._proc.wait(2)
        except subprocess.TimeoutExpired:
            os.kill(self._proc.pid, 9)
            self._proc.wait()
        if self._proc.stderr:
            self._proc.stderr.close()
