"""A streaming tar reader (ustar, GNU long names, PAX) that never touches the filesystem.

Why not :mod:`tarfile`: unpacking a layer must run at ``tar -x`` speed and copy file bodies
straight from decompressed chunks to file descriptors; tarfile's per-member objects and extra
copies cost ~2× on small-file layers. The reader only parses; :mod:`.snapshots` decides what
an entry may do to the disk.
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import unquote_to_bytes

from ..errors import InvalidArgument

BLOCK = 512
REGULAR, HARDLINK, SYMLINK, CHAR, BLOCKDEV, DIRECTORY, FIFO = "0", "1", "2", "3", "4", "5", "6"
_TYPES = {"0": REGULAR, "\0": REGULAR, "7": REGULAR, "1": HARDLINK, "2": SYMLINK, "3": CHAR,
          "4": BLOCKDEV, "5": DIRECTORY, "6": FIFO}


class TarError(InvalidArgument):
    """A tar stream that is truncated, damaged or uses a feature a layer may not use."""


@dataclass
class Entry:
    name: str
    type: str
    size: int = 0
    mode: int = 0
    uid: int = 0
    gid: int = 0
    mtime_ns: int = 0
    atime_ns: int | None = None
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)


class ChunkReader:
    """Reads exact byte counts from an iterator of chunks, or copies them to a descriptor."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf: bytes = b""
        self._pos = 0
        self.offset = 0

    def _fill(self) -> bool:
        while self._pos >= len(self._buf):
            nxt = next(self._chunks, None)
            if nxt is None:
                return False
            self._buf, self._pos = nxt, 0
        return True

    def read_exact(self, n: int) -> bytes:
        """``n`` bytes, or fewer only at end of stream."""
        end = self._pos + n
        if end <= len(self._buf):
            out = self._buf[self._pos : end]
            self._pos = end
            self.offset += n
            return out
        parts = []
        while n and self._fill():
            take = min(n, len(self._buf) - self._pos)
            parts.append(self._buf[self._pos : self._pos + take])
            self._pos += take
            self.offset += take
            n -= take
        return b"".join(parts)

    def write_to(self, fd: int, n: int) -> None:
        """Copy the next ``n`` bytes to ``fd`` without an intermediate copy."""
        while n:
            if not self._fill():
                raise TarError("unexpected EOF in tar stream (truncated)")
            take = min(n, len(self._buf) - self._pos)
            view = memoryview(self._buf)[self._pos : self._pos + take]
            while view:
                view = view[os.write(fd, view) :]
            self._pos += take
            self.offset += take
            n -= take

    def skip(self, n: int) -> None:
        while n:
            if not self._fill():
                raise TarError("unexpected EOF in tar stream (truncated)")
            take = min(n, len(self._buf) - self._pos)
            self._pos += take
            self.offset += take
            n -= take

    def drain(self) -> None:
        """Consume what follows the end-of-archive marker (it still counts for the diff_id)."""
        while self._fill():
            self.offset += len(self._buf) - self._pos
            self._pos = len(self._buf)


def _number(field_: bytes) -> int:
    try:
        return int(field_.strip(b"\0 "), 8)  # the common case, fast
    except ValueError:
        pass
    if not field_.strip(b"\0 "):
        return 0
    if field_[0] & 0x80:  # GNU base-256 for values that do not fit in octal
        value = int.from_bytes(field_[1:], "big")
        return -value if field_[0] == 0xFF else value
    text = field_.rstrip(b"\0 ").lstrip(b" ")
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise TarError(f"invalid tar header: bad numeric field {field_!r}") from None


def _text(field_: bytes) -> str:
    return field_.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _checksum_ok(block: bytes, stored: int) -> bool:
    unsigned = sum(block) - sum(block[148:156]) + 256  # the checksum field counts as spaces
    if stored == unsigned:
        return True
    high = sum(b for i, b in enumerate(block) if b > 127 and not 148 <= i < 156)
    return stored == unsigned - 2 * high  # some old tars summed signed chars


def _pax_records(data: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            raise TarError("invalid PAX header")
        try:
            length = int(data[pos:space])
        except ValueError:
            raise TarError("invalid PAX header") from None
        record = data[space + 1 : pos + length]
        if length <= 0 or not record.endswith(b"\n") or b"=" not in record:
            raise TarError("invalid PAX header")
        key, _, value = record[:-1].partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = value
        pos += length
    return out


def _pax_time(value: bytes) -> int:
    try:
        return int(Decimal(value.decode()) * 1_000_000_000)
    except (InvalidOperation, UnicodeDecodeError):
        raise TarError(f"invalid PAX time {value!r}") from None


def _apply_pax(entry: Entry, pax: dict[str, bytes]) -> None:
    for key, value in pax.items():
        if key == "path":
            entry.name = value.decode("utf-8", "surrogateescape")
        elif key == "linkpath":
            entry.linkname = value.decode("utf-8", "surrogateescape")
        elif key in ("size", "uid", "gid"):
            setattr(entry, key, int(value))
        elif key == "mtime":
            entry.mtime_ns = _pax_time(value)
        elif key == "atime":
            entry.atime_ns = _pax_time(value)
        elif key.startswith("SCHILY.xattr."):
            entry.xattrs[key[len("SCHILY.xattr.") :]] = value
        elif key.startswith("LIBARCHIVE.xattr."):
            name = unquote_to_bytes(key[len("LIBARCHIVE.xattr.") :]).decode("utf-8", "surrogateescape")
            entry.xattrs[name] = base64.b64decode(value + b"==")
        elif key.startswith("GNU.sparse."):
            raise TarError("sparse files are not supported in layers")


# name mode uid gid size mtime chksum type linkname magic+version uname gname major minor prefix
_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s8s32s32s8s8s155s12x")


def _parse_header(block: bytes) -> Entry:
    (name, mode, uid, gid, size, mtime, chksum, typeflag, linkname, magic, _u, _g, major, minor,
     prefix) = _HEADER.unpack(block)
    if not _checksum_ok(block, _number(chksum)):
        raise TarError("invalid tar header: checksum mismatch")
    path = _text(name)
    if magic[:6] == b"ustar\0" and prefix[0]:
        path = _text(prefix) + "/" + path
    kind = typeflag.decode("latin-1")
    entry = Entry(
        name=path, type=kind, size=_number(size), mode=_number(mode), uid=_number(uid),
        gid=_number(gid), mtime_ns=_number(mtime) * 1_000_000_000,
        linkname=_text(linkname) if linkname[0] else "",
    )
    if kind in ("3", "4"):  # only device nodes carry meaningful numbers here
        entry.devmajor, entry.devminor = _number(major), _number(minor)
    return entry


def entries(reader: ChunkReader) -> Iterator[Entry]:
    """Yield each member; the consumer may read up to ``entry.size`` bytes before resuming."""
    global_pax: dict[str, bytes] = {}
    pax: dict[str, bytes] = {}
    long_name: str | None = None
    long_link: str | None = None
    while True:
        block = reader.read_exact(BLOCK)
        if len(block) < BLOCK:
            raise TarError("unexpected EOF in tar stream (truncated)")
        if block.count(0) == BLOCK:
            return
        entry = _parse_header(block)
        if entry.type in ("x", "g", "L", "K"):
            if entry.size > 16 << 20:
                raise TarError("tar extension header too large")
            data = reader.read_exact((entry.size + BLOCK - 1) // BLOCK * BLOCK)[: entry.size]
            if len(data) < entry.size:
                raise TarError("unexpected EOF in tar stream (truncated)")
            if entry.type == "x":
                pax = _pax_records(data)
            elif entry.type == "g":
                global_pax.update(_pax_records(data))
            elif entry.type == "L":
                long_name = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            else:
                long_link = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            continue
        if entry.type not in _TYPES:
            raise TarError(f"unsupported tar entry type {entry.type!r} for {entry.name!r}")
        old_style_dir = entry.type == "\0" and entry.name.endswith("/")  # V7 tars mark dirs so
        entry.type = DIRECTORY if old_style_dir else _TYPES[entry.type]
        if long_name is not None:
            entry.name = long_name
        if long_link is not None:
            entry.linkname = long_link
        _apply_pax(entry, {**global_pax, **pax})
        if entry.type != REGULAR:
            entry.size = 0  # header-only types carry no data, whatever the size field says
        pax, long_name, long_link = {}, None, None
        start = reader.offset
        yield entry
        reader.skip(start + (entry.size + BLOCK - 1) // BLOCK * BLOCK - reader.offset)
