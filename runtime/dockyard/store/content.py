"""Content-addressed blob store: a blob becomes visible only once its digest is verified.

On-disk layout (under the daemon's data root)::

    content/
      blobs/
        sha256/<64 hex>       immutable blob, named by the digest of its bytes
        sha512/<128 hex>
      ingest/
        <random>.tmp          a write in progress; never read, removed on open

A write streams into ``ingest/`` (same filesystem as ``blobs/``), hashing as it goes, checks
digest and size, then fsyncs, and only then hard-links the file into ``blobs/``. ``link``
fails if the name exists, so when two writers race the first complete blob wins and the other
simply drops its temp file; a reader never sees a partial or wrong blob. A crash leaves at
most a stale ``ingest/*.tmp``, which :meth:`ContentStore.clean_ingest` deletes.

:meth:`ContentStore.writer` hands the caller the loop (:class:`Ingest`: write, verify, commit),
so a pull can feed the same network buffers to the unpacker, and let it finish once the digest
is verified while the blob's fsync is still running.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol, Self

from ..errors import DigestMismatch, InvalidArgument, NotFound
from ..oci import digest as _digest

CHUNK = 1 << 20
WRITEBACK = 8 << 20  # start the disk write of each 8 MiB written, so the final fsync is short
_SYNC_FILE_RANGE_WRITE = 2


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class SizeMismatch(InvalidArgument):
    def __init__(self, digest: str, expected: int, actual: int) -> None:
        super().__init__(f"size mismatch for {digest}: expected {expected} bytes, got {actual}")


class ContentStore:
    """Blobs by digest under ``root/content``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "content"
        self.blobs = self.root / "blobs"
        self.ingest = self.root / "ingest"
        for alg in _digest.ALGORITHMS:
            (self.blobs / alg).mkdir(parents=True, exist_ok=True)
        self.ingest.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        alg, hexpart = _digest.split(digest)
        return self.blobs / alg / hexpart

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def read_bytes(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def write(self, stream: Readable, expected: str | None = None, size: int | None = None,
              algorithm: str = "sha256") -> tuple[str, int]:
        """Store ``stream`` (read to EOF, or ``size`` bytes when given); return (digest, size).

        Raises DigestMismatch / SizeMismatch, leaving nothing visible, when the content is not
        what ``expected``/``size`` announce.
        """
        with self.writer(expected, size, algorithm) as blob:
            while size is None or blob.written < size:
                chunk = stream.read(CHUNK if size is None else min(CHUNK, size - blob.written))
                if not chunk:
                    break
                blob.write(chunk)
            return blob.commit(), blob.written

    def write_bytes(self, data: bytes, expected: str | None = None) -> str:
        import io

        return self.write(io.BytesIO(data), expected, len(data))[0]

    def writer(self, expected: str | None = None, size: int | None = None,
               algorithm: str = "sha256") -> Ingest:
        """A blob written chunk by chunk by the caller; nothing is visible before ``commit``."""
        if expected is not None:
            algorithm = _digest.split(expected)[0]
        return Ingest(self, expected, size, algorithm)

    def _publish(self, tmp: Path, digest: str) -> None:
        final = self.path(digest)
        try:
            os.link(tmp, final)
        except FileExistsError:
            return  # another writer finished the same blob first; its bytes are identical
        _fsync_dir(final.parent)

    def delete(self, digest: str) -> bool:
        try:
            os.unlink(self.path(digest))
            return True
        except FileNotFoundError:
            return False

    def digests(self) -> Iterator[str]:
        """Every stored blob's digest (for garbage collection)."""
        for alg in _digest.ALGORITHMS:
            for entry in os.scandir(self.blobs / alg):
                yield f"{alg}:{entry.name}"

    def clean_ingest(self) -> int:
        """Remove writes a crash left behind; only safe while no write is in progress."""
        removed = 0
        for entry in os.scandir(self.ingest):
            _unlink_quietly(Path(entry.path))
            removed += 1
        return removed


class Ingest:
    """One blob in ``ingest/``: :meth:`write` hashes and appends, :meth:`verify` checks digest
    and size (so a caller may act on verified content before the fsync), :meth:`commit` fsyncs
    and links it into ``blobs/``. Leaving the ``with`` block removes the temp file."""

    def __init__(self, store: ContentStore, expected: str | None, size: int | None, algorithm: str) -> None:
        self.store, self.expected, self.size, self.algorithm = store, expected, size, algorithm
        self.hasher = _digest.hasher(algorithm)
        self.tmp = store.ingest / f"{secrets.token_hex(12)}.tmp"
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        self.written = self._flushed = 0
        self.digest = ""

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self.hasher.update(chunk)
        _write_all(self.fd, chunk)
        self.written += len(chunk)
        if self.written - self._flushed >= WRITEBACK:
            start_writeback(self.fd, self._flushed, self.written - self._flushed)
            self._flushed = self.written

    def verify(self) -> str:
        """The digest, once it and the size match what was announced; else raise."""
        if not self.digest:
            actual = f"{self.algorithm}:{self.hasher.hexdigest()}"
            if self.size is not None and self.written != self.size:
                raise SizeMismatch(self.expected or actual, self.size, self.written)
            if self.expected is not None and actual != self.expected:
                raise DigestMismatch(self.expected, actual)
            self.digest = actual
        return self.digest

    def commit(self) -> str:
        """Verify, make durable, then visible; returns the digest."""
        digest = self.verify()
        os.fsync(self.fd)
        self.store._publish(self.tmp, digest)
        return digest

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        _unlink_quietly(self.tmp)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


_sync_file_range: list[Callable[[int, int, int, int], int]] = []


def start_writeback(fd: int, offset: int = 0, length: int = 0) -> None:
    """Start writing ``fd``'s dirty pages in ``[offset, offset + length)`` (0: to the end) to
    disk, without waiting (``sync_file_range(SYNC_FILE_RANGE_WRITE)``): the disk works while
    the stream still arrives, and the fsync or syncfs that makes it durable finds little left.
    Best effort: errors surface at that fsync."""
    if not _sync_file_range:
        import ctypes

        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
        fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
        _sync_file_range.append(fn)
    _sync_file_range[0](fd, offset, length, _SYNC_FILE_RANGE_WRITE)


def _write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
