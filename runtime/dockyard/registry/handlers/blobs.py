"""``/v2/<name>/blobs/<digest>``: GET (with Range → 206), HEAD, DELETE.

GET on a plain-HTTP connection hands the body to the kernel with ``sendfile`` (no copy through
Python: this is what lets a Python server out-serve distribution); over TLS it streams large
reads, each flushed before the next, so at most one chunk of a blob is ever in memory.
"""

from __future__ import annotations

import asyncio
import re
from typing import BinaryIO, ClassVar, Final

from tornado.http1connection import HTTP1Connection
from tornado.iostream import SSLIOStream

from ..errors import RegistryError
from ..names import validate_digest
from .base import RegistryHandler

CHUNK: Final = 4 * 1024 * 1024
_RANGE: Final = re.compile(r"bytes=([0-9]*)-([0-9]*)")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``Range: bytes=a-b`` → (start, end inclusive); None to serve it all; 416 if unsatisfiable.

    Multiple ranges or a malformed header are ignored (RFC 9110 lets a server do that).
    """
    match = _RANGE.fullmatch((header or "").strip())
    if not match or (not match[1] and not match[2]):
        return None
    if not match[1]:
        start, end = max(size - int(match[2]), 0), size - 1
    else:
        start = int(match[1])
        end = min(int(match[2]), size - 1) if match[2] else size - 1
    if start >= size or end < start:
        raise RegistryError("RANGE_INVALID", message="requested range not satisfiable",
                            headers={"Content-Range": f"bytes */{size}"})
    return start, end


def can_sendfile(connection: HTTP1Connection) -> bool:
    """Plain TCP, and a tornado whose Content-Length bookkeeping we know how to settle."""
    return not isinstance(connection.stream, SSLIOStream) and hasattr(
        connection, "_expected_content_remaining")


async def send_file(connection: HTTP1Connection, f: BinaryIO, start: int, length: int) -> None:
    """Send ``length`` bytes of ``f`` from ``start`` on the connection's socket, zero-copy.

    The bytes bypass tornado's write path, so its count of body bytes still owed (checked at
    finish) is settled here; a short send raises, and tornado then drops the connection.
    """
    sock = connection.stream.socket
    connection.stream.set_nodelay(True)  # no Nagle wait between sendfile bursts (Go's default)
    sent = await asyncio.get_running_loop().sock_sendfile(sock, f, start, length)
    if sent != length:
        raise RegistryError("BLOB_UNKNOWN", detail="blob truncated on disk")
    connection._expected_content_remaining = 0


class BlobHandler(RegistryHandler):
    ACTIONS: ClassVar[dict[str, tuple[str, ...]]] = {"GET": ("pull",), "HEAD": ("pull",), "DELETE": ("delete",)}

    def _describe(self, digest: str, size: int) -> tuple[int, int]:
        span = parse_range(self.request.headers.get("Range"), size) if size else None
        start, end = span or (0, size - 1)
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Docker-Content-Digest", digest)
        self.set_header("ETag", f'"{digest}"')
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("Content-Length", end - start + 1)
        if span:
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{end}/{size}")
        return start, end - start + 1

    def head(self, name: str, digest: str) -> None:
        _, size = self.storage.blob_stat(name, validate_digest(digest))
        self._describe(digest, size)
        self.finish()

    async def get(self, name: str, digest: str) -> None:
        path, size = self.storage.blob_stat(name, validate_digest(digest))
        with open(path, "rb", buffering=0) as f:  # noqa: ASYNC230 - page-cache reads, chunked
            start, length = self._describe(digest, size)
            connection = self.request.connection
            if length and isinstance(connection, HTTP1Connection) and can_sendfile(connection):
                await self.flush()  # the headers
                await send_file(connection, f, start, length)
            else:
                await self._stream(f, start, length)
        self.finish()

    async def _stream(self, f: BinaryIO, start: int, remaining: int) -> None:
        f.seek(start)
        while remaining > 0:
            chunk = f.read(min(CHUNK, remaining))
            if not chunk:
                raise RegistryError("BLOB_UNKNOWN", detail="blob truncated on disk")
            remaining -= len(chunk)
            self.write(chunk)
            await self.flush()

    def delete(self, name: str, digest: str) -> None:
        self.storage.delete_blob(name, validate_digest(digest))
        self.set_status(202)
        self.set_header("Content-Length", 0)
        self.finish()
