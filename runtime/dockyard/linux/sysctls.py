"""Kernel parameters a container sets in its own namespaces: dockerd 20.10's defaults for a
network namespace of the container's own (IPv6 off in one just made), and ``HostConfig.Sysctls`` (``--sysctl``) with runc's
checks and words.

A key's file is ``/proc/sys/<key, dots as slashes>``, and what a write changes is the namespace
of the *writing task* — ``net.*`` its network namespace, ``kernel.sem``/``shm*``/``msg*`` and
``fs.mqueue.*`` its IPC namespace, ``kernel.domainname`` its UTS namespace — through whichever
procfs. So the netns pool's thread writes the defaults into a namespace as it makes it (off
every start's path), and an init writes its container's own just before its pivot, through the
/proc its mount namespace still has then (an embryo's too).
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Final

from ..errors import DockyardError

if TYPE_CHECKING:
    from ..containers.spec import ContainerSpec

NETNS_DEFAULTS: Final = (
    ("net.ipv4.ip_unprivileged_port_start", "0"),  # any port without CAP_NET_BIND_SERVICE
    ("net.ipv4.ping_group_range", "0 2147483647"),  # ICMP echo sockets without CAP_NET_RAW
)
"""dockerd 20.10's for a container with a network namespace of its own (not ``--network
host``; ``container:x`` has x's); a ``--sysctl`` of the same key wins, written after."""

NETNS_IPV6_OFF: Final = (
    ("net.ipv6.conf.all.disable_ipv6", "1"),      # every interface there: lo's ::1 goes
    ("net.ipv6.conf.default.disable_ipv6", "1"),  # and each one made or moved in after
)
"""dockerd 20.10's libnetwork on a network namespace it makes for a container: IPv6 off, so an
interface of an IPv4-only network has no fe80:: address (nor joins IPv6 multicast groups);
one given an IPv6 address has it back on, ``lo`` with it (``network.netlink.enable_ipv6``).
For a namespace just made alone (:func:`set_ipv6_off`): ``all`` rewrites every interface's."""

IPC_KEYS: Final = frozenset({
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
    "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
})
_RUNC: Final = "failed to create shim task: OCI runtime create failed: runc create failed: "


def path(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


def write(key: str, value: str) -> None:
    """Go's ``os.WriteFile`` as runc calls it; a failure is an ``OSError`` whose ``strerror``
    is runc's words (``open /proc/sys/net/ipv4/x: no such file or directory``)."""
    name = path(key)
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise _worded("open", name, exc) from None
    try:
        os.write(fd, value.encode())
    except OSError as exc:
        raise _worded("write", name, exc) from None
    finally:
        os.close(fd)


def _worded(op: str, name: str, exc: OSError) -> OSError:
    code = exc.errno or errno.EIO
    return OSError(code, f"{op} {name}: {os.strerror(code).lower()}")


def set_netns_defaults() -> None:
    """:data:`NETNS_DEFAULTS` in the calling thread's network namespace (~20 µs); a key the
    kernel lacks (before 4.11) is left out, as dockerd leaves it."""
    for key, value in NETNS_DEFAULTS:
        try:
            write(key, value)
        except OSError:
            pass


def set_ipv6_off() -> None:
    """:data:`NETNS_IPV6_OFF` in the calling thread's network namespace, which it has just
    made; a kernel without IPv6 has no such keys (nothing to turn off)."""
    for key, value in NETNS_IPV6_OFF:
        try:
            write(key, value)
        except OSError:
            pass


def apply(sysctls: dict[str, str]) -> None:
    """A container's ``--sysctl`` values, in the calling task's namespaces, in runc's words."""
    for key, value in sysctls.items():
        try:
            write(key, value)
        except OSError as exc:
            raise OSError(exc.errno, f"error during container init: {exc.strerror}") from None


def refusal(sysctls: dict[str, str], host_net: bool, host_ipc: bool, host_uts: bool) -> str:
    """runc's validation (``libcontainer/configs/validate``): only keys of a namespace the
    container has of its own; the whole message dockerd returns for the refused start, or
    "". (The docker CLI refuses all but the IPC and ``net.*``/``fs.mqueue.*`` ones itself.)"""
    from ..gostrconv import quote as go_quote
    for key in sysctls:
        if key in IPC_KEYS or key.startswith("fs.mqueue."):
            if not host_ipc:
                continue
            why = f"sysctl {go_quote(key)} is not allowed in the hosts ipc namespace"
        elif key.startswith("net."):
            if not host_net:
                continue
            why = f"sysctl {go_quote(key)} not allowed in host network namespace"
        elif key == "kernel.domainname" and not host_uts:
            continue
        elif key == "kernel.hostname" and not host_uts:
            why = ('sysctl "kernel.hostname" is not allowed as it conflicts with the OCI '
                   '"hostname" field')
        else:
            why = f"sysctl {go_quote(key)} is not in a separate kernel namespace"
        return f"{_RUNC}{why}: unknown"
    return ""


class Refused(DockyardError):
    """A ``--sysctl`` runc refuses at the start (500, its words; the create went through)."""


def check(spec: ContainerSpec) -> None:
    """:func:`refusal` for a spec whose namespaces are resolved (``container:x`` as x's)."""
    net = spec.network
    host_net = net == "host" or (net.startswith("/") and is_host_netns(net))
    message = refusal(spec.sysctls, host_net, spec.ipc_ns == "host", spec.uts_ns == "host")
    if message:
        raise Refused(message)


def is_host_netns(path_: str) -> bool:
    """Whether the network namespace at ``path_`` (``container:x``'s) is the daemon's own, as
    runc compares it with its own: x runs with ``--network host``."""
    try:
        there, here = os.stat(path_), os.stat("/proc/self/ns/net")
    except OSError:
        return False
    return (there.st_dev, there.st_ino) == (here.st_dev, here.st_ino)
