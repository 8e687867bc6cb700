"""Layer diffs: what changed in an overlay upper dir, as ``docker diff`` shows it and as an OCI
layer tar a build step or ``docker commit`` stores.

An upper dir already *is* the diff: overlayfs copies up changed files (and their parent dirs),
marks deletions with 0:0 character devices and replaced directories with the
``trusted.overlay.opaque=y`` xattr (``user.overlay.opaque`` when rootless). :func:`layer_tar`
turns that into tar entries with OCI whiteouts (``.wh.NAME``, ``DIR/.wh..wh..opq``): sorted
by path, owner/mode/xattrs/hardlinks/symlinks kept, mtimes kept (whole seconds, USTAR where
it fits and PAX records where not), so the same upper dir always gives the same diff_id.
A rootless daemon's upper dirs hold host ids (its own uid for the container's root, its
subordinate ids for the others), and so do a ``--userns-remap`` root daemon's (its remapped
range): the tar carries the container's ids, through the inverse of the store's id map
(:class:`~dockyard.store.owners.StoreIdMap`; an id outside it becomes 65534, as the kernel shows it).

:func:`commit_upper` streams the tar into the content store (uncompressed: blob digest =
diff_id, compressed when pushed) and then *adopts* the upper dir as the layer's snapshot,
instead of unpacking the tar again: the upper dir is moved to ``snapshots/<chainID>`` with the
``meta.json`` a complete snapshot carries (see :mod:`dockyard.store.snapshots`). For that the
upper dir must live on the snapshots filesystem: get one from :func:`scratch_dir`.
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import shutil
import stat
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..oci import mediatypes as mt
from .content import ContentStore
from .owners import IdMaps, StoreIdMap, container_id
from .snapshots import OPAQUE, WHITEOUT_PREFIX, SnapshotStore, UnpackResult

T = TypeVar("T")
MODIFIED, ADDED, DELETED = 0, 1, 2
_OPAQUE_KEYS = ("trusted.overlay.opaque", "user.overlay.opaque")
_BLOCK = 512


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    for key in _OPAQUE_KEYS:
        try:
            if os.getxattr(path, key, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def walk(root: str, rel: str = "") -> Iterator[tuple[str, os.stat_result]]:
    """Every entry below ``root`` as (relative path, lstat), sorted, parents before children."""
    base = os.path.join(root, rel) if rel else root
    with os.scandir(base) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        path = f"{rel}/{entry.name}" if rel else entry.name
        st = entry.stat(follow_symlinks=False)
        yield path, st
        if stat.S_ISDIR(st.st_mode):
            yield from walk(root, path)


def _in_lowers(lower_dirs: list[str], rel: str) -> bool:
    """Whether ``rel`` exists in the merged lower layers (top down; a whiteout hides it)."""
    for layer in reversed(lower_dirs):
        try:
            st = os.lstat(os.path.join(layer, rel))
        except (FileNotFoundError, NotADirectoryError):
            continue
        return not is_whiteout(st)
    return False


def as_owner(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, again in the user namespace helper if a rootless daemon may not read a
    directory its containers made (0750 of the container's 1000, say); in there the
    container's root reads everything, and lstat gives the container's ids. ``fn`` raises
    PermissionError where it was refused; run again in the helper it sees euid 0."""
    try:
        return fn(*args)
    except PermissionError:
        if os.geteuid() == 0:
            raise
    from ..linux import userns

    return userns.call(fn, *args)


def changes(lower_dirs: Iterable[str | Path], upper_dir: str | Path) -> list[dict[str, Any]]:
    """``docker diff``: ``[{"Path": "/etc", "Kind": 0|1|2}]`` (modified, added, deleted)."""
    return as_owner(_changes, [str(d) for d in lower_dirs], str(upper_dir))


def _changes(lower_dirs: list[str], upper_dir: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for rel, st in walk(upper_dir):
        if is_whiteout(st):
            kind = DELETED
        else:
            kind = MODIFIED if _in_lowers(lower_dirs, rel) else ADDED
        out.append({"Path": "/" + rel, "Kind": kind})
    return out


# ---- the layer tar ---------------------------------------------------------------------------


def _xattrs(path: str) -> dict[str, str]:
    """Xattrs a layer carries (overlayfs' own are its bookkeeping, not content)."""
    try:
        keys = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for key in sorted(keys):
        if key.startswith(("trusted.overlay.", "user.overlay.")):
            continue
        try:
            value = os.getxattr(path, key, follow_symlinks=False)
        except OSError:
            continue
        out["SCHILY.xattr." + key] = value.decode("utf-8", "surrogateescape")
    return out


def _header(name: str, st: os.stat_result, kind: bytes, path: str | None,
            linkname: str = "", size: int = 0) -> bytes:
    xattrs = _xattrs(path) if path is not None else {}
    if not xattrs:
        fast = _ustar(name, st, kind, linkname, size)
        if fast is not None:
            return fast
    return _pax_header(name, st, kind, xattrs, linkname, size)


def _octal(value: int, width: int) -> bytes | None:
    text = b"%o" % value
    if len(text) >= width:
        return None
    return text.rjust(width - 1, b"0") + b"\0"


def _ustar(name: str, st: os.stat_result, kind: bytes, linkname: str, size: int) -> bytes | None:
    """A plain USTAR header (what tarfile writes when no PAX record is needed), built directly:
    most entries qualify, and tarfile's generic path costs ~60 µs per entry."""
    raw_name = name.encode("utf-8", "surrogateescape")
    raw_link = linkname.encode("utf-8", "surrogateescape")
    if (len(raw_name) > 100 or len(raw_link) > 100 or not raw_name.isascii()
            or not raw_link.isascii() or kind in (tarfile.CHRTYPE, tarfile.BLKTYPE)):
        return None
    fields = [_octal(stat.S_IMODE(st.st_mode), 8), _octal(st.st_uid, 8), _octal(st.st_gid, 8),
              _octal(size, 12), _octal(max(int(st.st_mtime), 0), 12)]
    if any(f is None for f in fields):
        return None
    mode, uid, gid, size_f, mtime = fields
    block = bytearray(512)
    block[0:len(raw_name)] = raw_name
    block[100:108], block[108:116], block[116:124] = mode, uid, gid  # type: ignore[assignment]
    block[124:136], block[136:148] = size_f, mtime  # type: ignore[assignment]
    block[148:156] = b" " * 8
    block[156:157] = kind
    block[157:157 + len(raw_link)] = raw_link
    block[257:265] = b"ustar\x0000"
    block[148:155] = b"%06o\0" % sum(block)
    return bytes(block)


def _pax_header(name: str, st: os.stat_result, kind: bytes, xattrs: dict[str, str],
                linkname: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.mtime = int(st.st_mtime)
    info.size = size
    info.linkname = linkname
    info.uname = info.gname = ""
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    info.pax_headers = xattrs
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


class _Owned:
    """A stat result with the container's owner in place of the host's (what headers read)."""

    __slots__ = ("st_dev", "st_gid", "st_ino", "st_mode", "st_mtime", "st_nlink", "st_rdev",
                 "st_size", "st_uid")

    def __init__(self, st: os.stat_result, uid: int, gid: int) -> None:
        self.st_mode, self.st_mtime, self.st_rdev = st.st_mode, st.st_mtime, st.st_rdev
        self.st_dev, self.st_ino, self.st_nlink, self.st_size = st.st_dev, st.st_ino, st.st_nlink, st.st_size
        self.st_uid, self.st_gid = uid, gid


def _read_maps(id_map: StoreIdMap | None) -> IdMaps | None:
    return (id_map or StoreIdMap.of_process()).read_maps()


class _Writer:
    """Yields the tar's bytes; tracks hardlinks and the unpacked size (dockerd's rules)."""

    def __init__(self, root: str, maps: IdMaps | None = None,
                 exclude: frozenset[str] = frozenset()) -> None:
        self.root = root
        self.links: dict[tuple[int, int], str] = {}
        self.fs_size = 0
        self.maps = maps
        self.exclude = exclude

    def entries(self) -> Iterator[bytes]:
        for rel, st in walk(self.root):
            if rel in self.exclude:
                continue
            if self.maps is not None:
                st = _Owned(st, container_id(self.maps[0], st.st_uid),  # type: ignore[assignment]
                            container_id(self.maps[1], st.st_gid))
            yield from self.entry(rel, st)
        yield b"\0" * (_BLOCK * 2)

    def entry(self, rel: str, st: os.stat_result) -> Iterator[bytes]:
        path = os.path.join(self.root, rel)
        mode = st.st_mode
        if is_whiteout(st):
            parent, _, base = rel.rpartition("/")
            name = f"{parent}/{WHITEOUT_PREFIX}{base}" if parent else WHITEOUT_PREFIX + base
            marker = _Owned(st, st.st_uid, st.st_gid)
            marker.st_mode = stat.S_IFREG | 0o600  # as dockerd's overlay2 writes it
            yield _header(name, marker, tarfile.REGTYPE, None)  # type: ignore[arg-type]
        elif stat.S_ISDIR(mode):
            yield _header(rel + "/", st, tarfile.DIRTYPE, path)
            if is_opaque(path):
                yield _header(f"{rel}/{OPAQUE}", st, tarfile.REGTYPE, None)
        elif stat.S_ISLNK(mode):
            target = os.readlink(path)
            self.fs_size += len(os.fsencode(target))
            yield _header(rel, st, tarfile.SYMTYPE, path, linkname=target)
        elif stat.S_ISREG(mode):
            yield from self.regular(rel, path, st)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
            kind = tarfile.CHRTYPE if stat.S_ISCHR(mode) else (
                tarfile.BLKTYPE if stat.S_ISBLK(mode) else tarfile.FIFOTYPE)
            yield _header(rel, st, kind, path)
        # sockets are not layer content (dockerd skips them too)

    def regular(self, rel: str, path: str, st: os.stat_result) -> Iterator[bytes]:
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1:
            first = self.links.get(key)
            if first is not None:
                yield _header(rel, st, tarfile.LNKTYPE, path, linkname=first)
                return
            self.links[key] = rel
        self.fs_size += st.st_size
        yield _header(rel, st, tarfile.REGTYPE, path, size=st.st_size)
        yield from _file_blocks(path, st.st_size)


def _file_blocks(path: str, size: int) -> Iterator[bytes]:
    """The file's bytes padded to 512; exactly ``size`` bytes even if it changed meanwhile."""
    left = size
    with open(path, "rb", buffering=0) as f:
        while left > 0:
            chunk = f.read(min(left, 1 << 20))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    if left > 0:
        yield b"\0" * left
    pad = -size % _BLOCK
    if pad:
        yield b"\0" * pad


class _IterReader(io.RawIOBase):
    """A file-like view of a bytes iterator (what the content store reads from)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self.chunks = chunks
        self.buf = b""

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1, /) -> bytes:
        """Up to ``n`` bytes, gathered from several chunks (fewer writes and hash calls)."""
        parts, have = [self.buf] if self.buf else [], len(self.buf)
        while n < 0 or have < n:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        if n < 0 or len(data) <= n:
            self.buf = b""
            return data
        self.buf = data[n:]
        return data[:n]


def layer_tar(upper_dir: str | Path, id_map: StoreIdMap | None = None) -> Iterator[bytes]:
    """The OCI layer tar of an upper dir, as a stream of chunks (owners mapped back to the
    container's ids through ``id_map``, the store's id map; default: this process's)."""
    return _Writer(str(upper_dir), _read_maps(id_map)).entries()


# ---- storing a layer -------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    diff_id: str
    blob_digest: str
    media_type: str
    tar_size: int
    size: int  # unpacked bytes, as dockerd counts a layer


def write_layer(content: ContentStore, upper_dir: str | Path, exclude: Iterable[str] = (),
                id_map: StoreIdMap | None = None) -> Layer:
    """Stream the upper dir's layer tar into the content store (uncompressed); ``exclude``:
    paths relative to the upper dir left out (a container's runtime files, for a commit);
    ``id_map``: the store's id map, whose on-disk ids the tar gives back as the container's
    (default: this process's)."""
    return as_owner(_write_layer, content, str(upper_dir), sorted(exclude),
                    id_map or StoreIdMap.of_process())


def _write_layer(content: ContentStore, upper_dir: str, exclude: list[str] | None = None,
                 id_map: StoreIdMap | None = None) -> Layer:
    writer = _Writer(upper_dir, _read_maps(id_map), frozenset(exclude or ()))
    digest, written = content.write(_IterReader(writer.entries()))
    return Layer(digest, digest, mt.OCI_LAYER, written, writer.fs_size)


def layer_from_upper(upper_dir: str | Path, lower_dirs: Iterable[str | Path] = (),
                     content: ContentStore | None = None,
                     id_map: StoreIdMap | None = None) -> tuple[Iterator[bytes] | Layer, str, int]:
    """The contract's entry point: with ``content`` the layer is stored and described
    (``(Layer, diff_id, tar size)``); without, the tar stream is returned unhashed
    (``(chunks, "", 0)``). ``lower_dirs`` is unused: an upper dir is self-contained."""
    if content is None:
        return layer_tar(upper_dir, id_map), "", 0
    layer = write_layer(content, upper_dir, id_map=id_map)
    return layer, layer.diff_id, layer.tar_size


def scratch_dir(snapshots: SnapshotStore) -> Path:
    """A ``tmp-*`` dir on the snapshots filesystem (removed by the store's crash recovery)
    with ``fs`` (the upper dir), ``work`` and ``merged`` inside."""
    path = snapshots.root / f"tmp-{secrets.token_hex(8)}"
    for sub in ("fs", "work", "merged"):
        (path / sub).mkdir(parents=True)
    root_owner = snapshots.id_map.root_owner()
    if root_owner is not None:  # the container's "/" is its remapped root's
        os.chown(path / "fs", *root_owner)
    return path


def _strip_overlay_xattrs(root: str) -> None:
    """Copy-up leaves origin/impure markers meant for the upper layer only; as a lower layer
    the snapshot keeps just the opaque marker, like an unpacked one."""
    for rel, st in [("", os.lstat(root)), *walk(root)]:
        if stat.S_ISLNK(st.st_mode) or is_whiteout(st):
            continue
        path = os.path.join(root, rel) if rel else root
        try:
            keys = os.listxattr(path, follow_symlinks=False)
        except OSError:
            continue
        for key in keys:
            if key.startswith("trusted.overlay.") and key != "trusted.overlay.opaque":
                os.removexattr(path, key, follow_symlinks=False)


def adopt_snapshot(snapshots: SnapshotStore, scratch: Path, chain_id: str, layer: Layer) -> None:
    """Make ``scratch/fs`` the snapshot of ``chain_id`` (or drop it if one exists already)."""
    import json

    from .snapshots import _sync

    for sub in ("work", "merged"):
        shutil.rmtree(scratch / sub, ignore_errors=True)
    as_owner(_strip_overlay_xattrs, str(scratch / "fs"))
    info = UnpackResult(layer.diff_id, layer.tar_size, layer.size)
    (scratch / "meta.json").write_text(json.dumps(info.meta()))
    if snapshots.durable:
        _sync(scratch)
    try:
        os.rename(scratch, snapshots.dir(chain_id))
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
        shutil.rmtree(scratch, ignore_errors=True)  # the same layer exists already


__all__ = [
    "ADDED",
    "DELETED",
    "MODIFIED",
    "Layer",
    "adopt_snapshot",
    "as_owner",
    "changes",
    "is_whiteout",
    "layer_from_upper",
    "layer_tar",
    "scratch_dir",
    "walk",
    "write_layer",
]
