"""The init layer under a RUN step's container: what dockerd's init layer gives every container,
the classic builder's RUN containers included — an empty ``/.dockerenv`` (scripts test for it
to know they run in Docker), ``/etc/mtab`` → ``/proc/mounts``, the mountpoints of the
container's ``/etc/hosts``, ``hostname`` and ``resolv.conf``, and ``/dev``, ``/proc`` and
``/sys`` for an image without them.

dockerd makes it (moby ``daemon/initlayer``) as a layer of its own between the image and the
container's read-write layer, so a step's layer holds none of it unless the command changed
it: checked against dockerd 20.10 — a RUN sees both files; its layer has neither; ``rm`` of
them leaves the whiteouts ``.wh..dockerenv`` and ``etc/.wh.mtab``, and the next step sees them
again; ``touch /.dockerenv`` puts the file in the layer; a RUN in an image made ``FROM
scratch`` leaves no ``dev/``, ``proc/`` or ``sys/`` (the mounts' targets) behind.

Here it is one more read-only lower dir, on top of the parent image's layers, and so the same
overlay rules give the same layer. What it holds depends on the image only through ``/etc``
(a directory keeps the image's mode, owner and xattrs, as dockerd's copy-up of it in its init
layer; anything else is hidden by a 0755 one, as dockerd unlinks it) and which of ``dev``,
``proc``, ``sys`` the image lacks — so few variants exist that each is made once, under
``snapshots/init-<key>/fs``, and shared by every step that needs it (a RUN makes nothing; the
store's recovery at the daemon's start removes them with its ``tmp-*`` dirs). Left out:
``/dev/console``, ``/dev/pts``, ``/dev/shm``, under the container's /dev tmpfs, never seen.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import NamedTuple

from .stubs import lookup

PREFIX = "init-"
MTAB_TARGET = "/proc/mounts"
FILES = (".dockerenv", "etc/hosts", "etc/hostname", "etc/resolv.conf")
MOUNT_DIRS = ("dev", "proc", "sys")


class _Needs(NamedTuple):
    etc: tuple[int, int, int] | None  # the image's /etc directory: mode, uid, gid
    etc_xattrs: tuple[tuple[str, bytes], ...]  # and its extended attributes (overlay's aside)
    missing: tuple[str, ...]  # of MOUNT_DIRS, those the image has no directory at
    owner: tuple[int, int]  # the container's root on the host (--userns-remap)

    @property
    def key(self) -> str:
        return hashlib.sha256(repr(tuple(self)).encode()).hexdigest()[:16]


def lower_dir(snapshots_root: Path, lower_dirs: list[str], owner: tuple[int, int]) -> str:
    """The init layer for an image whose layers (bottom first) are ``lower_dirs``: a directory
    to list on top of them. ``owner``: the host ids of the container's root."""
    needs = _needs(tuple(lower_dirs), owner)
    path = snapshots_root / f"{PREFIX}{needs.key}"
    if not path.is_dir():
        _make(snapshots_root, path, needs)
    return str(path / "fs")


@functools.lru_cache(maxsize=256)
def _needs(lower_dirs: tuple[str, ...], owner: tuple[int, int]) -> _Needs:
    """What of the init layer depends on the image (a layer's content never changes)."""
    layers = list(reversed(lower_dirs))

    def directory(rel: str) -> tuple[os.stat_result, str] | None:
        found = lookup(layers, len(layers), rel)
        if found is None or not stat.S_ISDIR(found[0].st_mode):
            return None
        return found[0], os.path.join(layers[found[1]], rel)

    etc = directory("etc")
    return _Needs(None if etc is None else (stat.S_IMODE(etc[0].st_mode), etc[0].st_uid,
                                            etc[0].st_gid),
                  () if etc is None else _xattrs(etc[1]),
                  tuple(d for d in MOUNT_DIRS if directory(d) is None), owner)


def _xattrs(path: str) -> tuple[tuple[str, bytes], ...]:
    """What a copy-up of ``path`` would keep: its extended attributes but overlay's own."""
    names = sorted(n for n in os.listxattr(path, follow_symlinks=False)
                   if not n.startswith(("trusted.overlay.", "user.overlay.")))
    return tuple((n, os.getxattr(path, n, follow_symlinks=False)) for n in names)


def _make(snapshots_root: Path, path: Path, needs: _Needs) -> None:
    """Made in a ``tmp-*`` dir and renamed into place: two steps racing to make the same one
    both end with it whole."""
    tmp = snapshots_root / f"tmp-{secrets.token_hex(8)}"
    fs = tmp / "fs"
    try:
        for rel in ("", "etc", *needs.missing):
            os.makedirs(fs / rel, exist_ok=True)
            _fit(fs / rel, 0o755, needs.owner)
        for rel in FILES:
            os.close(os.open(fs / rel, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o755))
            _fit(fs / rel, 0o755, needs.owner)
        os.symlink(MTAB_TARGET, fs / "etc" / "mtab")
        _fit(fs / "etc" / "mtab", None, needs.owner)
        if needs.etc is not None:
            _fit(fs / "etc", needs.etc[0], needs.etc[1:])
        for name, value in needs.etc_xattrs:
            with contextlib.suppress(OSError):  # one this daemon may not set (trusted.*)
                os.setxattr(fs / "etc", name, value)
        try:
            os.rename(tmp, path)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise  # else: another step's is there, the same
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _fit(path: Path, mode: int | None, owner: tuple[int, ...]) -> None:
    """``mode`` whatever the umask (None: a link's), and ``owner`` where it is not the daemon's
    own (a rootless daemon's files are its container root's already)."""
    if mode is not None:
        os.chmod(path, mode)
    if tuple(owner) != (os.geteuid(), os.getegid()):
        with contextlib.suppress(PermissionError):
            os.chown(path, owner[0], owner[1], follow_symlinks=False)


__all__ = ["PREFIX", "lower_dir"]
