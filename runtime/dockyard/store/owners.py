"""Layer owners under a rootless daemon: the container ids a layer's entries name, given on the
host as the ids the rootless user namespace maps them to.

Why this shape: an unprivileged daemon may not ``chown``, so :mod:`.snapshots` unpacks as usual
(same code, same speed as root's; an entry of the container's root is already right, since the
daemon's own uid is the container's 0) and records what it could not give: each entry's owner
and the two things a ``chown`` takes away — the setuid/setgid bits and the
``security.capability`` xattr (which only root in a user namespace may write anyway). One
helper inside the user namespace (:func:`dockyard.linux.userns.call`) then applies the record
with plain ``lchown``: id N lands on the host id the map gives N, exactly what the container
sees. A layer whose entries are all root's costs nothing more; one with other owners, one
helper process (Python's start-up without ``site``, and newuidmap) and an lchown per entry.
Unpacking the whole layer in the helper instead would push every byte through a pipe and keep
a second copy of the unpacker's threads alive.

Owners the map lacks (every id but 0 with the single-id map; ids past the subordinate ranges)
cannot exist on the host: those entries stay root's (podman's ``ignore_chown_errors``) and
:func:`unmapped_message` says so; the daemon logs it, and load, pull, import and build print it.

The record is applied after the layer is complete, so a path is resolved again from the
snapshot root one component at a time with ``O_NOFOLLOW``: an entry replaced later by a
symlink or removed is skipped, never followed.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from typing import Final

from ..errors import DockyardError
from ..linux import idmap

CAPS: Final = "security.capability"
_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_GONE: Final = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP})
_FD_CACHE_MAX: Final = 256

# (path below the root, uid, gid, mode to put back or None for a symlink, capability xattr)
Record = tuple[str, int, int, int | None, bytes | None]


@dataclass
class OwnerMap:
    """The ids an unpack may give: those of ``ns`` (None: any, the initial namespace's root).
    Entries of other ids become root's and are counted. ``shift`` (a root daemon's
    ``--userns-remap``): the ids are given as the host's ids ``ns`` maps them to, and one it
    lacks stops the unpack, in dockerd's words."""

    ns: idmap.UserNamespace | None
    unmapped: int = 0
    example: str = ""
    shift: bool = False

    def owner(self, name: str, uid: int, gid: int) -> tuple[int, int]:
        if self.ns is None:
            return uid, gid
        if self.shift:
            return to_host(self.ns, uid, gid)
        ok_uid, ok_gid = idmap.mapped(self.ns.uid_map, uid), idmap.mapped(self.ns.gid_map, gid)
        if ok_uid and ok_gid:
            return uid, gid
        self.unmapped += 1
        self.example = self.example or f"{name} ({uid}:{gid})"
        return uid if ok_uid else 0, gid if ok_gid else 0


@dataclass
class OwnerLog:
    """What a rootless unpack could not give, by path, in the order the tar gave it (a later
    entry at the same path replaces the earlier one's record)."""

    records: dict[str, Record] = field(default_factory=dict)

    def forget(self, path: str) -> None:
        self.records.pop(path, None)

    def add(self, path: str, uid: int, gid: int, mode: int | None, caps: bytes | None) -> None:
        self.records.pop(path, None)
        self.records[path] = (path, uid, gid, mode, caps)

    def needed(self) -> bool:
        """Whether anything differs from what the unpack left (its root-owned files)."""
        return any(uid or gid or caps for _, uid, gid, _, caps in self.records.values())

    def apply(self, root: str) -> None:
        """Apply the record in a helper inside the rootless user namespace."""
        if not self.needed():
            return
        from ..linux import userns

        userns.call(apply_records, root, list(self.records.values()), stdlib_only=True)


class UnmappedId(DockyardError):
    """A layer or archive entry whose owner the remapped user namespace lacks (dockerd: 500)."""


def to_host(ns: idmap.UserNamespace, uid: int, gid: int) -> tuple[int, int]:
    """Container ids → the host ids a remapped store keeps (dockerd's ``ToHost``)."""
    out = []
    for maps, value in ((ns.uid_map, uid), (ns.gid_map, gid)):
        for inside, outside, count in maps:
            if inside <= value < inside + count:
                out.append(outside + value - inside)
                break
        else:
            raise UnmappedId(f"Container ID {value} cannot be mapped to a host ID")
    return out[0], out[1]


def unmapped_message(owners: OwnerMap, what: str) -> str:
    ns = owners.ns or idmap.UserNamespace()
    files = "entry" if owners.unmapped == 1 else "entries"
    return (f"{what}: {owners.unmapped} {files} owned by ids outside the rootless user namespace "
            f"(e.g. {owners.example}) are owned by root instead: {idmap.missing_ids_hint(ns)}")


def apply_records(root: str, records: list[Record]) -> None:
    """The helper's side: ``lchown`` each path, then put back what the chown cleared."""
    resolver = _Below(root)
    try:
        for path, uid, gid, mode, caps in records:
            parent, _, base = path.rpartition("/")
            try:
                _apply(resolver.dir_fd(parent), base, uid, gid, mode, caps)
            except OSError as exc:
                if exc.errno not in _GONE:
                    raise
    finally:
        resolver.close()


def _apply(pfd: int, base: str, uid: int, gid: int, mode: int | None, caps: bytes | None) -> None:
    os.chown(base, uid, gid, dir_fd=pfd, follow_symlinks=False)
    if mode is None or stat.S_ISLNK(os.stat(base, dir_fd=pfd, follow_symlinks=False).st_mode):
        return
    if mode & 0o6000:  # a chown clears them (the tree is the daemon's private one: no race)
        os.chmod(base, mode, dir_fd=pfd)
    if caps is not None:
        os.setxattr(f"/proc/self/fd/{pfd}/{base}", CAPS, caps, follow_symlinks=False)


class _Below:
    """Directory descriptors below a root, each component opened with ``O_NOFOLLOW``."""

    def __init__(self, root: str) -> None:
        self.fds: dict[str, int] = {"": os.open(root, _DIR_FLAGS)}

    def dir_fd(self, rel: str) -> int:
        fd = self.fds.get(rel)
        if fd is None:
            parent, _, base = rel.rpartition("/")
            fd = os.open(base, _DIR_FLAGS, dir_fd=self.dir_fd(parent))
            if len(self.fds) >= _FD_CACHE_MAX:
                self._forget(keep=parent)
            self.fds[rel] = fd
        return fd

    def _forget(self, keep: str) -> None:
        for rel in [r for r in self.fds if r not in ("", keep)]:
            os.close(self.fds.pop(rel))

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


__all__ = ["OwnerLog", "OwnerMap", "Record", "UnmappedId", "apply_records", "to_host", "unmapped_message"]
