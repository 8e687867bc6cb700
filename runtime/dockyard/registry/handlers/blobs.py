"""``/v2/<name>/blobs/<digest>``: GET (with Range → 206), HEAD, DELETE.

GET reads the blob into one reused buffer and writes each piece straight to the connection,
waiting until it is sent before reading the next: at most one buffer of a blob is in memory
whatever its size, and no per-piece allocation. Measured with curl on loopback this serves
faster than ``sendfile`` through asyncio (1.7 vs 2.4 GiB/s) and on a par with distribution.
"""

from __future__ import annotations

import io
import re
from typing import ClassVar, Final, cast

from ..errors import RegistryError
from ..names import validate_digest
from .base import RegistryHandler

CHUNK: Final = 8 * 1024 * 1024
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
            if length:
                await self._send(f, start, length)
        self.finish()

    async def _send(self, f: io.FileIO, start: int, remaining: int) -> None:
        connection = self.request.connection
        assert connection is not None
        await self.flush()  # the headers
        buffer = memoryview(bytearray(min(CHUNK, remaining)))
        f.seek(start)
        while remaining > 0:
            n = f.readinto(buffer[: min(len(buffer), remaining)])
            if not n:
                raise RegistryError("BLOB_UNKNOWN", detail="blob truncated on disk")
            # tornado takes any bytes-like body (typed bytes); the future resolves once sent,
            # so the buffer is free again. Content-Length is always set: no chunk framing.
            await connection.write(cast(bytes, buffer[:n]))
            remaining -= n

    def delete(self, name: str, digest: str) -> None:
        self.storage.delete_blob(name, validate_digest(digest))
        self.set_status(202)
        self.set_header("Content-Length", 0)
        self.finish()
