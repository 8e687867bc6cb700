"""Capability sets as Docker computes them (default set, ``--cap-add/--cap-drop``,
``--privileged``) and their application to the container's init process."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Final

from ..errors import InvalidArgument
from . import syscalls

NAMES: Final = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)
NUMBERS: Final = {f"CAP_{name}": i for i, name in enumerate(NAMES)}

DOCKER_DEFAULT: Final = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)


_last_cap: list[int] = []


def last_cap() -> int:
    """The highest capability number this kernel knows (read once per process tree: every
    start asks twice, and a container's init inherits the launcher's answer)."""
    if not _last_cap:
        try:
            with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
                _last_cap.append(int(f.read()))
        except OSError:
            _last_cap.append(len(NAMES) - 1)
    return _last_cap[0]


def normalize(name: str) -> str:
    """``net_admin`` / ``CAP_NET_ADMIN`` → ``CAP_NET_ADMIN``; ``all`` → ``ALL``. A name past
    the kernel's last capability is unknown, as to moby (its list is the kernel's)."""
    upper = name.strip().upper()
    if upper == "ALL":
        return upper
    full = upper if upper.startswith("CAP_") else f"CAP_{upper}"
    if NUMBERS.get(full, last_cap() + 1) > last_cap():
        raise InvalidArgument(f'unknown capability: "{full}"')
    return full


_available: list[frozenset[str]] = []


def available() -> frozenset[str]:
    """The capabilities this daemon can give a container, read once, as moby's ``caps`` package
    reads them since moby PR #42933 (``ccaps.Current``): a root daemon's effective set — one
    its bounding set lacked when it started is not there —, a rootless daemon's bounding set
    (its containers' roots hold their user namespace's whole set under it). Unreadable: every
    capability the kernel knows, as moby's fallback."""
    if not _available:
        known = [f"CAP_{name}" for name in NAMES[: last_cap() + 1]]
        bits = _status_mask("CapEff" if os.geteuid() == 0 else "CapBnd")
        _available.append(frozenset(c for c in known if bits is None or bits >> NUMBERS[c] & 1))
    return _available[0]


def _status_mask(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split(":", 1)[1], 16)
    except (OSError, ValueError):
        pass
    return None


def check_available(names: Iterable[str]) -> None:
    """A ``CapAdd`` or ``CapDrop`` list as current moby checks it at create: each name known
    and one this daemon can give, in moby's words (dockerd 20.10 took it and failed the start
    in runc's, "unable to apply caps"; dockyard dropped it silently)."""
    for name in names:
        full = normalize(name)
        if full != "ALL" and full not in available():
            raise InvalidArgument("capability not supported by your kernel or not available "
                                  f'in the current environment: "{full}"')


def resolve(cap_add: Iterable[str] = (), cap_drop: Iterable[str] = (),
            privileged: bool = False) -> list[str]:
    """The container's capability list, sorted by number, exactly as dockerd derives it."""
    known = [f"CAP_{n}" for n in NAMES[: last_cap() + 1]]
    adds = {normalize(n) for n in cap_add}
    drops = {normalize(n) for n in cap_drop}
    if privileged:
        return known
    if "ALL" in drops:
        caps = set(known) if "ALL" in adds else adds
    else:
        caps = (set(known) if "ALL" in adds else set(DOCKER_DEFAULT) | adds) - drops
    caps.discard("ALL")
    return sorted(caps, key=NUMBERS.__getitem__)


def mask(names: Iterable[str]) -> int:
    bits = 0
    for name in names:
        bits |= 1 << NUMBERS[name]
    return bits


def drop_bounding(keep: int) -> None:
    """Remove every capability outside ``keep`` from the bounding set (needs CAP_SETPCAP);
    afterwards not even a setuid-root binary can regain them."""
    for cap in range(last_cap() + 1):
        if not keep & (1 << cap):
            syscalls.prctl(syscalls.PR_CAPBSET_DROP, cap)
    syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_CLEAR_ALL)


def restrict(keep: int) -> None:
    """Limit the effective and permitted sets to ``keep`` and clear the inheritable set
    (Docker stopped granting inheritable capabilities after CVE-2022-24769)."""
    _eff, permitted, _inh = syscalls.capget()
    syscalls.capset(keep & permitted, keep & permitted, 0)
