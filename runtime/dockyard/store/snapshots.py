"""Layer snapshots: each layer unpacked once, into a directory ready to be an overlayfs lowerdir.

On-disk layout (under the daemon's data root)::

    snapshots/
      <chainID hex>/fs        the unpacked layer (its own diff only, not the merged rootfs)
      <chainID hex>/meta.json {"diff_id", "tar_size", "size"}: a complete snapshot describes
                              itself, so one left by a crash before its row was committed can
                              be adopted instead of unpacked again
      tmp-<random>/fs         an unpack in progress; renamed to <chainID hex> when complete
      trash-<random>/         a snapshot being deleted (renamed first, then removed)
      init-<key>/fs           the builder's init layers of RUN steps (build/initlayer.py),
                              made again when wanted: removed at open with tmp-* and trash-*

A crash leaves only ``tmp-*`` / ``trash-*`` directories, which :meth:`SnapshotStore.clean`
removes: a half-unpacked layer is never visible under a chain ID. Before the rename the
filesystem is flushed with one ``syncfs`` (cheaper than an fsync per file), so a power loss
cannot leave a visible snapshot with missing data either.

Speed: a second thread inflates and hashes (zlib and hashlib release the GIL) while the main
thread parses headers and writes files; a regular file costs open, write, futimens and close
when its owner and mode need no fixing. Metadata follows dockerd's unpacker (owner before
mode, a hardlink header's metadata applied to the shared inode, directory metadata last), and
``size`` counts regular files once per inode plus symlink targets, as dockerd's layer size.

OCI whiteouts become overlayfs ones: ``.wh.NAME`` → a 0:0 character device ``NAME``, and
``.wh..wh..opq`` → ``trusted.overlay.opaque="y"`` on the directory.

Hostile tars: every path is resolved component by component from a descriptor of the snapshot
root with ``O_NOFOLLOW|O_DIRECTORY``, so a ``..`` component, a symlinked parent (created by the
same tar or not) or a hardlink target outside the root is rejected, never followed. Absolute
names are taken relative to the root, as Docker does.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import queue
import secrets
import shutil
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from ..errors import DigestMismatch, InvalidArgument, Unavailable
from ..linux import idmap, userns
from . import tarparse
from .compression import Readable, decoder, raw_chunks, sniff
from .content import WRITEBACK, start_writeback
from .owners import CAPS, OwnerLog, StoreIdMap, UnmappedId, unmapped_message
from .tarparse import ChunkReader, Entry, TarError

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_FD_CACHE_MAX = 256
log = logging.getLogger(__name__)
_WRITEBACK_MIN = 1 << 20
LAYER_COMPRESSIONS = frozenset({"gzip", "zstd"})
# errno values that are the machine's fault, not the layer's: they stay OSError (or StoreFull)
_MACHINE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.ENOMEM,
                             errno.EMFILE, errno.ENFILE})


class HostileLayer(InvalidArgument):
    """A layer entry that tries to write outside its snapshot."""


@dataclass
class UnpackResult:
    diff_id: str
    tar_size: int
    size: int
    unmapped: str = ""  # what a rootless unpack could not own as the layer says (see .owners)

    def meta(self) -> dict[str, Any]:
        """What meta.json keeps."""
        return {"diff_id": self.diff_id, "tar_size": self.tar_size, "size": self.size}


def chain_ids(diff_ids: list[str]) -> list[str]:
    """ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n)), as the OCI image spec defines."""
    out: list[str] = []
    for diff_id in diff_ids:
        if out:
            diff_id = "sha256:" + hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest()
        out.append(diff_id)
    return out


# ---- the streaming pipeline ---------------------------------------------------------------


class _Producer(threading.Thread):
    """Decompresses in a second thread, so inflate overlaps with file writes.

    The diff_id's sha256 runs where it best balances the two threads: here for a plain tar
    (this thread only reads), in the consumer for a compressed one (inflate is the longest
    stage: a text layer's gzip inflates at ~650 MB/s with ISA-L, sha256 runs at ~1.5 GB/s).
    """

    def __init__(self, src: Readable | Iterator[bytes]) -> None:
        super().__init__(daemon=True, name="layer-inflate")
        self.src = _chunks_of(src)
        self.queue: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=8)
        self.hasher = hashlib.sha256()
        self.total = 0
        self.hash_here = False  # set before the first chunk is queued
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            kind, chunks = sniff(self.src)
            self.hash_here = not kind
            for chunk in decoder(kind, chunks, LAYER_COMPRESSIONS):
                if self.hash_here:
                    self.hasher.update(chunk)
                    self.total += len(chunk)
                if self.stop.is_set():
                    return
                self.queue.put(chunk)
            self.queue.put(None)
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            self.queue.put(exc)

    def chunks(self) -> Iterator[bytes]:
        while True:
            item = self.queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            if not self.hash_here:
                self.hasher.update(item)
                self.total += len(item)
            yield item

    def cancel(self) -> None:
        self.stop.set()
        while self.is_alive():
            try:
                self.queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self.join()


def _chunks_of(src: Readable | Iterator[bytes]) -> Iterator[bytes]:
    """A file is an iterator too (of lines!): anything with ``read`` is read in blocks."""
    if isinstance(src, Iterator) and not hasattr(src, "read"):
        return src
    return raw_chunks(cast(Readable, src))


def unpack(src: Readable | Iterator[bytes], dest: Path, writeback: bool = False,
           what: str = "", layer: bool = True, id_map: StoreIdMap | None = None) -> UnpackResult:
    """Unpack a layer stream (gzip, zstd or plain tar; a file or an iterator of chunks) into the
    existing directory ``dest``. ``writeback``: start the disk writes of large files as they
    are written (for an unpack that ends with a sync). ``id_map``: the store's id map (default:
    this process's, :meth:`StoreIdMap.of_process`). A rootless daemon gets the layer's owners
    through a helper in its user namespace (:mod:`.owners`); ``what`` names the archive in the
    message about owners that could not be kept (default: the layer). ``layer=False``: a
    plain archive (ADD of a local tar), whose ``.wh.*`` entries are files like any other, not
    whiteouts or opaque-directory markers (as dockerd's ADD extracts). A ``--userns-remap``
    store's: every owner is given shifted through the map (container id 0 → its first host
    id), directories the tar does not list are the remapped root's, and an id the map lacks
    stops the unpack (:class:`.owners.UnmappedId`)."""
    extractor = _Extractor(dest, writeback, whiteouts=layer, id_map=id_map)
    producer = _Producer(src)
    producer.start()
    try:
        reader = ChunkReader(producer.chunks())
        for entry in tarparse.entries(reader):
            try:
                extractor.apply(entry, reader)
            except OSError as exc:
                if exc.errno in _MACHINE_ERRORS:
                    raise
                raise InvalidArgument(f"invalid layer entry {entry.name!r}: {exc.strerror}") from None
        reader.drain()
        extractor.finish()
        if extractor.owners is not None:
            extractor.owners.apply(str(dest))
    except UnmappedId as exc:  # dockerd's words (its unpacker's re-exec says the prefix)
        producer.cancel()
        raise UnmappedId(f"Error processing tar file(exit status 1): {exc}") from None
    except BaseException:
        producer.cancel()
        raise
    finally:
        extractor.close()
    producer.join()
    diff_id = "sha256:" + producer.hasher.hexdigest()
    ids = extractor.ids
    unmapped = unmapped_message(ids, what or f"layer {diff_id[:19]}") if ids.unmapped else ""
    return UnpackResult(diff_id, producer.total, extractor.size, unmapped)


def unpack_layer(src: str | Path | Readable, dest: str | Path) -> str:
    """Benchmark-friendly entry point: unpack ``src`` into ``dest`` (created); return the diff_id."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if isinstance(src, (str, Path)):
        with open(src, "rb", buffering=0) as f:
            return unpack(f, dest).diff_id
    return unpack(src, dest).diff_id


# ---- applying entries safely ---------------------------------------------------------------


def _split(name: str) -> tuple[str, str]:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise HostileLayer(f"invalid layer entry {name!r}: path contains '..'")
    if not parts:
        return "", ""
    return "/".join(parts[:-1]), parts[-1]


class _Extractor:
    """Applies tar entries below a root directory descriptor, never following a symlink."""

    def __init__(self, root: Path, writeback: bool = False, whiteouts: bool = True,
                 id_map: StoreIdMap | None = None) -> None:
        self.root_fd = os.open(root, _DIR_FLAGS)
        self.writeback = writeback
        self.whiteouts = whiteouts  # ``.wh.*`` entries are overlay whiteouts (a layer's tar)
        self.dirs: dict[str, int] = {}
        self.deferred: list[tuple[str, Entry]] = []
        self.size = 0
        self.privileged = os.geteuid() == 0
        # the container ids a new file has (no setgid dirs yet): 0:0 as root, and as a rootless
        # daemon too (its own ids are its containers' root); other owners are given directly
        # as root, recorded for the user namespace helper (``owners``) when rootless
        self.owner = (0, 0)
        self.owners = None if self.privileged else OwnerLog()
        id_map = id_map or StoreIdMap.of_process()
        self.ids = id_map.owner_map()
        self.made_dir_owner = id_map.root_owner()  # --userns-remap: the remapped root
        if self.made_dir_owner is not None:  # a new file is 0:0, no container id's host id
            self.owner = (-1, -1)
        self.umask = _umask()

    def close(self) -> None:
        self._forget_dirs()
        os.close(self.root_fd)

    def _forget_dirs(self) -> None:
        for fd in self.dirs.values():
            os.close(fd)
        self.dirs.clear()

    def dir_fd(self, rel: str, create: bool = True) -> int:
        """Descriptor of directory ``rel`` (below the root), creating missing parents."""
        if not rel:
            return self.root_fd
        fd = self.dirs.get(rel)
        if fd is not None:
            return fd
        parent_rel, _, base = rel.rpartition("/")
        parent = self.dir_fd(parent_rel, create)
        try:
            fd = os.open(base, _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise HostileLayer(f"invalid layer entry: {rel!r} does not exist") from None
            os.mkdir(base, 0o755, dir_fd=parent)
            if self.made_dir_owner is not None:
                os.chown(base, *self.made_dir_owner, dir_fd=parent, follow_symlinks=False)
            fd = os.open(base, _DIR_FLAGS, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise HostileLayer(
                    f"invalid layer entry: path component {rel!r} is a symlink or not a directory"
                ) from None
            raise
        if len(self.dirs) >= _FD_CACHE_MAX:
            self._forget_dirs()
        self.dirs[rel] = fd
        return fd

    def apply(self, entry: Entry, reader: ChunkReader) -> None:
        parent_rel, base = _split(entry.name)
        if not base:
            if entry.type == tarparse.DIRECTORY:
                self.deferred.append(("", entry))
            return
        pfd = self.dir_fd(parent_rel)
        if self.whiteouts and base.startswith(WHITEOUT_PREFIX):
            self._whiteout(pfd, base, entry)
            if self.owners is not None:
                self.owners.forget(_join(parent_rel, base[len(WHITEOUT_PREFIX):]))
            return
        if self.owners is not None:
            self.owners.forget(_join(parent_rel, base))  # an earlier entry's record is stale
        handler = _HANDLERS[entry.type]
        handler(self, pfd, base, entry, reader, parent_rel)

    def _clear(self, pfd: int, base: str, keep_dir: bool) -> bool:
        """Remove what is at ``base`` unless it is a directory and ``keep_dir``; True if kept."""
        try:
            st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            self._forget_dirs()
            shutil.rmtree(base, dir_fd=pfd)
        else:
            os.unlink(base, dir_fd=pfd)
        return False

    def _whiteout(self, pfd: int, base: str, entry: Entry) -> None:
        if base == OPAQUE:
            # rootless overlayfs (mounted with userxattr) reads the user.* namespace instead
            key = "trusted.overlay.opaque" if self.privileged else "user.overlay.opaque"
            os.setxattr(pfd, key, b"y")
            return
        if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # other AUFS metadata has no overlay meaning
        name = base[len(WHITEOUT_PREFIX) :]
        self._clear(pfd, name, keep_dir=False)
        try:
            os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=pfd)
        except PermissionError:
            raise Unavailable(
                f"cannot make the overlay whiteout for {entry.name!r}: creating a 0:0 character "
                "device needs root or a user namespace (run the daemon as root or rootless mode)"
            ) from None
        if self.privileged:
            self._chown(name, pfd, entry, entry.name)

    def _regular(self, pfd: int, base: str, entry: Entry, reader: ChunkReader, parent: str) -> None:
        mode = entry.mode & 0o7777
        plain = not (mode & ~0o777 or mode & self.umask)  # can be created with its final mode
        try:
            fd = os.open(base, _FILE_FLAGS, mode if plain else 0o600, dir_fd=pfd)
        except FileExistsError:
            self._clear(pfd, base, keep_dir=False)
            fd = os.open(base, _FILE_FLAGS, mode if plain else 0o600, dir_fd=pfd)
        try:
            self._body(fd, entry.size, reader)
            self.size += entry.size
            if plain and not entry.xattrs and (entry.uid, entry.gid) == self.owner:
                os.utime(fd, ns=self._times(entry))  # the common case: 4 syscalls per file
            else:
                self._meta_fd(fd, entry, _join(parent, base))
        finally:
            os.close(fd)

    def _body(self, fd: int, size: int, reader: ChunkReader) -> None:
        """A large file's pages go to disk while the rest of the layer arrives, so the final
        syncfs finds little left to write; small files are left to it (one call each would
        cost more than it saves)."""
        if not self.writeback or size < _WRITEBACK_MIN:
            reader.write_to(fd, size)
            return
        for offset in range(0, size, WRITEBACK):
            n = min(WRITEBACK, size - offset)
            reader.write_to(fd, n)
            start_writeback(fd, offset, n)

    def _directory(self, pfd: int, base: str, entry: Entry, _r: ChunkReader, parent: str) -> None:
        if not self._clear(pfd, base, keep_dir=True):
            os.mkdir(base, 0o755, dir_fd=pfd)
        self.deferred.append((f"{parent}/{base}" if parent else base, entry))

    def _symlink(self, pfd: int, base: str, entry: Entry, _r: ChunkReader, parent: str) -> None:
        self._clear(pfd, base, keep_dir=False)
        os.symlink(entry.linkname, base, dir_fd=pfd)
        self.size += len(os.fsencode(entry.linkname))  # dockerd counts a symlink's length too
        self._chown(base, pfd, entry, _join(parent, base), symlink=True)
        self._xattrs_path(pfd, base, entry)
        os.utime(base, ns=self._times(entry), dir_fd=pfd, follow_symlinks=False)

    def _hardlink(self, pfd: int, base: str, entry: Entry, _r: ChunkReader, parent: str) -> None:
        target_parent, target = _split(entry.linkname)
        if not target:
            raise HostileLayer(f"invalid hardlink {entry.name!r} -> {entry.linkname!r}")
        tfd = self.dir_fd(target_parent, create=False)
        if (tfd, target) == (pfd, base):
            return
        try:
            st = os.stat(target, dir_fd=tfd, follow_symlinks=False)
        except FileNotFoundError:
            raise HostileLayer(
                f"invalid hardlink {entry.name!r}: target {entry.linkname!r} not in layer"
            ) from None
        if stat.S_ISDIR(st.st_mode):
            raise HostileLayer(f"invalid hardlink {entry.name!r}: target is a directory")
        self._clear(pfd, base, keep_dir=False)
        os.link(target, base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        self._link_meta(pfd, base, entry, stat.S_ISLNK(st.st_mode), _join(parent, base))

    def _link_meta(self, pfd: int, base: str, entry: Entry, is_symlink: bool, path: str) -> None:
        """dockerd applies a hardlink header's owner, xattrs, mode and times to the shared
        inode (a symlink's only gets the owner and xattrs); do the same so layers match.
        (Rootless, the record is kept even for root's owner: it overrides the target's.)"""
        self._chown(base, pfd, entry, path, symlink=is_symlink, always=True)
        self._xattrs_path(pfd, base, entry)
        if not is_symlink:  # a regular file, fifo or device we made, never a symlink: safe
            os.chmod(base, entry.mode & 0o7777, dir_fd=pfd)
            os.utime(base, ns=self._times(entry), dir_fd=pfd)

    def _special(self, pfd: int, base: str, entry: Entry, _r: ChunkReader, parent: str) -> None:
        self._clear(pfd, base, keep_dir=False)
        kind = {tarparse.CHAR: stat.S_IFCHR, tarparse.BLOCKDEV: stat.S_IFBLK,
                tarparse.FIFO: stat.S_IFIFO}[entry.type]
        try:
            os.mknod(base, kind | 0o600, os.makedev(entry.devmajor, entry.devminor), dir_fd=pfd)
        except PermissionError:
            if self.privileged or kind == stat.S_IFIFO:
                raise
            return  # rootless: device nodes cannot be made; the runtime bind-mounts /dev
        self._chown(base, pfd, entry, _join(parent, base))
        os.chmod(base, entry.mode & 0o7777, dir_fd=pfd)  # a node we just made, not a symlink
        self._xattrs_path(pfd, base, entry)
        os.utime(base, ns=self._times(entry), dir_fd=pfd)

    # -- metadata --

    @staticmethod
    def _times(entry: Entry) -> tuple[int, int]:
        atime = entry.atime_ns if entry.atime_ns is not None else entry.mtime_ns
        return atime, entry.mtime_ns

    def _chown(self, base: str, pfd: int, entry: Entry, path: str, symlink: bool = False,
               always: bool = False) -> None:
        uid, gid = self.ids.owner(path, entry.uid, entry.gid)
        if self.owners is None:
            os.chown(base, uid, gid, dir_fd=pfd, follow_symlinks=False)
        elif uid or gid or always or CAPS in entry.xattrs:
            self.owners.add(path, uid, gid, None if symlink else entry.mode & 0o7777,
                            entry.xattrs.get(CAPS))

    def _meta_fd(self, fd: int, entry: Entry, path: str) -> None:
        """Owner first (chown clears setuid bits and file capabilities), then mode, xattrs, times."""
        uid, gid = self.ids.owner(path, entry.uid, entry.gid)
        if self.owners is None:
            os.fchown(fd, uid, gid)
        elif uid or gid or CAPS in entry.xattrs:
            self.owners.add(path, uid, gid, entry.mode & 0o7777, entry.xattrs.get(CAPS))
        os.fchmod(fd, entry.mode & 0o7777)
        for key, value in self._xattrs(entry):
            os.setxattr(fd, key, value)
        os.utime(fd, ns=self._times(entry))

    def _xattrs(self, entry: Entry) -> list[tuple[str, bytes]]:
        """The xattrs set here: rootless, file capabilities wait for the helper (only root of
        a user namespace may write them; the chown there would remove them anyway)."""
        xattrs = _safe_xattrs(entry)
        return xattrs if self.owners is None else [(k, v) for k, v in xattrs if k != CAPS]

    def _xattrs_path(self, pfd: int, base: str, entry: Entry) -> None:
        for key, value in self._xattrs(entry):
            try:
                os.setxattr(f"/proc/self/fd/{pfd}/{base}", key, value, follow_symlinks=False)
            except PermissionError:
                if key.startswith("user."):
                    continue  # user.* xattrs are not allowed on symlinks and device nodes
                raise

    def finish(self) -> None:
        """Directory owners, modes and times last, so writing their children does not undo them.

        A directory listed twice gets its last entry's metadata; one replaced later by a
        non-directory is skipped. Deepest first: a directory's mode (0700, 0) may shut out a
        rootless unpack, which has no CAP_DAC_OVERRIDE, from the directories below it.
        """
        last = {rel: entry for rel, entry in self.deferred}
        for rel, entry in sorted(last.items(), key=lambda item: -_depth(item[0])):
            try:
                fd = self._open_dir(rel)
            except (HostileLayer, NotADirectoryError, FileNotFoundError):
                continue
            try:
                self._meta_fd(fd, entry, rel)
            finally:
                if fd != self.root_fd:
                    os.close(fd)

    def _open_dir(self, rel: str) -> int:
        if not rel:
            return self.root_fd
        parent_rel, _, base = rel.rpartition("/")
        try:
            return os.open(base, _DIR_FLAGS, dir_fd=self.dir_fd(parent_rel, create=False))
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise NotADirectoryError(rel) from None
            raise


def _join(parent: str, base: str) -> str:
    return f"{parent}/{base}" if parent else base


def _depth(rel: str) -> int:
    return rel.count("/") + 1 if rel else 0


def _umask() -> int:
    """The process umask, read without the racy set-and-restore dance of os.umask."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o777  # unknown: always chmod explicitly


def _safe_xattrs(entry: Entry) -> list[tuple[str, bytes]]:
    """A layer may not set overlayfs' own xattrs (redirects, opaque) through PAX records."""
    return [(k, v) for k, v in entry.xattrs.items() if not k.startswith("trusted.overlay.")]


_HANDLERS = {
    tarparse.REGULAR: _Extractor._regular,
    tarparse.DIRECTORY: _Extractor._directory,
    tarparse.SYMLINK: _Extractor._symlink,
    tarparse.HARDLINK: _Extractor._hardlink,
    tarparse.CHAR: _Extractor._special,
    tarparse.BLOCKDEV: _Extractor._special,
    tarparse.FIFO: _Extractor._special,
}


# ---- the store of snapshots ----------------------------------------------------------------


class SnapshotStore:
    """Unpacked layers keyed by chain ID, each written to a temp dir and renamed into place."""

    def __init__(self, root: Path, durable: bool = True, id_map: StoreIdMap | None = None) -> None:
        self.root = Path(root) / "snapshots"
        self.root.mkdir(parents=True, exist_ok=True)
        self.durable = durable
        self.id_map = id_map or StoreIdMap.of_process()  # the store's id map (ImageStore.id_map)

    @property
    def remap(self) -> idmap.UserNamespace | None:
        """The store's ``--userns-remap`` map (owners kept shifted), or None."""
        return self.id_map.remap

    def dir(self, chain_id: str) -> Path:
        return self.root / chain_id.removeprefix("sha256:")

    def path(self, chain_id: str) -> Path:
        """The ``fs`` directory: what overlayfs takes as a lowerdir."""
        return self.dir(chain_id) / "fs"

    def exists(self, chain_id: str) -> bool:
        return self.path(chain_id).is_dir()

    def create(self, chain_id: str, src: Readable | Iterator[bytes], expected_diff_id: str | None = None) -> UnpackResult:
        """Unpack ``src`` as snapshot ``chain_id``; verify the diff_id before it becomes visible."""
        tmp = self.root / f"tmp-{secrets.token_hex(8)}"
        (tmp / "fs").mkdir(parents=True)
        try:
            root_owner = self.id_map.root_owner()
            if root_owner is not None:  # the layer's root dir is the remapped root's, as dockerd's
                os.chown(tmp / "fs", *root_owner)
            result = unpack(src, tmp / "fs", writeback=self.durable, id_map=self.id_map)
            if expected_diff_id is not None and result.diff_id != expected_diff_id:
                raise DigestMismatch(expected_diff_id, result.diff_id)
            if result.unmapped:
                log.warning("%s", result.unmapped)
            (tmp / "meta.json").write_text(json.dumps(result.meta()))
            if self.durable:
                _sync(tmp)  # data on disk before the rename and the row that points at it
            try:
                os.rename(tmp, self.dir(chain_id))
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise  # else: a concurrent unpack of the same layer won; ours is identical
            return result
        finally:
            if tmp.exists():
                userns.remove_tree(tmp)

    def info(self, chain_id: str) -> UnpackResult | None:
        """What a complete snapshot recorded about itself, or None if there is none."""
        try:
            data = json.loads((self.dir(chain_id) / "meta.json").read_text())
            return UnpackResult(data["diff_id"], int(data["tar_size"]), int(data["size"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def remove(self, chain_id: str) -> None:
        """Rename out of sight first, so a crash mid-delete leaves only ``trash-*``."""
        trash = self.root / f"trash-{secrets.token_hex(8)}"
        try:
            os.rename(self.dir(chain_id), trash)
        except FileNotFoundError:
            return
        userns.remove_tree(trash)

    def ids(self) -> list[str]:
        return [f"sha256:{e.name}" for e in os.scandir(self.root) if len(e.name) == 64]

    def clean(self, keep: set[str]) -> list[str]:
        """Remove temp and trash dirs and every snapshot not in ``keep``; return removed IDs."""
        removed = []
        for e in os.scandir(self.root):
            if e.name.startswith(("tmp-", "trash-", "init-")):
                userns.remove_tree(e.path)
            elif f"sha256:{e.name}" not in keep:
                removed.append(f"sha256:{e.name}")
                self.remove(f"sha256:{e.name}")
        return removed


def _sync(path: Path) -> None:
    from ..linux.syscalls import syncfs

    fd = os.open(path, _DIR_FLAGS)
    try:
        syncfs(fd)
    finally:
        os.close(fd)



__all__ = ["HostileLayer", "SnapshotStore", "TarError", "UnpackResult", "chain_ids", "unpack",
           "unpack_layer"]
