"""Go's tar reader's verdict on a ``docker cp`` upload, judged while it streams by."""

from __future__ import annotations

import io
import tarfile

import pytest

from dockyard.containers.tarcheck import INVALID_HEADER, UNEXPECTED_EOF, TarCheck


def _tar(*names: str, size: int = 600, **kw: object) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", **kw) as tar:  # type: ignore[call-overload]
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(b"x" * size))
        link = tarfile.TarInfo("ln")
        link.type, link.linkname, link.size = tarfile.SYMTYPE, names[0], 99  # a link's size is no data
        tar.addfile(link)
    return buf.getvalue()


WHOLE = _tar("one", "two")


def _verdict(data: bytes, chunk: int = 333) -> tuple[bool, str | None]:
    check = TarCheck()
    for start in range(0, len(data), chunk):
        check.feed(data[start:start + chunk])
    return check.empty, check.verdict()


@pytest.mark.parametrize(("data", "expected"), [
    (WHOLE, None),
    (WHOLE[:1536 * 2 + 512], None),                  # no zero blocks at the end: a clean EOF
    (WHOLE[:1536] + bytes(512), None),               # one zero block, then EOF
    (b"notatar\n", UNEXPECTED_EOF),
    (b"a" * 2048, INVALID_HEADER),
    (WHOLE[:1000], UNEXPECTED_EOF),                  # inside the first entry's data
    (WHOLE[:1536 - 10], UNEXPECTED_EOF),             # inside its padding
    (WHOLE[:1536] + bytes(700), UNEXPECTED_EOF),
    (WHOLE[:1536] + bytes(512) + b"b" * 512, INVALID_HEADER),
    (WHOLE[:1536] + b"b" * 1024, INVALID_HEADER),
    (_tar("p" * 120, format=tarfile.PAX_FORMAT), None),  # a pax header is an entry with data
    (_tar("g" * 120, format=tarfile.GNU_FORMAT), None),  # a GNU long name too
])
def test_verdicts(data: bytes, expected: str | None) -> None:
    assert _verdict(data) == (False, expected)
    assert _verdict(data, chunk=1) == (False, expected)


def test_empty_and_compressed_streams() -> None:
    assert _verdict(b"") == (True, None)
    assert _verdict(b"\x1f\x8b" + b"a" * 100) == (False, None)  # not judged: the helper unpacks it
