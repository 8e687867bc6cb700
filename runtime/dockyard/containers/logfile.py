"""A container's rotated json-file log on disk: the shim's writer and the reader's view of the
file set, as dockerd's ``loggerutils.LogFile`` (``--log-opt max-size/max-file/compress``)::

    <id>-json.log           the live file: the shim appends to it
    <id>-json.log.1[.gz]    the newest rotated file (gzip with ``compress``) …
    <id>-json.log.N-1[.gz]  … the oldest: with ``max-file=N`` the next rotation drops it

A write rotates first when the live file holds ``max-size`` bytes or more (so a file ends at
most one entry over): ``.N-2`` → ``.N-1`` … ``.1`` → ``.2``, the live file → ``.1``, a new live
file. With ``max-file=1`` the live file still becomes ``.1`` (dockerd 20.10 does so), which
nobody reads. ``compress`` then gzips ``.1`` into ``.1.gz`` in the background (a header
``Extra`` of ``{"lastTime": …}`` as dockerd's) and removes ``.1``. The ``local`` driver keeps the same files
here (its own are binary) and counts each entry at the size of its binary framing, so it
rotates where dockerd's would and ``docker logs`` shows the same lines.

The renames and the new live file happen under an exclusive ``flock`` of the container's
directory; a reader takes it shared to open the whole set at once (live file first), so it
never sees one file twice or misses one. Only rotating containers pay for any of this: the
shim imports this module only when the log rotates.
"""

from __future__ import annotations

import fcntl
import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Self

PIECE = 16 * 1024
"""dockerd's copier buffer: a line longer than this is logged as pieces of this size (the last
with the line's ``\\n``), which ``--tail`` counts and ``-t``/``--details`` prefix each."""
_LOCAL_FIXED = 27
"""The ``local`` driver's framing of one entry: a 4-byte length before and after a protobuf
``LogEntry`` of source (8 bytes), a nanosecond time (10) and the line's tag (1) and length."""


def _varint_len(n: int) -> int:
    size = 1
    while n >= 0x80:
        n >>= 7
        size += 1
    return size


def local_size(payload: bytes) -> int:
    """What ``payload`` (a line with its ``\\n``, or a piece) costs in a ``local`` log file."""
    n = len(payload) - payload.endswith(b"\n")
    return _LOCAL_FIXED + _varint_len(n) + n


def go_time(stamp: str) -> str:
    """json-file's fixed nine-digit time as Go's RFC 3339 (nano) prints a ``time.Time``: the
    fraction without trailing zeros (for the gzip header's ``lastTime``)."""
    main, _, frac = stamp.rstrip("Z").partition(".")
    frac = frac.rstrip("0")
    return f"{main}.{frac}Z" if frac else f"{main}Z"


def gzip_bytes(data: bytes, last_time: str) -> bytes:
    """gzip as dockerd's ``compressFile`` writes it: no name, mtime 0, unknown OS, and the
    last entry's time in the header's ``Extra`` (which its reader uses to skip old files)."""
    import struct
    import zlib
    extra = json.dumps({"lastTime": last_time}, separators=(",", ":")).encode()
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = packer.compress(data) + packer.flush()
    return (b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff" + struct.pack("<H", len(extra)) + extra
            + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF))


class RotatingLog:
    """The shim's json-file writer when ``max-size`` is set: ``fd`` stays the live file's
    descriptor number across rotations (``dup2``), so the shim's state never changes."""

    def __init__(self, fd: int, path: str, rotation: list[int]) -> None:
        self.fd, self.path = fd, path
        self.max_size, self.max_files, compress, local = rotation
        self.compress, self.local = bool(compress), bool(local)
        self.size = os.fstat(fd).st_size  # a restarted container appends to its last file
        self.last = ""                    # the last entry's time, for the gzip header

    def write(self, stream: str, entries: list[bytes], stamp: str) -> None:
        """``entries`` (lines and pieces) at time ``stamp``, rotating before any entry that
        finds the live file full, as dockerd checks before each write."""
        pending: list[bytes] = []
        for entry in entries:
            if self.size >= self.max_size:
                self._flush(pending)
                self.rotate()
            line = (json.dumps({"log": entry.decode("utf-8", "replace"), "stream": stream,
                                "time": stamp}, separators=(",", ":")) + "\n").encode()
            pending.append(line)
            self.size += local_size(entry) if self.local else len(line)
            self.last = stamp
        self._flush(pending)

    def _flush(self, lines: list[bytes]) -> None:
        if lines:
            os.write(self.fd, b"".join(lines))
            lines.clear()

    def settle(self) -> None:
        """Wait for the last rotated file's gzip (the shim's last act: a removal of the
        container must not race it)."""
        if self.compress:
            wait_for_gzip(f"{self.path}.1")

    def rotate(self) -> None:
        ext = ".gz" if self.compress else ""
        if self.compress:
            wait_for_gzip(f"{self.path}.1")
        with locked(os.path.dirname(self.path), fcntl.LOCK_EX):
            if self.max_files >= 2:
                _gone(f"{self.path}.{self.max_files - 1}{ext}")
                for i in range(self.max_files - 1, 1, -1):
                    _rename(f"{self.path}.{i - 1}{ext}", f"{self.path}.{i}{ext}")
            _rename(self.path, f"{self.path}.1")
            fresh = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND
                            | os.O_CLOEXEC, 0o640)
            os.dup2(fresh, self.fd, inheritable=os.get_inheritable(self.fd))
            os.close(fresh)
        self.size = 0
        if self.compress and self.max_files >= 2:
            gzip_behind(f"{self.path}.1", go_time(self.last))


def wait_for_gzip(name: str) -> None:
    """The last rotation's ``.1`` must be gzipped before it moves on (dockerd's rotation waits
    the same way): its compressor holds a lock on it until ``.1.gz`` is whole."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    finally:
        os.close(fd)


def gzip_behind(name: str, last_time: str) -> None:
    """``name`` → ``name.gz`` in a process of its own, as dockerd compresses in the background:
    the shim goes on pumping output (gzip costs 6–65 ms per MiB here). The lock is taken
    before the fork, so the next rotation cannot miss it; ``.1`` goes once ``.1.gz`` is whole,
    so a reader finds one or the other complete. Forked twice: nobody has to reap it."""
    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_EX)
    pid = os.fork()
    if pid == 0:  # pragma: no cover — a child's life
        code = 1
        try:
            if os.fork() == 0:
                os.closerange(3, fd)  # no socket, namespace or mount of the shim's held here
                os.closerange(fd + 1, 1 << 16)
                _gzip_file(fd, name, last_time)
            code = 0
        finally:
            os._exit(code)
    os.close(fd)
    os.waitpid(pid, 0)


def _gzip_file(fd: int, name: str, last_time: str) -> None:
    with os.fdopen(fd, "rb", closefd=False) as f:
        data = gzip_bytes(f.read(), last_time)
    out = os.open(name + ".gz", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(out, view):]
    finally:
        os.close(out)
    _gone(name)


def _gone(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass


def _rename(src: str, dst: str) -> None:
    try:
        os.rename(src, dst)
    except FileNotFoundError:
        pass


class locked:
    """``flock`` of a directory for the ``with`` block (see the module's docstring)."""

    def __init__(self, directory: str, how: int) -> None:
        self.fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.how = how

    def __enter__(self) -> Self:
        fcntl.flock(self.fd, self.how)
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # the lock goes with it


# ---- the reader's side ---------------------------------------------------------------------


def open_live(path: str) -> BinaryIO | None:
    try:
        return open(path, "rb", buffering=0)
    except FileNotFoundError:
        return None


def open_set(path: str, rotated: int) -> tuple[BinaryIO | None, list[BinaryIO]]:
    """The live file and up to ``rotated`` rotated files (oldest first), opened together
    under the directory's lock (a rotation waits meanwhile) and read after it: descriptors
    keep the files whatever their names become. ``contents`` reads (and closes) one."""
    with locked(os.path.dirname(path), fcntl.LOCK_SH):
        live = open_live(path)
        held = [f for k in range(rotated, 0, -1) if (f := open_rotated(path, k))]
    return live, held


def open_rotated(path: str, k: int) -> BinaryIO | None:
    """``.k`` or else ``.k.gz``, as dockerd looks (a compressor removes ``.k`` only once
    ``.k.gz`` is whole), or None when neither exists."""
    for name in (f"{path}.{k}", f"{path}.{k}.gz"):
        try:
            return open(name, "rb")
        except FileNotFoundError:
            pass
    return None


def contents(f: BinaryIO) -> bytes:
    """A rotated file's json lines (gunzipped), and the file closed."""
    with f:
        data = f.read()
    if not f.name.endswith(".gz"):
        return data
    import gzip
    try:
        return gzip.decompress(data)
    except (OSError, EOFError):  # cut short (a crash mid-compress): nothing to trust
        return b""


def newer_than(path: str, rotated: int, old: BinaryIO, size: int, tail: bytes) -> bytes:
    """For a follower whose live file ``old`` (``size`` bytes, ending in ``tail``) was
    rotated: the contents of the files rotated after it, oldest first (every one dockerd
    reads when ``old`` was dropped meanwhile). Call under the directory's shared lock."""
    ino = os.fstat(old.fileno()).st_ino
    found = [(k, f) for k in range(max(rotated, 1), 0, -1) if (f := open_rotated(path, k))]
    read = [(k, _same(f, ino), contents(f)) for k, f in found]  # _same before closing
    for i, (_, same, data) in enumerate(read):
        if same or (same is None and len(data) == size and data.endswith(tail)):
            return b"".join(data for _, _, data in read[i + 1:])
    return b"".join(data for k, _, data in read if k <= rotated)


def _same(f: BinaryIO, ino: int) -> bool | None:
    """Whether rotated file ``f`` is the follower's old live file by its inode; None once
    gzipped (a new file: its content tells)."""
    return None if f.name.endswith(".gz") else os.fstat(f.fileno()).st_ino == ino
