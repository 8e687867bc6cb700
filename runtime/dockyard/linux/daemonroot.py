"""The daemon's data root kept on a shared mount, as dockerd 20.10's ``setupDaemonRootPropagation``
and ``cleanupMounts`` keep it (daemon/daemon_unix.go, daemon/daemon_linux.go).

A bind whose source lies in the data root gets ``rslave`` (``volumes.parse.check_daemon_root``),
so that what the daemon unmounts there leaves the containers too; and ``rslave`` needs the
source's mount to be shared or a slave, else the start falls back to private
(``volumes.propagation``). So a root daemon's start looks at the mount holding its data root
(``mounts.source_mount``: the longest mount point that is a string prefix of it):

- shared (``shared:N``) or a slave (``master:N``): nothing to do, a marker left is removed;
- else the data root is made shared (``mounts.share_in_place``: bound onto itself first unless
  it is a mount point already); for a bind it made — not for a mount point it only made
  shared — the daemon writes the marker ``<data-root>/unmount-on-shutdown`` (dockerd:
  ``<exec-root>/unmount-on-shutdown``), and its clean stop detaches that bind (lazily, as
  dockerd) and removes the marker.

Where dockyard departs from dockerd, and why:

- the marker holds the boot's id and the bind's mount id, and a start that finds its data root
  shared through the very bind the marker names (a daemon killed before its stop, a stop that
  kept it) keeps the marker, so its own clean stop removes the bind. dockerd removes the marker
  there and leaves the bind mounted until a reboot (recorded with dockerd 20.10: SIGKILLed,
  started again and stopped, its data root is still a shared mount of its own). A marker of
  another boot, or of another mount, is stale: removed, as dockerd's would be.
- a stop keeps the bind while a mount lies below the data root — the network namespace or
  /dev/shm of a container that outlives the daemon (dockerd stops its containers unless
  live-restore), a local volume's mount: a lazy detach would take them out of the daemon's
  mount namespace, where the next daemon re-adopts them. The next start adopts the bind.

A rootless daemon does none of it: it runs as its user in the host's mount namespace, where
mount(2) needs CAP_SYS_ADMIN in the user namespace that owns it (the initial one). dockerd's
rootless mode runs in RootlessKit's own user and mount namespaces, where it may mount and
where this is done; dockyard's rootless daemon has no such namespace of its own (only each
container and its short-lived helpers do), so its binds in the data root fall back to private.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Final

from . import mounts

log = logging.getLogger("dockyard.daemon")

MARKER: Final = "unmount-on-shutdown"
BOOT_ID: Final = "/proc/sys/kernel/random/boot_id"


def share(data_root: str | os.PathLike[str], mountinfo: str | None = None) -> None:
    """At a root daemon's start, with the data root's lock held: the data root on a shared
    mount (see the module's rules). ``mountinfo``: the daemon's (read when not given)."""
    root = os.path.realpath(data_root)
    marker = Path(root, MARKER)
    table = mountinfo if mountinfo is not None else _mountinfo()
    found = mounts.source_mount(root, table)
    if found is None:
        raise OSError(f"error getting daemon root's parent mount: no mount holds {root}")
    mountpoint, optional = found
    if mounts.tagged(optional, "shared:", "master:"):
        if not (mountpoint == root and _ours(marker, root, table)):
            _remove(marker)
        return
    mounts.share_in_place(root, is_mountpoint=mountpoint == root)
    if mountpoint == root:
        _remove(marker)  # a mount of its own already: only made shared, never unmounted
        return
    made = _mount_at(root, _mountinfo())
    if made is None:
        raise OSError(f"{root}: no mount found there after binding it onto itself")
    _write_marker(marker, made[0])


def release(data_root: str | os.PathLike[str], force: bool = False) -> bool:
    """At a clean stop: the bind :func:`share` made detached and its marker removed — unless
    a mount lies below the data root (kept for the next start, see the module). ``force``: a
    test's clean-up once its daemon and containers are gone, the mounts below going with the
    bind. Returns whether the bind was detached."""
    root = os.path.realpath(data_root)
    marker = Path(root, MARKER)
    table = _mountinfo()
    if not _ours(marker, root, table):
        return False
    below = [e.mountpoint for e in mounts.entries(table) if e.mountpoint.startswith(root + "/")]
    if below and not force:
        log.info("daemon root %s: kept as a shared mount for the next start, %d mount(s) "
                 "below it (first %s)", root, len(below), below[0])
        return False
    log.debug("unmounting daemon root %s", root)
    mounts.detach(root)
    _remove(marker)
    return True


def _ours(marker: Path, root: str, mountinfo: str) -> bool:
    """Whether ``marker`` names the shared mount at ``root`` in this boot."""
    try:
        boot, _, mount_id = marker.read_text().strip().partition(" ")
    except OSError:
        return False
    at = _mount_at(root, mountinfo)
    return (at is not None and at[0] == mount_id and mounts.tagged(at[1], "shared:")
            and boot == _boot_id())


def _mount_at(root: str, mountinfo: str) -> tuple[str, str] | None:
    """(mount id, optional fields) of the mount on top at ``root``: the last one listed there."""
    found = None
    for entry in mounts.entries(mountinfo):
        if entry.mountpoint == root:
            found = (entry.id, entry.optional)
    return found


def _write_marker(marker: Path, mount_id: str) -> None:
    """The marker, written atomically (its owner's mode, as dockerd's 0600)."""
    tmp = marker.with_name(marker.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{_boot_id()} {mount_id}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, marker)


def _remove(marker: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        marker.unlink()


def _boot_id() -> str:
    with open(BOOT_ID, encoding="ascii") as f:
        return f.read().strip()


def _mountinfo() -> str:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return f.read()


__all__ = ["MARKER", "release", "share"]
