"""Docker's volume copy-up: a new (empty) volume mounted where the image has content gets a
copy of that content first, with owners, modes, xattrs, symlinks, hardlinks, device nodes and
times kept — and the volume's root takes the image directory's owner and mode.

The image's view is read straight from its layer snapshots (lowest first, as the container
record holds them), merged top-down as overlayfs merges them: a 0:0 character device is a
whiteout, ``trusted.overlay.opaque`` (``user.overlay.opaque`` rootless) ends a directory's
merge, a non-directory hides everything below it. No mount is needed, so the daemon does it
from any thread. Symlinks met on the way to the volume path are resolved *inside* the image
(an absolute target restarts at the image's root, ``..`` stops there); inside the copied tree
they are copied as links and never followed, so an image cannot make the daemon read or write
outside the layers and the volume.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from typing import Final

from ..store.diff import as_owner, is_opaque, is_whiteout

_MAX_HOPS: Final = 40
_OVERLAY_XATTRS: Final = ("trusted.overlay.", "user.overlay.")

Entry = tuple[list[str], os.stat_result]
"""The layer dirs making up one path (top first; one for a non-directory) and its lstat."""


class MergedImage:
    """Read-only lookups in the union of an image's layer dirs."""

    def __init__(self, lower_dirs: list[str]) -> None:
        self.layers = list(reversed(lower_dirs))  # top first

    def child(self, parent: list[str], rel: str) -> Entry | None:
        found: list[str] = []
        first: os.stat_result | None = None
        for layer in parent:
            path = os.path.join(layer, rel)
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if is_whiteout(st) or (found and not stat.S_ISDIR(st.st_mode)):
                break
            if not stat.S_ISDIR(st.st_mode):
                return [layer], st
            found.append(layer)
            first = first or st
            if is_opaque(path):
                break
        return (found, first) if first is not None else None

    def lookup(self, path: str) -> tuple[str, Entry] | None:
        """``path``'s entry after resolving symlinks inside the image, and its clean relative
        path; None if it does not exist."""
        parts = [p for p in path.split("/") if p not in ("", ".")]
        rel: list[str] = []
        entry: Entry | None = (self.layers, os.lstat(self.layers[0])) if self.layers else None
        dirs = {"": self.layers}
        hops = 0
        while parts and entry is not None:
            part = parts.pop(0)
            if part == "..":
                rel = rel[:-1]
                entry = (dirs["/".join(rel)], entry[1])
                continue
            entry = self.child(dirs["/".join(rel)], "/".join([*rel, part]))
            if entry is not None and stat.S_ISLNK(entry[1].st_mode):
                hops += 1
                if hops > _MAX_HOPS:
                    return None
                target = os.readlink(os.path.join(entry[0][0], *rel, part))
                rel = [] if target.startswith("/") else rel
                parts = [p for p in target.split("/") if p not in ("", ".")] + parts
                entry = (dirs["/".join(rel)], entry[1])
                continue
            rel.append(part)
            if entry is not None and stat.S_ISDIR(entry[1].st_mode):
                dirs["/".join(rel)] = entry[0]
            elif parts and entry is not None:
                return None  # a file in the middle of the path
        if entry is None:
            return None
        key = "/".join(rel)
        if key in dirs:  # after "..", or a link to a directory: that directory's own entry
            entry = (dirs[key], os.lstat(os.path.join(dirs[key][0], key)))
        return key, entry

    def names(self, layers: list[str], rel: str) -> list[str]:
        seen: set[str] = set()
        for layer in layers:
            try:
                seen.update(os.listdir(os.path.join(layer, rel)))
            except (FileNotFoundError, NotADirectoryError):
                continue
        return sorted(seen)


def is_empty(path: str) -> bool:
    """Whether a volume's directory is empty (one a container gave its 1000, 0700, too)."""
    return as_owner(_is_empty, path)


def _is_empty(path: str) -> bool:
    with os.scandir(path) as it:
        return next(it, None) is None


def image_path_kind(lower_dirs: list[str], path: str) -> str:
    """"dir", "file" (anything else) or "" (absent) for ``path`` in the image."""
    return as_owner(_image_path_kind, lower_dirs, path)


def _image_path_kind(lower_dirs: list[str], path: str) -> str:
    found = MergedImage(lower_dirs).lookup(path) if lower_dirs else None
    if found is None:
        return ""
    return "dir" if stat.S_ISDIR(found[1][1].st_mode) else "file"


def copy_up(lower_dirs: list[str], path: str, dest: str) -> bool:
    """Copy the image's directory ``path`` into the empty directory ``dest``; False when the
    image has no directory there (nothing to copy). A failure leaves ``dest`` empty again.

    A rootless daemon's user may not read a directory of the container's 1000 (0750), nor give
    a copy any owner but its own: refused either way, it does the copy again in the user
    namespace helper (:func:`~dockyard.store.diff.as_owner`), where lstat gives the
    container's ids and a chown to one lands on the host id the map gives it."""
    return as_owner(_copy_up, lower_dirs, path, dest)


def _copy_up(lower_dirs: list[str], path: str, dest: str) -> bool:
    image = MergedImage(lower_dirs)
    found = image.lookup(path) if lower_dirs else None
    if found is None or not stat.S_ISDIR(found[1][1].st_mode):
        return False
    rel, (layers, st) = found
    _empty(dest)  # what a refused first try left, a directory of mode 0555 say (see copy_up)
    try:
        _Copier(image).tree(layers, rel, dest)
        _attributes(os.path.join(layers[0], rel), dest, st)
    except BaseException:
        _empty(dest)
        raise
    return True


class _Copier:
    def __init__(self, image: MergedImage) -> None:
        self.image = image
        self.links: dict[tuple[int, int], str] = {}

    def tree(self, layers: list[str], rel: str, dest: str) -> None:
        for name in self.image.names(layers, rel):
            child_rel = os.path.join(rel, name) if rel else name
            entry = self.image.child(layers, child_rel)
            if entry is None:
                continue
            child_layers, st = entry
            target = os.path.join(dest, name)
            source = os.path.join(child_layers[0], child_rel)
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(target, 0o700)
                self.tree(child_layers, child_rel, target)
            elif not self.entry(source, target, st):
                continue
            _attributes(source, target, st)

    def entry(self, source: str, target: str, st: os.stat_result) -> bool:
        """Make one non-directory; True when its attributes still need setting."""
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in self.links:
            os.link(self.links[key], target, follow_symlinks=False)
            return False
        mode = st.st_mode
        if stat.S_ISREG(mode):
            with open(source, "rb") as src, open(target, "xb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(source), target)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
            os.mknod(target, mode, st.st_rdev)
        else:
            return False  # sockets: nothing to copy
        if st.st_nlink > 1:
            self.links[key] = target
        return True


def _attributes(source: str, target: str, st: os.stat_result) -> None:
    """Owner, xattrs, mode, times — in that order (chown clears set-id bits)."""
    link = stat.S_ISLNK(st.st_mode)
    try:
        os.chown(target, st.st_uid, st.st_gid, follow_symlinks=False)
    except PermissionError:
        if os.geteuid() != 0:
            raise  # a rootless daemon's user: copy_up does it again in the user namespace
    except OSError as exc:  # in there, an owner its map lacks (65534 of the single-id map)
        if exc.errno != errno.EINVAL:
            raise
    _copy_xattrs(source, target)
    if not link:
        os.chmod(target, stat.S_IMODE(st.st_mode))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_xattrs(source: str, target: str) -> None:
    try:
        keys = os.listxattr(source, follow_symlinks=False)
    except OSError:
        return
    for key in keys:
        if key.startswith(_OVERLAY_XATTRS):
            continue
        try:
            os.setxattr(target, key, os.getxattr(source, key, follow_symlinks=False),
                        follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise


def _empty(path: str) -> None:
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                pass


__all__ = ["MergedImage", "copy_up", "image_path_kind", "is_empty"]
