"""Layer inflate uses ISA-L (pulls of gzip layers are bound by it) with zlib's exact semantics."""

from __future__ import annotations

import io
import os
import zlib

import pytest

from dockyard.store import compression
from dockyard.store.compression import CorruptStream, decompressed_chunks


def gzip_member(data: bytes) -> bytes:
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def test_isal_is_the_inflater() -> None:
    assert compression._inflate.__name__ == "isal.isal_zlib"


def test_multi_member_with_padding_matches_zlib() -> None:
    parts = [os.urandom(3 << 20), b"text " * 400_000, b""]
    stream = b"".join(gzip_member(p) for p in parts) + b"\0" * 512
    out = b"".join(decompressed_chunks(io.BytesIO(stream)))
    assert out == b"".join(parts)
    assert all(len(chunk) <= compression.OUT_LIMIT for chunk in decompressed_chunks(io.BytesIO(stream)))


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_gzip_is_a_clear_error(damage: str) -> None:
    good = gzip_member(os.urandom(1 << 20))
    bad = good[: len(good) // 2] if damage == "truncated" else good[:20] + b"\xff" * 64 + good[84:]
    with pytest.raises(CorruptStream, match="gzip"):
        b"".join(decompressed_chunks(io.BytesIO(bad)))


def test_member_boundary_and_magic_split_across_reads() -> None:
    """Every cut point of a two-member stream read in small pieces gives the whole content."""
    parts = [b"first member " * 50, b"second " * 70]
    stream = gzip_member(parts[0]) + gzip_member(parts[1])

    class Pieces(io.BytesIO):
        def __init__(self, data: bytes, cut: int) -> None:
            super().__init__(data)
            self.cut = cut

        def read(self, n: int | None = -1, /) -> bytes:
            return super().read(self.cut if self.tell() == 0 else 7)

    for cut in range(2, len(stream)):
        assert b"".join(decompressed_chunks(Pieces(stream, cut))) == b"".join(parts), cut
