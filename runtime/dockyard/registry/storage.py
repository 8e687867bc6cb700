"""Content-addressed registry storage on a local filesystem.

On-disk layout under ``--root``::

    blobs/<alg>/<hex[:2]>/<hex>                      content (layers, configs, manifests),
                                                      immutable, visible only once verified
    repositories/<name…>/                             one directory per repository; a name's
                                                      ``/`` become directory levels
        _layers/<alg>/<hex>                           empty: the blob belongs to this repository
        _manifests/revisions/<alg>/<hex>              the manifest's media type: it is here
        _manifests/tags/<tag>                         the digest the tag points at
        _referrers/<alg>/<subject-hex>/<alg>-<hex>    empty: that manifest names this subject
        _uploads/<uuid>/data                          an upload in progress (never visible)
    tmp/                                              temp files of atomic replaces

Why this shape: blobs are shared by every repository (cross-repository mount is a link), but a
repository only *sees* what it links, so access control per repository holds. Names pass
:func:`names.validate_name` before they reach a path, so components never start with ``.`` or
``_`` and cannot escape the root or collide with the ``_``-directories.

Writes are temp → fsync → rename: an upload's data file *is* its temp file, hashed as it
streams in and renamed into ``blobs/`` only after its digest matches, so a crash mid-upload
loses only that upload. Link files are empty (created whole or not at all). Blob reads open the
file first, so a concurrent ``gc`` unlinking it cannot cut a response short.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import re
import tempfile
import uuid as _uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, cast

from ..oci import digest as _digest
from . import manifests as _manifests
from .errors import RegistryError
from .names import is_digest, validate_digest

_UUID_RE: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HASH_CHUNK: Final = 4 * 1024 * 1024
MAX_CACHED_HASHES: Final = 4096  # a dropped one only costs a re-read at commit


@dataclass(frozen=True)
class StoredManifest:
    body: bytes
    media_type: str
    digest: str


class Upload:
    """One upload session; ``size`` is what the data file holds now."""

    def __init__(self, storage: Storage, repo: str, upload_id: str) -> None:
        self.storage, self.repo, self.id = storage, repo, upload_id
        self.dir = storage.repo_dir(repo) / "_uploads" / upload_id
        self.data = self.dir / "data"

    @property
    def size(self) -> int:
        try:
            return self.data.stat().st_size
        except FileNotFoundError:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": self.id}) from None

    def writer(self) -> UploadWriter:
        return UploadWriter(self)


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    function.restype = ctypes.c_int
    return cast(Callable[[int, int, int, int], int], function)


_SYNC_FILE_RANGE = _load_sync_file_range()
_SYNC_FILE_RANGE_WRITE: Final = 2
WRITEBACK_WINDOW: Final = 8 * 1024 * 1024


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing a range to disk now, without waiting for it.

    A streamed upload then reaches the disk while it is still arriving, and the fsync that
    makes it durable at commit waits only for the tail instead of the whole blob.
    """
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


class UploadWriter:
    """Appends a request body to an upload, hashing as it goes so ``commit`` need not re-read.

    The running hash is kept between requests (chunked uploads) in the storage's memory and
    trusted only if its offset still equals the file's size; otherwise commit re-hashes.
    """

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.start = upload.size
        self.offset = self.written_back = self.start
        try:
            self.fd = os.open(upload.data, os.O_WRONLY | os.O_APPEND)
        except FileNotFoundError:  # finished (or cancelled) by another request since: gone
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload.id}) from None
        cached = upload.storage.hashes.pop(upload.id, None)
        self.hasher = cached[1] if cached and cached[0] == self.start else None

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        if self.hasher is not None:
            self.hasher.update(data)
        self.offset += len(data)
        if self.offset - self.written_back >= WRITEBACK_WINDOW:
            start_writeback(self.fd, self.written_back, self.offset - self.written_back)
            self.written_back = self.offset

    def rollback(self) -> None:
        """Drop what this request appended (a chunk that failed a check)."""
        os.ftruncate(self.fd, self.start)
        self.offset = self.written_back = self.start
        self.hasher = None

    def close(self, keep_hash: bool = True) -> None:
        if self.fd < 0:
            return
        os.close(self.fd)
        self.fd = -1
        if keep_hash and self.hasher is not None:
            self.upload.storage.remember_hash(self.upload.id, self.offset, self.hasher)


class Storage:
    """The registry's storage interface; one filesystem implementation."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        for sub in ("blobs", "repositories", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.hashes: dict[str, tuple[int, hashlib._Hash]] = {}

    def remember_hash(self, upload_id: str, offset: int, hasher: hashlib._Hash) -> None:
        """Keep a running upload hash; abandoned sessions' hashes are dropped oldest first."""
        while len(self.hashes) >= MAX_CACHED_HASHES:
            self.hashes.pop(next(iter(self.hashes)), None)
        self.hashes[upload_id] = (offset, hasher)

    # -- paths ------------------------------------------------------------------------------

    def repo_dir(self, repo: str) -> Path:
        return self.root / "repositories" / repo

    def blob_path(self, digest: str) -> Path:
        algorithm, hexpart = _digest.split(digest)
        return self.root / "blobs" / algorithm / hexpart[:2] / hexpart

    def _layer_link(self, repo: str, digest: str) -> Path:
        return self.repo_dir(repo) / "_layers" / digest.replace(":", "/", 1)

    def _revision(self, repo: str, digest: str) -> Path:
        return self.repo_dir(repo) / "_manifests" / "revisions" / digest.replace(":", "/", 1)

    def _tag(self, repo: str, tag: str) -> Path:
        return self.repo_dir(repo) / "_manifests" / "tags" / tag

    def _tags_dir(self, repo: str) -> Path:
        return self.repo_dir(repo) / "_manifests" / "tags"

    def _referrer(self, repo: str, subject: str, digest: str) -> Path:
        return self._referrers_dir(repo, subject) / digest.replace(":", "-", 1)

    def _referrers_dir(self, repo: str, subject: str) -> Path:
        return self.repo_dir(repo) / "_referrers" / subject.replace(":", "/", 1)

    # -- small atomic writes ----------------------------------------------------------------

    def write_atomic(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.tmp)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    @staticmethod
    def _touch_link(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))

    # -- repositories -----------------------------------------------------------------------

    def repo_exists(self, repo: str) -> bool:
        return (self.repo_dir(repo) / "_manifests").is_dir() or (self.repo_dir(repo) / "_layers").is_dir()

    def repositories(self) -> list[str]:
        """Every repository holding a manifest, sorted (``_catalog``'s order)."""
        base = self.root / "repositories"
        found: list[str] = []
        for dirpath, dirnames, _files in os.walk(base):
            if "_manifests" in dirnames:
                found.append(os.path.relpath(dirpath, base))
            dirnames[:] = [d for d in dirnames if not d.startswith("_")]
        return sorted(found)

    # -- blobs ------------------------------------------------------------------------------

    def blob_stat(self, repo: str, digest: str) -> tuple[Path, int]:
        """Path and size of a blob this repository links; BLOB_UNKNOWN otherwise."""
        validate_digest(digest)
        path = self.blob_path(digest)
        linked = self._layer_link(repo, digest).exists() or self._revision(repo, digest).exists()
        try:
            if linked:
                return path, path.stat().st_size
        except FileNotFoundError:
            pass
        raise RegistryError("BLOB_UNKNOWN", detail={"digest": digest})

    def delete_blob(self, repo: str, digest: str) -> None:
        validate_digest(digest)
        try:
            self._layer_link(repo, digest).unlink()
        except FileNotFoundError:
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": digest}) from None

    def mount_blob(self, repo: str, source: str, digest: str) -> bool:
        """Link ``source``'s blob into ``repo``; False when ``source`` does not have it."""
        try:
            path, _ = self.blob_stat(source, digest)
            os.utime(path)
        except (RegistryError, FileNotFoundError):
            return False
        self._touch_link(self._layer_link(repo, digest))
        return True

    # -- uploads ----------------------------------------------------------------------------

    def start_upload(self, repo: str) -> Upload:
        upload = Upload(self, repo, str(_uuid.uuid4()))
        upload.dir.mkdir(parents=True)
        upload.data.touch()
        self.remember_hash(upload.id, 0, hashlib.sha256())
        return upload

    def upload(self, repo: str, upload_id: str) -> Upload:
        if not _UUID_RE.fullmatch(upload_id):
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload_id[:80]})
        upload = Upload(self, repo, upload_id)
        _ = upload.size
        return upload

    def cancel_upload(self, upload: Upload) -> None:
        self.hashes.pop(upload.id, None)
        try:
            for child in upload.dir.iterdir():
                child.unlink(missing_ok=True)
            upload.dir.rmdir()
        except FileNotFoundError:  # a concurrent finish or cancel got there first
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload.id}) from None

    def _upload_digest(self, upload: Upload, algorithm: str) -> str:
        cached = self.hashes.pop(upload.id, None)
        if cached and cached[0] == upload.size and cached[1].name == algorithm:
            return f"{algorithm}:{cached[1].hexdigest()}"
        hasher = hashlib.new(algorithm)
        with open(upload.data, "rb", buffering=0) as f:
            while chunk := f.read(_HASH_CHUNK):
                hasher.update(chunk)
        return f"{algorithm}:{hasher.hexdigest()}"

    def commit_upload(self, upload: Upload, digest: str) -> None:
        """Verify, fsync and publish an upload as blob ``digest`` (blocking: run off-loop)."""
        try:
            self._commit(upload, validate_digest(digest))
        except FileNotFoundError:  # two requests finishing one upload: the second lost
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload.id}) from None

    def _commit(self, upload: Upload, digest: str) -> None:
        actual = self._upload_digest(upload, digest.partition(":")[0])
        if actual != digest:
            self.cancel_upload(upload)
            raise RegistryError("DIGEST_INVALID", detail={"expected": digest, "actual": actual})
        final = self.blob_path(digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.utime(final)  # already stored (deduplicated): refreshed for gc's grace period
        except FileNotFoundError:
            fd = os.open(upload.data, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(upload.data, final)
        self._touch_link(self._layer_link(upload.repo, digest))
        with contextlib.suppress(RegistryError):
            self.cancel_upload(upload)

    def stale_uploads(self, older_than: float) -> Iterator[Path]:
        for data in (self.root / "repositories").glob("**/_uploads/*/data"):
            try:
                if data.stat().st_mtime < older_than:
                    yield data.parent
            except FileNotFoundError:
                continue

    # -- manifests --------------------------------------------------------------------------

    def resolve(self, repo: str, reference: str) -> str:
        """Tag or digest → the digest of a manifest this repository holds."""
        if is_digest(reference):
            digest = validate_digest(reference)
        else:
            try:
                digest = self._tag(repo, reference).read_text()
            except (FileNotFoundError, NotADirectoryError):
                raise self._unknown(repo, reference) from None
        return digest

    def _unknown(self, repo: str, reference: str) -> RegistryError:
        if not self.repo_exists(repo):
            return RegistryError("NAME_UNKNOWN", detail={"name": repo})
        return RegistryError("MANIFEST_UNKNOWN", detail={"reference": reference})

    def get_manifest(self, repo: str, reference: str) -> StoredManifest:
        digest = self.resolve(repo, reference)
        try:
            media_type = self._revision(repo, digest).read_text()
            body = self.blob_path(digest).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            raise self._unknown(repo, reference) from None
        return StoredManifest(body, media_type, digest)

    def put_manifest(self, repo: str, reference: str, body: bytes, manifest: _manifests.Manifest) -> str:
        """Store a checked manifest under its digest (and tag); returns the digest."""
        algorithm = reference.partition(":")[0] if is_digest(reference) else "sha256"
        digest = _digest.of_bytes(body, algorithm)
        if is_digest(reference) and reference != digest:
            raise RegistryError("DIGEST_INVALID", detail={"expected": reference, "actual": digest})
        self._check_references(repo, manifest)
        path = self.blob_path(digest)
        if path.exists():
            os.utime(path)
        else:
            self.write_atomic(path, body)
        self.write_atomic(self._revision(repo, digest), manifest.media_type.encode())
        if manifest.subject is not None:
            self._touch_link(self._referrer(repo, manifest.subject.digest, digest))
        if not is_digest(reference):
            self.write_atomic(self._tag(repo, reference), digest.encode())
        return digest

    def _check_references(self, repo: str, manifest: _manifests.Manifest) -> None:
        """Every blob and child must be in ``repo``; touching them shields them from a running gc."""
        for digest in _manifests.required_blobs(manifest):
            try:
                path, _ = self.blob_stat(repo, digest)
                os.utime(path)
            except (RegistryError, FileNotFoundError):
                raise RegistryError("MANIFEST_BLOB_UNKNOWN", detail={"digest": digest}) from None
        for child in manifest.children:
            if not self._revision(repo, child.digest).exists():
                raise RegistryError("MANIFEST_BLOB_UNKNOWN", detail={"digest": child.digest})

    def delete_manifest(self, repo: str, reference: str) -> None:
        if not is_digest(reference):
            try:
                self._tag(repo, reference).unlink()
            except FileNotFoundError:
                raise self._unknown(repo, reference) from None
            return
        stored = self.get_manifest(repo, reference)
        try:
            self._revision(repo, stored.digest).unlink()
        except FileNotFoundError:
            raise self._unknown(repo, reference) from None
        for tag in self.tags(repo):
            with contextlib.suppress(FileNotFoundError):
                if self._tag(repo, tag).read_text() == stored.digest:
                    self._tag(repo, tag).unlink(missing_ok=True)
        try:
            subject = _manifests.parse(stored.body, stored.media_type).subject
        except RegistryError:
            subject = None
        if subject is not None:
            self._referrer(repo, subject.digest, stored.digest).unlink(missing_ok=True)

    def tags(self, repo: str) -> list[str]:
        if not self.repo_exists(repo):
            raise RegistryError("NAME_UNKNOWN", detail={"name": repo})
        try:
            return sorted(os.listdir(self._tags_dir(repo)))
        except FileNotFoundError:
            return []

    def revision_mtime(self, repo: str, digest: str) -> float:
        """When the manifest was last pushed to ``repo`` (gc's grace period for untagged ones)."""
        return self._revision(repo, digest).stat().st_mtime

    def tag_targets(self, repo: str) -> set[str]:
        """The digests this repository's tags point at."""
        targets = set()
        for tag in self.tags(repo):
            with contextlib.suppress(FileNotFoundError):
                targets.add(self._tag(repo, tag).read_text())
        return targets

    def revisions(self, repo: str) -> Iterator[str]:
        base = self.repo_dir(repo) / "_manifests" / "revisions"
        for algorithm_dir in base.glob("*"):
            for entry in algorithm_dir.iterdir():
                yield f"{algorithm_dir.name}:{entry.name}"

    def referrers(self, repo: str, subject: str) -> list[StoredManifest]:
        validate_digest(subject)
        found = []
        try:
            entries = sorted(os.listdir(self._referrers_dir(repo, subject)))
        except (FileNotFoundError, NotADirectoryError):
            return []
        for entry in entries:
            try:
                found.append(self.get_manifest(repo, entry.replace("-", ":", 1)))
            except RegistryError:
                continue
        return found
