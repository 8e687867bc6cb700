"""``/v2/<name>/manifests/<reference>``: GET, HEAD, PUT, DELETE by tag or digest."""

from __future__ import annotations

from typing import ClassVar

from tornado.web import stream_request_body

from ...oci import mediatypes as mt
from ..errors import RegistryError
from ..manifests import (
    MAX_MANIFEST_BYTES,
    accepted_types,
    check_acceptable,
    default_platform_child,
    parse,
)
from ..names import is_digest, validate_reference
from ..storage import StoredManifest
from .base import RegistryHandler


def _too_large(size: int) -> RegistryError:
    return RegistryError("MANIFEST_INVALID", message="manifest too large", status=413,
                         detail={"limit": MAX_MANIFEST_BYTES, "size": size})


@stream_request_body
class ManifestHandler(RegistryHandler):
    """Streams PUT bodies only to refuse oversize manifests without holding them."""

    ACTIONS: ClassVar[dict[str, tuple[str, ...]]] = {"GET": ("pull",), "HEAD": ("pull",), "PUT": ("push",), "DELETE": ("delete",)}

    def prepare(self) -> None:
        super().prepare()
        self._chunks: list[bytes] = []
        self._received = 0
        length = self.request.headers.get("Content-Length", "0")
        if self.request.method == "PUT" and length.isascii() and length.isdigit() and int(length) > MAX_MANIFEST_BYTES:
            raise _too_large(int(length))

    def data_received(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received <= MAX_MANIFEST_BYTES:
            self._chunks.append(chunk)

    def _describe(self, stored: StoredManifest) -> None:
        self.set_header("Content-Type", stored.media_type)
        self.set_header("Content-Length", len(stored.body))
        self.set_header("Docker-Content-Digest", stored.digest)
        self.set_header("ETag", f'"{stored.digest}"')

    def _stored(self, reference: str) -> StoredManifest:
        """The manifest to serve for this request's ``Accept`` (see ``check_acceptable``)."""
        stored = self.storage.get_manifest(self.name, validate_reference(reference))
        accepted = accepted_types(self.request.headers.get_list("Accept"))
        check_acceptable(stored.media_type, accepted)
        if stored.media_type == mt.DOCKER_MANIFEST_LIST and mt.DOCKER_MANIFEST_LIST not in accepted \
                and not is_digest(reference):
            child = default_platform_child(stored.body)
            if child is None:
                raise RegistryError("MANIFEST_UNKNOWN", detail={"reference": reference})
            stored = self.storage.get_manifest(self.name, child)
        return stored

    def get(self, name: str, reference: str) -> None:
        stored = self._stored(reference)
        self._describe(stored)
        if self.request.headers.get("If-None-Match", "").strip('" ') == stored.digest:
            self.set_status(304)
            self.finish()
            return
        self.finish(stored.body)

    def head(self, name: str, reference: str) -> None:
        self._describe(self._stored(reference))
        self.finish()

    def put(self, name: str, reference: str) -> None:
        validate_reference(reference)
        if self._received > MAX_MANIFEST_BYTES:
            raise _too_large(self._received)
        data = b"".join(self._chunks)
        manifest = parse(data, self.request.headers.get("Content-Type"))
        digest = self.storage.put_manifest(name, reference, data, manifest)
        self.set_status(201)
        self.set_header("Location", f"/v2/{name}/manifests/{digest}")
        self.set_header("Docker-Content-Digest", digest)
        if manifest.subject is not None:
            self.set_header("OCI-Subject", manifest.subject.digest)
        self.set_header("Content-Length", 0)
        self.finish()

    def delete(self, name: str, reference: str) -> None:
        self.storage.delete_manifest(name, validate_reference(reference))
        self.set_status(202)
        self.set_header("Content-Length", 0)
        self.finish()
