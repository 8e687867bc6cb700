"""A start's bind propagation, decided as dockerd 20.10's ``setMounts`` decides it
(daemon/oci_linux.go), in the daemon's mount namespace, before the container is made:

- a ``shared``/``rshared`` bind needs its source's mount shared (``ensureShared``) and makes
  the container's root mount ``shared``;
- a ``slave``/``rslave`` bind needs it shared or a slave (``ensureSharedOrSlave``) and makes
  the root ``rslave`` (unless a shared bind made it ``shared``) — except an ``rslave`` dockerd
  gave unasked to a source in its root (``Mount.implied``): there it falls back to the
  private propagation binds had before, with a warning, instead of refusing the start;
- the others leave the root to runc's default (``rslave``).

The source's mount is the longest mount point that is a string prefix of the source with its
links resolved (``getSourceMount``); "shared" is a ``shared:N`` tag in mountinfo's optional
fields, "slave" a ``master:N`` one. A refusal is the start's 500 in dockerd's words. The
container's init applies the result (``linux.mounts.prepare_root``, ``linux.mounts.bind``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ..errors import DockyardError
from ..linux.mounts import bind_propagation, tagged
from ..linux.mounts import source_mount as _mount_holding
from .parse import in_daemon_root

log = logging.getLogger("dockyard.volumes")

SHARED: tuple[str, ...] = ("shared", "rshared")
SLAVE: tuple[str, ...] = ("slave", "rslave")


class PropagationRefused(DockyardError):
    """A bind's propagation its source's mount cannot give (dockerd's start error, a 500)."""


def rootfs_propagation(mounts: list[Any], daemon_root: str, container: str = "",
                       mountinfo: str | None = None) -> str:
    """The container root's propagation for its ``mounts`` (``containers.spec.Mount``), ""
    where runc's default stands; raises :class:`PropagationRefused` for the first bind whose
    source's mount cannot propagate as asked. ``mountinfo``: the daemon's (read when needed)."""
    root = ""
    for m in mounts:
        propagation = bind_propagation(m.options) if m.type == "bind" else ""
        if propagation not in SHARED + SLAVE:
            continue
        if mountinfo is None:
            with open("/proc/self/mountinfo", encoding="utf-8") as f:
                mountinfo = f.read()
        if propagation in SHARED:
            _ensure(m.source, mountinfo, ("shared:",), "shared")
            if root not in SHARED:
                root = "shared"
            continue
        try:
            _ensure(m.source, mountinfo, ("shared:", "master:"), "shared or slave")
        except PropagationRefused:
            if not (m.implied and in_daemon_root(m.source, daemon_root)):
                raise
            log.warning("Falling back to default propagation for bind source in daemon root "
                        "(container %s, source %s)", container, m.source)
            continue
        if root not in SHARED + SLAVE:
            root = "rslave"
    return root


def _ensure(source: str, mountinfo: str, tags: tuple[str, ...], kind: str) -> None:
    mountpoint, optional = source_mount(source, mountinfo)
    if not tagged(optional, *tags):
        raise PropagationRefused(f"path {source} is mounted on {mountpoint} but it is not a "
                                 f"{kind} mount")


def source_mount(source: str, mountinfo: str) -> tuple[str, str]:
    """(mount point, optional fields) of the mount holding ``source`` with its links
    resolved (``getSourceMount``: ``linux.mounts.source_mount``)."""
    found = _mount_holding(eval_symlinks(source), mountinfo)
    if found is None:
        raise PropagationRefused(f"Can't find mount point of {source}")
    return found


def eval_symlinks(source: str) -> str:
    """Go's ``filepath.EvalSymlinks``, its error in Go's words (``lstat`` of the first part
    missing)."""
    try:
        return os.path.realpath(source, strict=True)
    except OSError as exc:
        missing = source
        parent = os.path.dirname(missing)
        while parent != missing and not os.path.lexists(parent):
            missing, parent = parent, os.path.dirname(parent)
        raise PropagationRefused(f"lstat {missing}: {os.strerror(exc.errno or 2).lower()}") from None


__all__ = ["PropagationRefused", "eval_symlinks", "rootfs_propagation", "source_mount"]
