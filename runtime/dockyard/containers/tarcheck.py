"""How Go's ``archive/tar`` would end reading a ``docker cp`` upload, judged as it streams by.

dockerd unpacks an upload with Go's tar reader and reports where it stopped:
``Error processing tar file(exit status 1): unexpected EOF`` for a stream cut short (in a header,
in an entry's data or padding), ``…: archive/tar: invalid tar header`` for a header block whose
checksum does not hold, and nothing at all for an empty stream or one that ends right after an
entry (no zero blocks needed). The copy helper's ``tarfile`` in stream mode differs on each:
it calls an empty stream an error and stops without a word at a bad header after the first.
:class:`TarCheck` watches the bytes the daemon feeds the helper and gives Go's verdict.
"""

from __future__ import annotations

from typing import Final

BLOCK: Final = 512
UNEXPECTED_EOF: Final = "unexpected EOF"
INVALID_HEADER: Final = "archive/tar: invalid tar header"
_COMPRESSED: Final = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")
_ZERO: Final = bytes(BLOCK)


class TarCheck:
    """Feed it the upload's chunks, then ``verdict()``: None when Go would read the stream to
    its end without an error, else Go's error text. Compressed uploads are not judged."""

    def __init__(self) -> None:
        self.total = 0
        self._head = b""        # bytes of the block being gathered
        self._skip = 0          # data and padding of the current entry still to pass
        self._zeros = 0         # zero blocks seen in a row at a header position
        self._error: str | None = None
        self._done = False      # Go stops reading here (the trailer, or an error)
        self._compressed: bool | None = None

    @property
    def empty(self) -> bool:
        return self.total == 0

    def feed(self, chunk: bytes) -> None:
        if self._compressed is None and chunk:
            self._compressed = chunk.startswith(_COMPRESSED)
        self.total += len(chunk)
        view = memoryview(chunk)
        while view and not self._done and not self._compressed:
            if self._skip:
                step = min(self._skip, len(view))
                self._skip -= step
                view = view[step:]
                continue
            need = BLOCK - len(self._head)
            self._head += bytes(view[:need])
            view = view[need:]
            if len(self._head) == BLOCK:
                self._block(self._head)
                self._head = b""

    def _block(self, block: bytes) -> None:
        if block == _ZERO:
            self._zeros += 1
            self._done = self._zeros == 2
            return
        if self._zeros or not _checksum_holds(block):
            self._error, self._done = INVALID_HEADER, True  # a zero block then data, or garbage
            return
        size = _size(block[124:136])
        if size is None:
            self._error, self._done = INVALID_HEADER, True
            return
        if block[156:157] in (b"1", b"2", b"3", b"4", b"5", b"6"):  # links, devices, dirs, fifos
            size = 0
        self._skip = -(-size // BLOCK) * BLOCK

    def verdict(self) -> str | None:
        if self._compressed or self._error:
            return self._error
        if not self._done and (self._skip or self._head):
            return UNEXPECTED_EOF
        return None


def _checksum_holds(block: bytes) -> bool:
    recorded = _size(block[148:156])
    if recorded is None:
        return False
    spaced = block[:148] + b" " * 8 + block[156:]
    unsigned = sum(spaced)
    signed = sum(b - 256 if b > 127 else b for b in spaced)
    return recorded in (unsigned, signed)


def _size(field: bytes) -> int | None:
    """An octal number field (NUL/space padded), or GNU base-256 with the high bit set."""
    if field and field[0] & 0x80:
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = field.replace(b"\0", b" ").strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        return None
