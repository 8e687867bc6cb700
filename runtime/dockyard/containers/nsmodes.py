"""``HostConfig.PidMode``, ``IpcMode`` and ``UTSMode``: which namespaces a container shares,
checked and resolved as dockerd 20.10 does (its words, its moments).

At create a ``container:x`` PID or IPC mode names a container that must exist (400 "No such
container: x") and is recorded with x's full id; before the image is looked up, what a
``container:x`` network mode or ``--uts host`` leaves no room for is refused (:func:`check_decoded`).
At each start the modes become the spec's ``pid_ns``/``ipc_ns``/``uts_ns``/``shm``
(:func:`resolve`); what dockerd refuses there (an unknown IPC mode, a donor not running or
not shareable) fails the start with its words and exit code 128.

/dev/shm follows dockerd's ``ShmPath``: ``private`` has a tmpfs of its own, ``none`` none,
``host`` the host's /dev/shm bound, ``shareable`` a tmpfs the daemon mounts at
``containers/<id>/mounts/shm`` and binds in (so that a ``container:`` joiner can bind the same
one: a mount of another mount namespace cannot be bound), and ``container:x`` x's.
Unknown PID and UTS modes are taken and mean a namespace of its own, as dockerd's.

A container in a user namespace of its own — remapped (``--userns-remap``) or rootless —
that joins x's PID or IPC namespace joins x's user namespace, which owns them, instead of
making one (``ContainerSpec.userns_join``), as dockerd 20.10 has runc do: its id map is x's
(one remap range, or the rootless user's, so its files on disk are owned alike). A remapped
shareable container's /dev/shm is its root's. A rootless daemon mounts no tmpfs: a
shareable container has its own, which a joiner copies from its mount namespace
(``/proc/<pid>/root/dev/shm``). Rootless ``--pid host`` binds the host's /proc and ``--ipc
host`` its /dev/mqueue, which a user namespace may not mount afresh (crun does the same).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from ..errors import DockyardError, InvalidArgument, NotFound
from ..linux import mounts
from . import links

SHM_DIR: Final = "mounts/shm"
"""A shareable container's /dev/shm, under its directory (dockerd's ``ShmResourcePath``)."""
IPC_MODES: Final = ("", "private", "shareable", "host", "none")


class Namespaces(NamedTuple):
    """What a start's spec takes (``ContainerSpec``'s fields of the same names; ``userns``
    its ``userns_join``)."""

    pid_ns: str = ""
    ipc_ns: str = ""
    uts_ns: str = ""
    shm: str = ""
    userns: str = ""


def check_decoded(config: dict[str, Any], hc: dict[str, Any]) -> None:
    """dockerd 20.10's decoder's ``validateNetMode``, first of its checks of a create's body
    (before the image is looked up), in its order: what a ``container:x`` network mode leaves
    no room for — its own hostname, links, DNS servers, extra hosts, published or exposed
    ports (the request's own ``ExposedPorts``: an image's are no conflict) —, a hostname beside
    ``--uts host`` and links beside ``--network host``. The MAC address's conflict is the
    API edge's (``api.compat.migrate_mac_address``)."""
    mode = str(hc.get("NetworkMode") or "")
    kind, _, other = mode.partition(":")
    if kind == "container" and not other:
        raise InvalidArgument("Invalid network mode: invalid container format container:<name|id>")
    if kind == "container":
        for conflict, words in ((config.get("Hostname"), "conflicting options: hostname and the network mode"),
                                (hc.get("Links"), links.CONTAINER_AND_LINKS),
                                (hc.get("Dns"), "conflicting options: dns and the network mode"),
                                (hc.get("ExtraHosts"),
                                 "conflicting options: custom host-to-IP mapping and the network mode"),
                                (hc.get("PortBindings") or hc.get("PublishAllPorts"),
                                 "conflicting options: port publishing and the container type network mode"),
                                (config.get("ExposedPorts"),
                                 "conflicting options: port exposing and the container type network mode")):
            if conflict:
                raise InvalidArgument(words)
    if hc.get("UTSMode") == "host" and config.get("Hostname"):
        raise InvalidArgument("conflicting options: hostname and the UTS mode")
    if mode == "host" and hc.get("Links"):
        raise InvalidArgument(links.HOST_AND_LINKS)


def check_create(hc: dict[str, Any], full_id: Callable[[str], str]) -> None:
    """dockerd's create-time checks, in place: ``container:x`` PID and IPC modes name a
    container that exists, recorded by its full id (``full_id`` raises NotFound)."""
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


def resolve(record: Any, get: Callable[[str], Any],
            remap_root: tuple[int, int] | None = None) -> Namespaces:
    """The namespaces of ``record``'s start (``get``: another container's record, or
    NotFound; ``remap_root``: the host ids of a remapped container's root). Mounts a shareable
    container's /dev/shm (:func:`release` unmounts it).

    A container in a user namespace of its own (remapped, rootless) joining another's PID or
    IPC namespace joins that one's user namespace first, which owns them, as dockerd 20.10
    has runc do ("to share a PID namespace, they must also share a user namespace")."""
    hc = record.host_config
    pid_ns, pid_donor = _pid(str(hc.get("PidMode") or ""), get)
    ipc, shm, ipc_donor = _ipc(record, get, remap_root)
    userns = ""
    if remap_root is not None or os.geteuid() != 0:
        userns = one_userns([donor_userns(kind, donor) for kind, donor in
                             (("PID", pid_donor), ("IPC", ipc_donor)) if donor],
                            "the PID and IPC namespaces", "both")
    uts = "host" if hc.get("UTSMode") == "host" else ""
    return Namespaces(pid_ns, ipc, uts, shm, userns)


def donor_userns(kind: str, donor: Any) -> str:
    """The user namespace (a /proc path) of ``donor``, whose ``kind`` namespace (PID, IPC,
    network) a container of a user namespace of its own joins — refused when it is the
    daemon's (a ``--userns host`` donor): dockerd 20.10's runc fails there ("can't get final
    child's PID from pipe: EOF"), and a remapped joiner of a network kept in a user namespace
    of its own would start without its capabilities there."""
    path = f"/proc/{donor.state['Pid']}/ns/user"
    if _ns(path) == _ns("/proc/self/ns/user"):
        raise DockyardError(f"cannot join the {kind} namespace of container {donor.id}: "
                            "it runs in the daemon's user namespace (--userns host), "
                            "which a remapped container cannot share; run both remapped "
                            "or both with --userns host")
    return path


def one_userns(paths: list[str], what: str, which: str = "them") -> str:
    """The one user namespace (the first of ``paths``, /proc paths; "" skipped) that a
    container of its own user namespace joins to share the namespaces ``what`` names, each
    owned by the user namespace at its path: "" with none. A container joins one user
    namespace, so two different ones are refused, telling to share ``which`` with one
    container."""
    found: dict[tuple[int, int], str] = {}
    for path in filter(None, paths):
        found.setdefault(_ns(path), path)
    if len(found) > 1:
        raise DockyardError(f"{what} to join belong to different user namespaces (each "
                            f"container has its own): share {which} with one container")
    return next(iter(found.values()), "")


def _ns(path: str) -> tuple[int, int]:
    try:
        ns = os.stat(path)
    except OSError as exc:
        raise DockyardError(f"cannot join the user namespace at {path}: {exc.strerror}") from None
    return ns.st_dev, ns.st_ino


def apply(spec: Any, shared: Namespaces, own_shm: list[Any]) -> None:
    """``shared`` into ``spec`` (a ``ContainerSpec``); where /dev/shm is not a tmpfs of its
    own, ``own_shm`` (the ``--shm-size`` tmpfs ``create.build_spec`` puts first) goes: dockerd
    sizes only a container's own (a shareable one's here: :func:`own_shm`)."""
    spec.pid_ns, spec.ipc_ns, spec.uts_ns, spec.shm, spec.userns_join = shared
    if shared.shm and own_shm and spec.mounts[:len(own_shm)] == own_shm:
        del spec.mounts[:len(own_shm)]


def _pid(mode: str, get: Callable[[str], Any]) -> tuple[str, Any]:
    """(pid_ns, the donor's record or None) for a PidMode."""
    if mode == "host":
        return "host", None
    kind, _sep, other = mode.partition(":")
    if kind != "container":
        return "", None  # private, or anything else dockerd takes ("host:x" too)
    try:
        donor = _named(other, get)
    except DockyardError as exc:
        raise DockyardError(f"cannot join PID of a non running container: {other}: {exc}") from None
    return f"/proc/{_running(donor)}/ns/pid", donor


def _ipc(record: Any, get: Callable[[str], Any],
         remap_root: tuple[int, int] | None) -> tuple[str, str, Any]:
    """(ipc_ns, shm, the donor's record or None) for ``record``'s IpcMode."""
    mode = str(record.host_config.get("IpcMode") or "")
    if mode in ("", "private"):
        return "", "", None
    if mode == "none":
        return "", "none", None
    if mode == "shareable":
        if os.geteuid() != 0:  # its own tmpfs: a rootless daemon mounts none
            return "", "", None
        return "", own_shm(record, remap_root), None
    if mode == "host":
        if not os.path.isdir("/dev/shm"):
            raise DockyardError("/dev/shm is not mounted, but must be for --ipc=host")
        return "host", "/dev/shm", None
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
    if shm and shm != "/dev/shm" and os.geteuid() != 0:
        shm = f"/proc/{pid}/root/dev/shm"  # rootless: the donor's own tmpfs (no daemon's)
    elif not shm or not os.path.isdir(shm):
        raise DockyardError(f"{prefix}: non-shareable IPC (hint: use IpcMode:shareable for "
                            "the donor container)")
    return f"/proc/{pid}/ns/ipc", shm, donor


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


def own_shm(record: Any, owner: tuple[int, int] | None = None) -> str:
    """A shareable container's /dev/shm: a tmpfs of ``ShmSize`` mounted by the daemon (once:
    a restart finds it mounted) at its ``mounts/shm``, as dockerd's ``setupIpcDirs``; a
    remapped one's (``owner``: the host ids of its root) is its root's, the directories to it
    too, so that its root (and a joiner's) reaches it and sees it as ``0:0``."""
    path = os.path.join(record.dir, SHM_DIR)
    size = int(record.host_config.get("ShmSize") or 0) or 64 << 20
    mounts.host_shm(path, size, owner)
    return path


def release(record: Any) -> None:
    """A run's end: a shareable container's /dev/shm unmounted (dockerd's ``UnmountIpcMount``)."""
    if record.host_config.get("IpcMode") == "shareable":
        mounts.release_shm(os.path.join(record.dir, SHM_DIR))
