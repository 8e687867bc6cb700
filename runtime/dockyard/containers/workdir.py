"""The container's working directory, made at create as dockerd 20.10's
``SetupWorkingDirectory`` makes it (``createContainerOSSpecificSettings``, the container's root
mounted): ``docker diff`` shows it before any start (``A /new``, ``A /new/dir``; ``C /usr`` for
a parent the image has) and ``docker cp`` can copy into it.

dockerd runs ``MkdirAllAndChownNew`` through the overlay; here the upper dir is written as the
overlay would (no mount on a create's path), the path resolved in the image first
(:func:`dockyard.build.stubs.resolve`: its symlinks followed inside it, the init layer's too):

- a parent the image holds is copied up — its mode, owner and xattrs (not overlayfs' own) and
  its times, as overlayfs' copy-up keeps them and restores its parent's after; the deepest one
  takes the time of the directory made in it;
- each missing directory is made 0755, owned by the daemon's root (the remapped root under
  ``--userns-remap``), whatever ``--user`` is;
- a parent already in the upper dir (the init layer's ``/etc``, ``/dev``) is used as it is.

The start still makes a missing working directory (runc's ``prepareRootfs`` does too): a volume
or tmpfs mounted over the path hides what the create made.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from ..build import stubs
from ..build.dockerignore import go_clean
from ..errors import DockyardError
from ..store.diff import as_owner
from . import skeleton

_OVERLAY_XATTRS = ("trusted.overlay.", "user.overlay.")


def setup(record: Any, owner: tuple[int, int] | None = None) -> None:
    """Clean ``record``'s WorkingDir (Go's ``filepath.Clean``: ``/a/../b/`` is ``/b``, an
    image's ``./rel`` ``rel``) and make it in its upper dir, under the root as dockerd's
    ``GetResourcePath`` joins even a relative one. A path ending in a file (after the image's
    symlinks) is refused (500) in dockerd's words, one through a file with ENOTDIR's (its words
    name its own root; here the path in the container). ``owner``: the remapped root's ids."""
    workdir = record.config.get("WorkingDir") or ""
    if not workdir:
        return
    record.config["WorkingDir"] = go_clean(workdir)  # kept so, relative (an image's) or not
    clean = go_clean("/" + workdir)
    layers = [*record.lower_dirs, record.upper_dir]
    resolved, existing, is_dir = as_owner(_resolve, layers, clean)
    parts = resolved.split("/") if resolved else []
    if not is_dir:
        if existing == len(parts):
            raise DockyardError(f"Cannot mkdir: {clean} is not a directory")
        raise DockyardError(f"lstat {clean}: not a directory")
    if existing == len(parts):
        return  # the image has it: nothing is made (the usual image's WORKDIR)
    if os.geteuid() == 0:
        make(layers[::-1], parts, existing, owner)
    else:  # rootless: the image's owners can be given (and read) in its user namespace only
        from ..linux import userns
        userns.call(make, layers[::-1], parts, existing, owner)


def _resolve(layers: list[str], path: str) -> tuple[str, int, bool]:
    """``path`` resolved in ``layers`` (bottom first; :func:`.stubs.resolve`), how many of its
    parts are there, and whether the last of those is a directory (or the root)."""
    resolved, existing = stubs.resolve(layers, path)
    upto = "/".join(resolved.split("/")[:existing]) if resolved else ""
    found = stubs.lookup(layers[::-1], len(layers), upto) if upto else None
    return resolved, existing, found is None or stat.S_ISDIR(found[0].st_mode)


def make(layers: list[str], parts: list[str], existing: int,
         owner: tuple[int, int] | None) -> None:
    """In ``layers[0]`` (the upper dir; ``layers`` top first), the directories of ``parts``:
    the first ``existing`` copied up where the upper dir lacks them, the rest made."""
    upper = layers[0]
    copied: list[tuple[str, os.stat_result]] = []
    floor = len(layers)
    for depth in range(1, existing + 1):
        rel = "/".join(parts[:depth])
        found = stubs.lookup(layers, floor, rel)
        assert found is not None  # resolve found it
        st, index, floor = found
        if index == 0:
            continue  # in the upper dir already
        _copy_up(os.path.join(layers[index], rel), os.path.join(upper, rel), st)
        copied.append((os.path.join(upper, rel), st))
    for path, st in reversed(copied):  # deepest first: making a child moved its parent's
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
    for depth in range(existing + 1, len(parts) + 1):
        path = os.path.join(upper, *parts[:depth])
        skeleton.mkdir(path)
        if owner is not None:
            os.chown(path, *owner)


def _copy_up(source: str, target: str, st: os.stat_result) -> None:
    """A directory of the image in the upper dir as overlayfs copies one up (its times later)."""
    os.mkdir(target, 0o700)
    os.chown(target, st.st_uid, st.st_gid)
    os.chmod(target, stat.S_IMODE(st.st_mode))  # after the chown, which may clear set-id bits
    for key in os.listxattr(source, follow_symlinks=False):
        if not key.startswith(_OVERLAY_XATTRS):
            os.setxattr(target, key, os.getxattr(source, key, follow_symlinks=False),
                        follow_symlinks=False)
