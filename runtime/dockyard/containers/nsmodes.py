"""``HostConfig.PidMode``, ``IpcMode`` and ``UTSMode``: which namespaces a container shares,
checked and resolved as dockerd 20.10 does (its words, its moments).

At create a ``container:x`` PID or IPC mode names a container that must exist (400 "No such
container: x") and is recorded with x's full id; a hostname beside ``--uts host`` is refused.
At each start the modes become the spec's ``pid_ns``/``ipc_ns``/``uts_ns``/``shm``
(:func:`resolve`); what dockerd refuses there (an unknown IPC mode, a donor not running or
not shareable) fails the start with its words and exit code 128.

/dev/shm follows dockerd's ``ShmPath``: ``private`` has a tmpfs of its own, ``none`` none,
``host`` the host's /dev/shm bound, ``shareable`` a tmpfs the daemon mounts at
``containers/<id>/mounts/shm`` and binds in (so that a ``container:`` joiner can bind the same
one: a mount of another mount namespace cannot be bound), and ``container:x`` x's.
Unknown PID and UTS modes are taken and mean a namespace of its own, as dockerd's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from ..errors import DockyardError, InvalidArgument, NotFound
from ..linux import mounts

SHM_DIR: Final = "mounts/shm"
"""A shareable container's /dev/shm, under its directory (dockerd's ``ShmResourcePath``)."""
IPC_MODES: Final = ("", "private", "shareable", "host", "none")


class Namespaces(NamedTuple):
    """What a start's spec takes (``ContainerSpec``'s fields of the same names)."""

    pid_ns: str = ""
    ipc_ns: str = ""
    uts_ns: str = ""
    shm: str = ""


def check_create(config: dict[str, Any], hc: dict[str, Any], full_id: Callable[[str], str]) -> None:
    """dockerd's create-time checks, in place: ``container:x`` PID and IPC modes name a
    container that exists, recorded by its full id (``full_id`` raises NotFound)."""
    if hc.get("UTSMode") == "host" and config.get("Hostname"):
        raise InvalidArgument("conflicting options: hostname and the UTS mode")
    for key in ("IpcMode", "PidMode"):
        mode = str(hc.get(key) or "")
        kind, sep, other = mode.partition(":")
        # dockerd's PidMode.Container() takes any "a:b"; IpcMode's only "container:b"
        if not sep or not other or (key == "IpcMode" and kind != "container"):
            continue
        try:
            found = full_id(other)
        except NotFound as exc:
            raise InvalidArgument(str(exc)) from None
        if kind == "container":
            hc[key] = f"container:{found}"


def resolve(record: Any, get: Callable[[str], Any], remapped: bool) -> Namespaces:
    """The namespaces of ``record``'s start (``get``: another container's record, or
    NotFound). Mounts a shareable container's /dev/shm (:func:`release` unmounts it)."""
    hc = record.host_config
    modes = (str(hc.get("PidMode") or ""), str(hc.get("IpcMode") or ""))
    joins = any(mode.startswith("container:") for mode in modes)
    if os.geteuid() != 0 and (joins or "host" in modes):
        raise DockyardError("a rootless daemon cannot share the host's or another container's "
                            "PID or IPC namespace (--pid/--ipc host or container:): its "
                            "containers' user namespaces do not own them")
    if remapped and joins:
        raise DockyardError("joining another container's PID or IPC namespace (--pid/--ipc "
                            "container:) is not supported with --userns-remap")
    ipc, shm = _ipc(record, get, remapped)
    return Namespaces(_pid(modes[0], get), ipc, "host" if hc.get("UTSMode") == "host" else "", shm)


def apply(spec: Any, shared: Namespaces, own_shm: list[Any]) -> None:
    """``shared`` into ``spec`` (a ``ContainerSpec``); where /dev/shm is not a tmpfs of its
    own, ``own_shm`` (the ``--shm-size`` tmpfs ``create.build_spec`` puts first) goes: dockerd
    sizes only a container's own (a shareable one's here: :func:`own_shm`)."""
    spec.pid_ns, spec.ipc_ns, spec.uts_ns, spec.shm = shared
    if shared.shm and own_shm and spec.mounts[:len(own_shm)] == own_shm:
        del spec.mounts[:len(own_shm)]


def _pid(mode: str, get: Callable[[str], Any]) -> str:
    if mode == "host":
        return "host"
    kind, _sep, other = mode.partition(":")
    if kind != "container":
        return ""  # private, or anything else dockerd takes ("host:x" too)
    try:
        donor = _named(other, get)
    except DockyardError as exc:
        raise DockyardError(f"cannot join PID of a non running container: {other}: {exc}") from None
    return f"/proc/{_running(donor)}/ns/pid"


def _ipc(record: Any, get: Callable[[str], Any], remapped: bool) -> tuple[str, str]:
    """(ipc_ns, shm) for ``record``'s IpcMode."""
    mode = str(record.host_config.get("IpcMode") or "")
    if mode in ("", "private"):
        return "", ""
    if mode == "none":
        return "", "none"
    if mode == "shareable":
        if remapped or os.geteuid() != 0:  # its own tmpfs: no joiner is taken there
            return "", ""
        return "", own_shm(record)
    if mode == "host":
        if not os.path.isdir("/dev/shm"):
            raise DockyardError("/dev/shm is not mounted, but must be for --ipc=host")
        return "host", "/dev/shm"
    kind, _sep, other = mode.partition(":")
    if kind != "container":
        raise DockyardError(f"Invalid IPC mode: {mode}")
    prefix = f"can't join IPC of container {other}"
    try:
        donor = _named(other, get)
        pid = _running(donor)
    except DockyardError as exc:
        raise DockyardError(f"{prefix}: {exc}") from None
    shm = shm_path(donor, get)
    if not shm or not os.path.isdir(shm):
        raise DockyardError(f"{prefix}: non-shareable IPC (hint: use IpcMode:shareable for "
                            "the donor container)")
    return f"/proc/{pid}/ns/ipc", shm


def _named(name: str, get: Callable[[str], Any]) -> Any:
    if not name:
        raise InvalidArgument('invalid name or ID supplied: ""')
    return get(name)


def _running(record: Any) -> int:
    """dockerd's ``checkContainer(ctr, containerIsRunning, containerIsNotRestarting)``."""
    if not record.running:
        raise DockyardError(f"container {record.id} is not running")
    if record.state.get("Restarting"):
        raise DockyardError(f"container {record.id} is restarting, wait until the container "
                            "is running")
    return int(record.state["Pid"])


def shm_path(record: Any, get: Callable[[str], Any], depth: int = 0) -> str:
    """dockerd's ``ShmPath`` of a container: what a ``container:`` joiner binds at /dev/shm
    ("": none to share — private, none)."""
    mode = str(record.host_config.get("IpcMode") or "")
    if mode == "host":
        return "/dev/shm"
    if mode == "shareable":
        return os.path.join(record.dir, SHM_DIR)
    kind, _sep, other = mode.partition(":")
    if kind == "container" and depth < 8:
        try:
            return shm_path(get(other), get, depth + 1)
        except NotFound:
            return ""
    return ""


def own_shm(record: Any) -> str:
    """A shareable container's /dev/shm: a tmpfs of ``ShmSize`` mounted by the daemon (once:
    a restart finds it mounted) at its ``mounts/shm``, as dockerd's ``setupIpcDirs``."""
    path = os.path.join(record.dir, SHM_DIR)
    size = int(record.host_config.get("ShmSize") or 0) or 64 << 20
    mounts.host_shm(path, size)
    return path


def release(record: Any) -> None:
    """A run's end: a shareable container's /dev/shm unmounted (dockerd's ``UnmountIpcMount``)."""
    if record.host_config.get("IpcMode") == "shareable":
        mounts.release_shm(os.path.join(record.dir, SHM_DIR))
