"""Mount stubs: what a RUN step's mounts create in its layer, and take out again.

A ``RUN --mount`` (cache, bind, tmpfs, secret) or a heredoc needs its target to exist before
the mount: the container's set-up creates it (with any missing parents) in the step's upper dir.
BuildKit (since v0.12, with ``RemoveMountStubsRecursive``, which its Dockerfile frontend sets)
removes such stubs again after the run — each path that did not exist in the parent image and
is still an empty directory or an empty regular file, deepest first, so a target whose parents
were missing leaves nothing behind. Checked against dockerd 28.5.2's BuildKit: a tmpfs at
``/scratch`` and a cache at ``/var/cache/demo`` leave no ``/scratch``, ``/var/cache`` or
``/var/cache/demo`` (dockerd 20.10's BuildKit 0.8 kept the directories).

The parent image is read from its layer directories (top first), following its symlinks
inside the image and honouring whiteouts and opaque directories, as the overlay would.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from ..store.diff import is_opaque, is_whiteout

_MAX_LINKS = 40


def lookup(layers: list[str], floor: int, rel: str) -> tuple[os.stat_result, int, int] | None:
    """The entry ``rel`` of the merged ``layers`` (top first, the first ``floor`` of them
    looked at): (stat, index of its layer, new floor); None when absent or whited out."""
    for i in range(floor):
        path = os.path.join(layers[i], rel)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if is_whiteout(st):
            return None
        if stat.S_ISDIR(st.st_mode) and is_opaque(path):
            return st, i, i + 1
        return st, i, floor
    return None


def resolve(lower_dirs: list[str], path: str) -> tuple[str, int]:
    """``path`` resolved in the image whose layers are ``lower_dirs`` (bottom first), symlinks
    followed inside the image: (resolved path without its leading ``/``, how many of its
    components exist)."""
    layers = list(reversed(lower_dirs))
    todo = [p for p in path.split("/") if p not in ("", ".")]
    done: list[str] = []
    floor, links = len(layers), 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            floor = len(layers)  # re-resolved from the top below
            todo = [*done, *todo]
            done = []
            continue
        found = lookup(layers, floor, "/".join([*done, part]))
        if found is None:
            return "/".join([*done, part, *todo]), len(done)
        st, index, floor = found
        if stat.S_ISLNK(st.st_mode) and links < _MAX_LINKS:
            links += 1
            target = os.readlink(os.path.join(layers[index], *done, part))
            base = [] if target.startswith("/") else done
            todo = [*base, *(p for p in target.split("/") if p not in ("", ".")), *todo]
            done, floor = [], len(layers)
            continue
        done.append(part)
    return "/".join(done), len(done)


def mount_stubs(lower_dirs: list[str], targets: Iterable[str]) -> list[str]:
    """The paths (relative) a RUN's mounts at ``targets`` will create: per target, deepest
    first, in BuildKit's order (a parent two targets share comes twice: the second time it may
    have become empty)."""
    stubs: list[str] = []
    for target in targets:
        resolved, existing = resolve(lower_dirs, target)
        parts = resolved.split("/") if resolved else []
        stubs += ["/".join(parts[:depth]) for depth in range(len(parts), existing, -1)]
    return stubs


def remove_mount_stubs(upper: Path, stubs: list[str]) -> None:
    """Take out of the step's upper dir each stub still empty (a directory without entries, a
    regular file of size 0); anything the command wrote there stays."""
    for stub in stubs:
        path = upper / stub
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        try:
            if stat.S_ISDIR(st.st_mode):
                os.rmdir(path)  # fails when not empty: then it stays
            elif stat.S_ISREG(st.st_mode) and st.st_size == 0:
                os.unlink(path)
        except OSError:
            continue


__all__ = ["lookup", "mount_stubs", "remove_mount_stubs", "resolve"]
