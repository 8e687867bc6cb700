"""Tar headers as Go's ``archive/tar`` Writer packs moby's ``pkg/archive`` headers: the bytes of
``docker cp CONTAINER:PATH -`` and ``docker export`` as dockerd 20.10 sends them.

What moby's ``FileInfoHeader`` gives the writer: the mode with its file type bits (``st_mode``
whole: ``0100644``, ``040755``, ``0120777``…, a hard link's its file's), the mtime truncated to
seconds, no access or change time, user and group *names* looked up by id (in the container's
``/etc/passwd`` and ``/etc/group``: its tar runs chrooted there), device numbers, the
``security.capability`` xattr. ``Format`` is PAX, which lets the writer use USTAR whenever
nothing needs a record: a long name is split into prefix and name if it can be; otherwise (or for
an id, size or time past the octal fields, a long link or user name, a non-ASCII string, an
xattr) a ``PaxHeaders.0/<base>`` record file, keys sorted, precedes a header holding what fits.
The stream ends with two zero blocks, no padding to a record size.

Image layers are not written here: their digests are the store's (``store/diff.py``).
"""

from __future__ import annotations

import posixpath
import stat
from typing import Final

BLOCK: Final = 512
END: Final = b"\0" * (2 * BLOCK)

_NAME, _PREFIX, _LINK, _USER = 100, 155, 100, 32
_MAX_ID, _MAX_SIZE, _MAX_TIME = 0o7777777, 0o77777777777, 0o77777777777

_TYPES: Final = {stat.S_IFREG: b"0", stat.S_IFDIR: b"5", stat.S_IFLNK: b"2",
                 stat.S_IFCHR: b"3", stat.S_IFBLK: b"4", stat.S_IFIFO: b"6"}


class Entry:
    """One header's fields, as moby fills Go's ``tar.Header`` (names and links as bytes)."""

    def __init__(self, name: bytes, st_mode: int, uid: int, gid: int, size: int, mtime: int,
                 linkname: bytes = b"", hardlink: bool = False, uname: bytes = b"", gname: bytes = b"",
                 devmajor: int = 0, devminor: int = 0, xattrs: dict[str, bytes] | None = None) -> None:
        self.name, self.mode, self.uid, self.gid = name, st_mode, uid, gid
        self.size, self.mtime, self.linkname = size, mtime, linkname
        self.typeflag = b"1" if hardlink else _TYPES[stat.S_IFMT(st_mode)]
        self.uname, self.gname = uname, gname
        self.devmajor, self.devminor = devmajor, devminor
        self.xattrs = xattrs or {}


def header(entry: Entry) -> bytes:
    """The header block(s) of one entry: a PAX record file first when USTAR cannot hold it."""
    records = _records(entry)
    if not records or records.keys() == {b"path"} and _split(entry.name) is not None:
        return _ustar(entry)
    data = b"".join(_record(key, value) for key, value in sorted(records.items()))
    directory, base = posixpath.split(entry.name)
    joined = posixpath.normpath(posixpath.join(directory, b"PaxHeaders.0", base))  # Go: path.Join
    pax_name = _ascii(joined)[:_NAME].rstrip(b"/")
    raw = _block(pax_name, 0, 0, 0, len(data), 0, b"x", b"", b"", b"", None, None, b"")
    return raw + _padded(data) + _pax_main(entry)


def padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def _records(entry: Entry) -> dict[bytes, bytes]:
    """Go's ``Header.allowedFormats``: what USTAR cannot encode, as PAX records (a long name
    that splits needs none unless another record makes it PAX)."""
    out: dict[bytes, bytes] = {}
    if len(entry.name) > _NAME or not entry.name.isascii():
        out[b"path"] = entry.name
    if len(entry.linkname) > _LINK or not entry.linkname.isascii():
        out[b"linkpath"] = entry.linkname
    for key, text in ((b"uname", entry.uname), (b"gname", entry.gname)):
        if len(text) > _USER or not text.isascii():
            out[key] = text
    for key, number, top in ((b"uid", entry.uid, _MAX_ID), (b"gid", entry.gid, _MAX_ID),
                             (b"size", entry.size, _MAX_SIZE)):
        if not 0 <= number <= top:
            out[key] = str(number).encode()
    if not 0 <= entry.mtime <= _MAX_TIME:
        out[b"mtime"] = str(entry.mtime).encode()
    for xattr, value in entry.xattrs.items():
        out[b"SCHILY.xattr." + xattr.encode()] = value
    return out


def _record(key: bytes, value: bytes) -> bytes:
    size = len(key) + len(value) + 3
    size += len(str(size))
    line = b"%d %s=%s\n" % (size, key, value)
    if len(line) != size:
        line = b"%d %s=%s\n" % (len(line), key, value)
    return line


def _split(name: bytes) -> tuple[bytes, bytes] | None:
    """Go's ``splitUSTARPath``."""
    length = len(name)
    if length <= _NAME or not name.isascii():
        return None
    if length > _PREFIX + 1:
        length = _PREFIX + 1
    elif name[length - 1:length] == b"/":
        length -= 1
    i = name.rfind(b"/", 0, length)
    suffix = len(name) - i - 1
    if i <= 0 or suffix > _NAME or suffix == 0 or i > _PREFIX:
        return None
    return name[:i], name[i + 1:]


def _ustar(entry: Entry) -> bytes:
    prefix, name = _split(entry.name) or (b"", entry.name)
    return _block(name, entry.mode, entry.uid, entry.gid, entry.size, entry.mtime, entry.typeflag,
                  entry.linkname, entry.uname, entry.gname, entry.devmajor, entry.devminor, prefix)


def _pax_main(entry: Entry) -> bytes:
    """The header after the records: what fits, strings as ASCII, numbers that do not fit 0."""
    def fit(number: int, top: int) -> int:
        return number if 0 <= number <= top else 0
    return _block(_ascii(entry.name), entry.mode, fit(entry.uid, _MAX_ID), fit(entry.gid, _MAX_ID),
                  fit(entry.size, _MAX_SIZE), fit(entry.mtime, _MAX_TIME), entry.typeflag,
                  _ascii(entry.linkname), _ascii(entry.uname), _ascii(entry.gname),
                  entry.devmajor, entry.devminor, b"")


def _block(name: bytes, mode: int, uid: int, gid: int, size: int, mtime: int, typeflag: bytes,
           linkname: bytes, uname: bytes, gname: bytes, devmajor: int | None,
           devminor: int | None, prefix: bytes) -> bytes:
    """One 512-byte header in Go's layout (``devmajor`` None: left empty, as a record file's)."""
    block = bytearray(BLOCK)
    _string(block, 0, _NAME, name)
    for offset, width, number in ((100, 8, mode), (108, 8, uid), (116, 8, gid),
                                  (124, 12, size), (136, 12, mtime)):
        _octal(block, offset, width, number)
    block[156:157] = typeflag
    _string(block, 157, _LINK, linkname)
    block[257:265] = b"ustar\x0000"
    _string(block, 265, _USER, uname)
    _string(block, 297, _USER, gname)
    if devmajor is not None and devminor is not None:
        _octal(block, 329, 8, devmajor)
        _octal(block, 337, 8, devminor)
    _string(block, 345, _PREFIX, prefix)
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def _string(block: bytearray, offset: int, width: int, text: bytes) -> None:
    """Go's ``formatString``: truncated to the field, NUL-terminated when shorter; a truncated
    one ending in a slash gets a NUL after its last non-slash byte."""
    field = text[:width]
    block[offset:offset + len(field)] = field
    if len(text) > width and field.endswith(b"/"):
        block[offset + len(field[:-1].rstrip(b"/"))] = 0


def _octal(block: bytearray, offset: int, width: int, number: int) -> None:
    block[offset:offset + width] = b"%0*o\0" % (width - 1, number)


def _ascii(text: bytes) -> bytes:
    """Go's ``toASCII``: bytes outside ASCII (and NULs) left out."""
    return bytes(c for c in text if 0 < c < 0x80)


def _padded(data: bytes) -> bytes:
    return data + padding(len(data))
