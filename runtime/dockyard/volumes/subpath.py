"""A volume's subpath (``--mount type=volume,…,volume-subpath=sub/dir``; Engine API 1.45's
``Mounts[].VolumeOptions.Subpath``): a directory or file inside the volume mounted instead of
the whole volume, as dockerd 26+ does it.

This is a security boundary: whoever can write into a volume (any container using it) can put
symlinks there, and the subpath must never let a container mount a host path. Three steps:

1. at create, lexically (:func:`check`): relative and never above the volume (Go's
   ``filepath.IsLocal``: ``a/../b`` is fine, ``../x`` and ``/x`` are not);
2. at each start, in the daemon (:func:`resolve`): symlinks inside the volume are followed as
   dockerd's ``safepath`` does (``filepath.EvalSymlinks``), and the result must still be inside
   the volume — else dockerd's 400 "path concatenation escapes the base directory"; a missing
   path is dockerd's 404 "cannot access path …" (both fail the start, not the create);
3. in the launcher, where the bind is made (:func:`~dockyard.linux.mounts.open_beneath`): the
   resolved path is opened with ``openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`` and the
   mount's source is that file descriptor, so a symlink swapped in after step 2 is refused by
   the kernel instead of followed.

The container's ``Mounts[]`` show the volume's ``_data`` as ``Source`` (dockerd: the volume's
path), ``HostConfig.Mounts`` the subpath as given.
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from ..errors import DockyardError, InvalidArgument, NotFound

if TYPE_CHECKING:
    from ..containers.spec import Mount

_MAX_LINKS: Final = 255  # Go's EvalSymlinks


class SubpathNotFound(NotFound):
    """dockerd's ``safepath.ErrNotAccessible`` (a NotFound: 404)."""


class SubpathEscapes(InvalidArgument):
    """dockerd's ``safepath.ErrEscapesBase`` (an InvalidParameter: 400)."""


def _not_found(path: str, cause: str) -> SubpathNotFound:
    return SubpathNotFound(f"cannot access path {path}: {cause}")


def _escapes(base: str, subpath: str) -> SubpathEscapes:
    return SubpathEscapes(f"path concatenation escapes the base directory, base: {base}, "
                          f"subpath: {subpath}")


def is_local(path: str) -> bool:
    """Go's ``filepath.IsLocal`` on Unix: not empty, not absolute, not above its start."""
    if not path or path.startswith("/"):
        return False
    if any(part in (".", "..") for part in path.split("/")):
        path = posixpath.normpath(path)
    return path != ".." and not path.startswith("../")


def resolve(base: str, subpath: str) -> str:
    """``subpath`` inside the volume directory ``base`` with its symlinks resolved, relative to
    ``base`` ("." for the volume itself); refused when that leaves the volume."""
    real_base = _eval_symlinks(base, base)
    combined = posixpath.normpath(posixpath.join(real_base, subpath))
    resolved = _eval_symlinks(combined, combined)
    rel = posixpath.relpath(resolved, real_base)
    if not is_local(rel):
        raise _escapes(real_base, subpath)
    return rel


def _eval_symlinks(path: str, shown: str) -> str:
    """Go's ``filepath.EvalSymlinks``: each component lstat'ed in turn, a link's target put in
    its place (an absolute one restarts at ``/``); a missing one is dockerd's 404 naming the
    first component that is not there."""
    todo = [p for p in path.split("/") if p]
    done = "/"
    links = 0
    while todo:
        part = todo.pop(0)
        if part == ".":
            continue
        if part == "..":
            done = posixpath.dirname(done)
            continue
        here = posixpath.join(done, part)
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            raise _not_found(shown, f"lstat {here}: no such file or directory") from None
        except NotADirectoryError:  # Go checks the kind first: a file with more to walk
            raise DockyardError(f'error while resolving symlinks in combined path "{shown}": '
                                "not a directory") from None
        if not stat.S_ISLNK(st.st_mode):
            if todo and not stat.S_ISDIR(st.st_mode):
                raise DockyardError(f'error while resolving symlinks in combined path "{shown}": '
                                    "not a directory")
            done = here
            continue
        links += 1
        if links > _MAX_LINKS:
            raise DockyardError("EvalSymlinks: too many links")
        target = os.readlink(here)
        if target.startswith("/"):
            done = "/"
        todo[:0] = [p for p in target.split("/") if p]
    return done


def resolve_mounts(mounts: list[Mount]) -> list[Mount]:
    """A start's mounts with each subpath resolved (step 2 above); the launcher opens them."""
    from ..store.diff import as_owner

    return [replace(m, subpath=as_owner(resolve, m.source, m.subpath)) if m.subpath else m
            for m in mounts]


def copy_target(base: str, subpath: str) -> str | None:
    """Where a create's copy-up goes for a subpath, relative to ``base`` (dockerd's
    ``populateVolume`` mounts the volume as a start would): None when the subpath does not
    exist (nothing is copied then; the start will say so); refused as a start would refuse it,
    in the words of dockerd's create."""
    try:
        return resolve(base, subpath)
    except NotFound:
        return None
    except DockyardError as exc:
        kind = InvalidArgument if isinstance(exc, InvalidArgument) else DockyardError
        raise kind(f"failed to populate volume: {exc}") from None


__all__ = ["SubpathEscapes", "SubpathNotFound", "copy_target", "is_local", "resolve",
           "resolve_mounts"]
