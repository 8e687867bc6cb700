"""``/v2/<name>/blobs/uploads/``: monolithic, chunked and resumable uploads, and mounts.

Request bodies stream straight into the upload's data file (``stream_request_body``), hashed
on the way; nothing is visible until the final PUT (or monolithic POST) names a digest that
the content matches. A connection dropped mid-body leaves the session (resumable with GET +
PATCH) or, for a monolithic POST, nothing at all.
"""

from __future__ import annotations

import contextlib
import re
from typing import ClassVar, Final

from tornado.ioloop import IOLoop
from tornado.web import stream_request_body

from ..auth.policy import Scope
from ..errors import RegistryError
from ..names import validate_digest, validate_name
from ..storage import Upload, UploadWriter
from .base import RegistryHandler

_CONTENT_RANGE: Final = re.compile(r"(?:bytes[ =])?([0-9]+)-([0-9]+)(?:/(?:[0-9]+|\*))?")


def parse_content_range(header: str) -> tuple[int, int]:
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if not match or int(match[2]) < int(match[1]):
        raise RegistryError("RANGE_INVALID", detail={"Content-Range": header[:100]})
    return int(match[1]), int(match[2])


def too_large(limit: int, size: int) -> RegistryError:
    return RegistryError("SIZE_INVALID", message="blob exceeds the registry's size limit", status=413,
                         detail={"limit": limit, "size": size})


class _Streaming(RegistryHandler):
    """Shared body plumbing: a writer when the request carries upload data."""

    writer: UploadWriter | None = None
    upload: Upload | None = None
    cancel_on_close: bool = False
    write_failure: OSError | RegistryError | None = None

    def check_declared_size(self, existing: int) -> None:
        """Refuse before reading a body whose declared length takes the blob over the limit."""
        limit, length = self.registry.config.max_blob_size, self.request.headers.get("Content-Length", "")
        if limit and length.isascii() and length.isdigit() and existing + int(length) > limit:
            raise too_large(limit, existing + int(length))

    def data_received(self, chunk: bytes) -> None:
        """Append a chunk; a failed write (disk full, over the size limit) is kept and reported
        once the body ends, since tornado cannot answer from inside the body stream."""
        if self.writer is None or self.write_failure is not None:
            return
        limit = self.registry.config.max_blob_size
        try:
            if limit and self.writer.offset + len(chunk) > limit:
                raise too_large(limit, self.writer.offset + len(chunk))
            self.writer.write(chunk)
        except (OSError, RegistryError) as exc:
            self.write_failure = exc
            self.writer.rollback()

    def check_write(self) -> None:
        if isinstance(self.write_failure, RegistryError):
            raise self.write_failure
        if self.write_failure is not None:
            raise RegistryError("UNKNOWN", message="cannot store upload",
                                detail=self.write_failure.strerror or str(self.write_failure))

    def on_connection_close(self) -> None:
        if self.writer is not None:
            self.writer.close(keep_hash=False)
            self.writer = None
            if self.cancel_on_close and self.upload is not None:
                self.storage.cancel_upload(self.upload)

    def on_finish(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def location(self, upload: Upload) -> None:
        self.set_header("Location", f"/v2/{upload.repo}/blobs/uploads/{upload.id}")
        self.set_header("Docker-Upload-UUID", upload.id)

    async def commit(self, upload: Upload, digest: str) -> None:
        self.check_write()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        await IOLoop.current().run_in_executor(None, self.storage.commit_upload, upload, digest)
        self.set_status(201)
        self.set_header("Location", f"/v2/{upload.repo}/blobs/{digest}")
        self.set_header("Docker-Content-Digest", digest)
        self.set_header("Content-Length", 0)
        self.finish()


@stream_request_body
class UploadStartHandler(_Streaming):
    """POST: start a session (202), upload monolithically (``?digest=``, 201), or mount (201)."""

    ACTIONS: ClassVar[dict[str, tuple[str, ...]]] = {"POST": ("pull", "push")}

    mounted: str | None = None

    def prepare(self) -> None:
        super().prepare()
        digest, source = self.get_query_argument("digest", None), self.get_query_argument("from", None)
        mount = self.get_query_argument("mount", None)
        if mount and source and self._mount(validate_digest(mount), source):
            return
        if digest is not None:
            validate_digest(digest)
            self.check_declared_size(0)
            self.upload = self.storage.start_upload(self.name)
            self.writer, self.cancel_on_close = self.upload.writer(), True

    def _mount(self, digest: str, source: str) -> bool:
        try:
            self.require(Scope("repository", validate_name(source), ("pull",)))
        except RegistryError:
            return False  # no access to the source: fall back to an upload, as distribution does
        if not self.storage.mount_blob(self.name, source, digest):
            return False
        self.mounted = digest
        return True

    async def post(self, name: str) -> None:
        if self.mounted is not None:
            self.set_status(201)
            self.set_header("Location", f"/v2/{name}/blobs/{self.mounted}")
            self.set_header("Docker-Content-Digest", self.mounted)
            self.set_header("Content-Length", 0)
            self.finish()
            return
        if self.upload is not None:
            self.cancel_on_close = False
            try:
                await self.commit(self.upload, self.get_query_argument("digest", ""))
            except BaseException:
                with contextlib.suppress(RegistryError, OSError):
                    self.storage.cancel_upload(self.upload)  # a monolithic upload is all or nothing
                raise
            return
        upload = self.storage.start_upload(name)
        self.set_status(202)
        self.location(upload)
        self.set_header("Range", "0-0")
        self.set_header("Content-Length", 0)
        self.finish()


@stream_request_body
class UploadHandler(_Streaming):
    """GET (progress), PATCH (append a chunk), PUT (finish with ``?digest=``), DELETE (cancel)."""

    ACTIONS: ClassVar[dict[str, tuple[str, ...]]] = {"GET": ("pull", "push"), "PATCH": ("pull", "push"), "PUT": ("pull", "push"),
               "DELETE": ("pull", "push")}

    def prepare(self) -> None:
        super().prepare()
        upload = self.storage.upload(self.name, str(self.path_kwargs["uuid"]))
        self.upload = upload
        self._range: tuple[int, int] | None = None
        if self.request.method == "PUT":
            validate_digest(self.get_query_argument("digest", ""))
        if self.request.method == "PATCH" and self.request.headers.get("Content-Range"):
            self._range = parse_content_range(self.request.headers["Content-Range"])
            if self._range[0] != upload.size:
                raise RegistryError("RANGE_INVALID", headers={"Range": self.range_header(upload.size)},
                                    detail={"expected_start": upload.size, "got": self._range[0]})
        if self.request.method in ("PATCH", "PUT"):
            self.check_declared_size(upload.size)
            self.writer = upload.writer()

    def _progress(self, status: int, size: int) -> None:
        assert self.upload is not None
        self.set_status(status)
        self.location(self.upload)
        self.set_header("Range", self.range_header(size))
        self.set_header("Content-Length", 0)
        self.finish()

    def get(self, name: str, uuid: str) -> None:
        assert self.upload is not None
        self._progress(204, self.upload.size)

    def patch(self, name: str, uuid: str) -> None:
        assert self.writer is not None
        self.check_write()
        if self._range is not None and self.writer.offset != self._range[1] + 1:
            self.writer.rollback()
            raise RegistryError("RANGE_INVALID", detail="Content-Range does not match the body's length",
                                headers={"Range": self.range_header(self.writer.offset)})
        self._progress(202, self.writer.offset)

    async def put(self, name: str, uuid: str) -> None:
        assert self.upload is not None
        await self.commit(self.upload, self.get_query_argument("digest", ""))

    def delete(self, name: str, uuid: str) -> None:
        assert self.upload is not None
        self.storage.cancel_upload(self.upload)
        self.set_status(204)
        self.finish()
