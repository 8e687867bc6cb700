"""Content store: digests verified before a blob is visible; racing writers are harmless."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path

import pytest

from dockyard.errors import DigestMismatch, InvalidArgument, NotFound
from dockyard.store.content import ContentStore


@pytest.fixture
def content(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path)


def test_write_and_read_back(content: ContentStore) -> None:
    data = os.urandom(3 << 20)
    digest, size = content.write(io.BytesIO(data))
    assert digest == "sha256:" + hashlib.sha256(data).hexdigest() and size == len(data)
    assert content.read_bytes(digest) == data
    assert content.path(digest).parent.name == "sha256"
    assert list(content.digests()) == [digest]


def test_sha512_is_accepted(content: ContentStore) -> None:
    data = b"hello"
    expected = "sha512:" + hashlib.sha512(data).hexdigest()
    assert content.write(io.BytesIO(data), expected)[0] == expected
    assert content.has(expected)


def test_digest_mismatch_leaves_nothing(content: ContentStore) -> None:
    wrong = "sha256:" + hashlib.sha256(b"other").hexdigest()
    with pytest.raises(DigestMismatch) as info:
        content.write(io.BytesIO(b"data"), wrong)
    assert wrong in str(info.value)
    assert not content.has(wrong)
    assert list(content.digests()) == [] and os.listdir(content.ingest) == []


def test_size_mismatch_leaves_nothing(content: ContentStore) -> None:
    data = b"x" * 100
    with pytest.raises(InvalidArgument, match="size mismatch"):
        content.write(io.BytesIO(data[:50]), "sha256:" + hashlib.sha256(data).hexdigest(), 100)
    assert list(content.digests()) == [] and os.listdir(content.ingest) == []


def test_size_limits_the_read(content: ContentStore) -> None:
    src = io.BytesIO(b"abcdef")
    digest, size = content.write(src, size=3)
    assert size == 3 and content.read_bytes(digest) == b"abc" and src.read() == b"def"


def test_concurrent_writers_of_one_blob(content: ContentStore) -> None:
    data = os.urandom(4 << 20)
    results: list[str] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            results.append(content.write(io.BytesIO(data))[0])
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1
    assert content.read_bytes(results[0]) == data
    assert os.listdir(content.ingest) == []


def test_existing_blob_wins(content: ContentStore) -> None:
    digest = content.write_bytes(b"first")
    inode = content.path(digest).stat().st_ino
    content.write_bytes(b"first")
    assert content.path(digest).stat().st_ino == inode


def test_clean_ingest_removes_stale_writes(content: ContentStore) -> None:
    (content.ingest / "abc.tmp").write_bytes(b"half")
    assert content.clean_ingest() == 1
    assert os.listdir(content.ingest) == []


def test_missing_blob(content: ContentStore) -> None:
    with pytest.raises(NotFound):
        content.open("sha256:" + "0" * 64)
    assert not content.delete("sha256:" + "0" * 64)


def test_writer_verifies_before_commit_and_leaves_nothing_on_mismatch(content: ContentStore) -> None:
    """The caller's own loop: verify() is the point where the bytes are known good (a pull lets
    its unpacker finish there), commit() the point where they become visible."""
    data = os.urandom((2 << 20) + 123)
    good = "sha256:" + hashlib.sha256(data).hexdigest()
    with content.writer(good, len(data)) as blob:
        for off in range(0, len(data), 1 << 20):
            blob.write(memoryview(data)[off : off + (1 << 20)])
        assert blob.verify() == good and not content.has(good)
        assert blob.commit() == good
    assert content.read_bytes(good) == data
    wrong = "sha256:" + "0" * 64
    with pytest.raises(DigestMismatch), content.writer(wrong, len(data)) as blob:
        blob.write(data)
        blob.verify()
    with pytest.raises(InvalidArgument, match="size mismatch"), content.writer(good, len(data)) as blob:
        blob.write(data[:-1])
        blob.commit()
    assert list(content.digests()) == [good]
    assert list(content.ingest.iterdir()) == []


def test_large_blob_written_with_early_writeback(content: ContentStore) -> None:
    """Blobs beyond WRITEBACK bytes have their pages sent to disk as they stream in."""
    from dockyard.store.content import WRITEBACK

    data = os.urandom(2 * WRITEBACK + 5)
    digest, size = content.write(io.BytesIO(data), size=len(data))
    assert size == len(data) and content.read_bytes(digest) == data
