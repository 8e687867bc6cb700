"""Layer owners: the store's id map (:class:`StoreIdMap`), and under a rootless daemon the
container ids a layer's entries name, given on the host as the ids the rootless user namespace
maps them to.

:class:`StoreIdMap` is the one answer to "how do the owners the store's files have on disk relate
to the ids its containers see": a plain root daemon's are the same ids, a ``--userns-remap``
daemon's are shifted through its map, a rootless daemon's are what its user namespace maps
them to. The unpacker (:mod:`.snapshots`), the layer writer (:mod:`.diff`), commit and the
builder ask it (``ImageStore.id_map``) instead of working the map out each on its own.

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
from typing import Final, Literal

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
        host = idmap.host_id(maps, value)
        if host is None:
            raise UnmappedId(f"Container ID {value} cannot be mapped to a host ID")
        out.append(host)
    return out[0], out[1]


IdMaps = tuple[list[idmap.Mapping], list[idmap.Mapping]]  # (uid map, gid map)


@dataclass(frozen=True)
class StoreIdMap:
    """The store's id map: how the owners of the store's files (layers, containers' upper dirs)
    relate to the ids its containers see. One per store (``ImageStore.id_map``):

    * ``host`` (a root daemon): the same ids;
    * ``remap`` (a root daemon's ``--userns-remap``; :attr:`remap` is its map): each id is kept
      shifted through the map; the daemon gives and reads them so itself, and an id the map
      lacks is an error, in dockerd's words (:func:`to_host`);
    * ``userns`` (a rootless daemon; a root daemon run inside a user namespace): the ids the
      user namespace maps the containers' to. Seen from outside (the daemon's user) they are
      host ids — its own uid for the containers' root, subordinate ids for the rest —, read
      back through the inverse of the map, and only a helper inside may give them
      (:class:`OwnerLog`); seen from inside (as its root: that helper) they are the
      containers' ids already. An id the map lacks becomes root's, and is counted.

    Which side a process is on is asked where the map is used (a rootless store's object
    crosses into the helper as it is), and the rootless map is read afresh each time, as the
    launcher reads it for each start."""

    kind: Literal["host", "remap", "userns"] = "host"
    remap: idmap.UserNamespace | None = None

    @classmethod
    def of_process(cls, remap: idmap.UserNamespace | None = None) -> StoreIdMap:
        """The store's id map for a daemon (or a helper) running as this process does, with
        ``remap`` its ``--userns-remap`` map if any."""
        if remap is not None:
            return cls("remap", remap)
        if os.geteuid() != 0 or _in_user_namespace():
            return cls("userns")
        return cls()

    @staticmethod
    def inside() -> bool:
        """Whether this process sees the files as the containers do (root of their user
        namespace), rather than the host's ids (the rootless daemon's user)."""
        return os.geteuid() == 0

    def namespace(self) -> idmap.UserNamespace | None:
        """The map between the containers' ids and the ids this process's files may have: the
        remap; the rootless map outside the user namespace, the namespace's own inside (which
        ids a chown there may give); None for any id."""
        if self.kind == "remap":
            return self.remap
        if self.kind != "userns":
            return None
        if not self.inside():
            return idmap.rootless()
        from ..linux import userns

        return userns.current()

    def read_maps(self) -> IdMaps | None:
        """The (uid, gid) maps whose inverse turns the owners this process reads on disk into
        the containers' ids (a layer tar's headers); None: they are the containers' already."""
        if self.kind == "userns" and self.inside():
            return None  # the kernel shows them mapped (an id outside as 65534)
        ns = self.namespace()
        return None if ns is None else (ns.uid_map, ns.gid_map)

    def owner_map(self) -> OwnerMap:
        """The ids an unpack in this process may give, and how (:class:`OwnerMap`)."""
        return OwnerMap(self.namespace(), shift=self.kind == "remap")

    def to_disk(self, uid: int, gid: int) -> tuple[int, int]:
        """The ids this process gives a file of the containers' ``uid:gid``: shifted under
        ``--userns-remap`` (:func:`to_host`: an id the map lacks is refused), the same ids
        otherwise (root's own; in a rootless helper the kernel maps a chown)."""
        return (uid, gid) if self.remap is None else to_host(self.remap, uid, gid)

    def root_owner(self) -> tuple[int, int] | None:
        """The host ids a file of the containers' root must be given explicitly (the remapped
        root), or None: a file this process makes is already the containers' root's."""
        return None if self.remap is None else self.to_disk(0, 0)

    def check_owner(self, uid: int, gid: int) -> None:
        """Refuse an explicit owner (``COPY --chown``) the user namespace this process is root
        of lacks, naming the map (the kernel would say only EINVAL); under ``--userns-remap``
        :meth:`to_disk` refuses it."""
        if self.kind == "userns" and self.inside():
            idmap.check_mapped(self.namespace() or idmap.UserNamespace(), uid, [gid])

    def root_on_disk(self) -> tuple[int, int]:
        """The ids a file of the containers' root has on disk, as this process reads them."""
        return self.root_owner() or (os.geteuid(), os.getegid())


def _in_user_namespace() -> bool:
    from ..linux import userns

    return userns.inside()


def container_id(maps: list[idmap.Mapping], host_id: int) -> int:
    """The containers' id of an on-disk ``host_id`` through the inverse of ``maps`` (65534, the
    kernel's overflow id, for one outside them)."""
    inside = idmap.namespace_id(maps, host_id)
    return idmap.OVERFLOW_ID if inside is None else inside


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


__all__ = ["IdMaps", "OwnerLog", "OwnerMap", "Record", "StoreIdMap", "UnmappedId", "apply_records", "container_id",
           "to_host", "unmapped_message"]
