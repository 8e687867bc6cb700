"""Content-addressed blob store: a blob becomes visible only once its digest is verified.

On-disk layout (under the daemon's data root)::

    content/
      blobs/
        sha256/<64 hex>       immutable blob, named by the digest of its bytes
        sha512/<128 hex>
      ingest/
        <random>.tmp          a write in progress; never read, removed on open

A write streams into ``ingest/`` (same filesystem as ``blobs/``), hashing as it goes, then
fsyncs, checks digest and size, and only then hard-links the file into ``blobs/``. ``link``
fails if the name exists, so when two writers race the first complete blob wins and the other
simply drops its temp file; a reader never sees a partial or wrong blob. A crash leaves at
most a stale ``ingest/*.tmp``, which :meth:`ContentStore.clean_ingest` deletes.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from ..errors import DigestMismatch, InvalidArgument, NotFound
from ..oci import digest as _digest

CHUNK = 1 << 20


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
        if expected is not None:
            algorithm = _digest.split(expected)[0]
        h = _digest.hasher(algorithm)
        tmp = self.ingest / f"{secrets.token_hex(12)}.tmp"
        try:
            written = self._copy_hashing(stream, tmp, h, size)
            actual = f"{algorithm}:{h.hexdigest()}"
            if size is not None and written != size:
                raise SizeMismatch(expected or actual, size, written)
            if expected is not None and actual != expected:
                raise DigestMismatch(expected, actual)
            self._publish(tmp, actual)
            return actual, written
        finally:
            _unlink_quietly(tmp)

    def write_bytes(self, data: bytes, expected: str | None = None) -> str:
        import io

        return self.write(io.BytesIO(data), expected, len(data))[0]

    def _copy_hashing(self, stream: Readable, tmp: Path, h: hashlib._Hash,
                      limit: int | None) -> int:
        written = 0
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            while limit is None or written < limit:
                want = CHUNK if limit is None else min(CHUNK, limit - written)
                chunk = stream.read(want)
                if not chunk:
                    break
                h.update(chunk)
                _write_all(fd, chunk)
                written += len(chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
        return written

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


def _write_all(fd: int, data: bytes | memoryview) -> None:
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
