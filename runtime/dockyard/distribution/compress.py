"""Layer compression for push, spread over threads (zlib and zstd release the GIL).

gzip is written pigz-style: the input is cut into 1 MiB blocks, each deflated on its own in a
worker and ended with a sync flush (byte-aligned, not final), the pieces joined in order and
closed with an empty final block and the CRC-32/size trailer — one ordinary gzip member that
every gzip reader accepts. Blocks that do not compress (a 64 KiB sample shrinks < 3%) are
stored rather than deflated, so random data costs a copy instead of a futile search. The output
depends only on the input, so pushing the same layer twice gives the same blob digest.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Protocol

from ..oci import mediatypes as mt

BLOCK = 1 << 20
SAMPLE = 64 << 10
GZIP_LEVEL = 1
ZSTD_LEVEL = 3
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\xff"  # deflate, no mtime, fastest, OS unknown
_FINAL = b"\x03\x00"  # an empty final fixed-Huffman block


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


_pool: ThreadPoolExecutor | None = None


def pool() -> ThreadPoolExecutor:
    """One process-wide pool for compression work, one thread per CPU."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="compress")
    return _pool


def media_type(compression: str, docker: bool = True) -> str:
    if compression == "zstd":
        return mt.OCI_LAYER_ZSTD
    if compression == "gzip":
        return mt.DOCKER_LAYER_GZIP if docker else mt.OCI_LAYER_GZIP
    return mt.DOCKER_LAYER if docker else mt.OCI_LAYER


def compressed(src: Readable, compression: str, executor: Executor | None = None) -> Iterator[bytes]:
    if compression == "gzip":
        return gzip_chunks(src, executor or pool())
    if compression == "zstd":
        return zstd_chunks(src)
    return iter(lambda: src.read(BLOCK), b"")


def _deflate_block(block: bytes, level: int) -> bytes:
    if level and len(block) > SAMPLE:
        probe = zlib.compressobj(level, zlib.DEFLATED, -15)
        if len(probe.compress(block[:SAMPLE]) + probe.flush()) > SAMPLE * 0.97:
            level = 0
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(block) + c.flush(zlib.Z_SYNC_FLUSH)


def gzip_chunks(src: Readable, executor: Executor, level: int = GZIP_LEVEL,
                window: int | None = None) -> Iterator[bytes]:
    """gzip of everything ``src`` yields, compressed ``window`` blocks at a time."""
    window = window or 2 * (os.cpu_count() or 2)
    pending: deque[Future[bytes]] = deque()
    crc = size = 0
    yield _HEADER
    while True:
        block = src.read(BLOCK)
        if block:
            crc = zlib.crc32(block, crc)
            size += len(block)
            pending.append(executor.submit(_deflate_block, block, level))
        while pending and (len(pending) >= window or not block):
            yield pending.popleft().result()
        if not block:
            break
    yield _FINAL + struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)


def zstd_chunks(src: Readable, level: int = ZSTD_LEVEL) -> Iterator[bytes]:
    """zstd with zstd's own worker threads (one per CPU)."""
    import zstandard

    cctx = zstandard.ZstdCompressor(level=level, threads=-1)
    yield from cctx.read_to_iter(src, read_size=BLOCK, write_size=BLOCK)  # type: ignore[arg-type]
