"""The OCI Distribution Spec's error codes, registered as data and serialised in one place.

Every failure a registry client can see is a :class:`RegistryError` carrying one of the codes in
:data:`CODES`; the HTTP status comes from the table, never from the raising site, so a code is
always answered with the status the spec (and distribution) gives it. Lower layers raise the
engine's typed errors (:mod:`dockyard.errors`); :func:`from_exception` is the single translation
edge, and :func:`body` the single serialiser: ``{"errors": [{"code", "message", "detail"}]}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from ..errors import (
    DigestMismatch,
    DockyardError,
    Forbidden,
    InvalidArgument,
    NotFound,
    Unauthorized,
)


@dataclass(frozen=True)
class ErrorCode:
    status: int
    message: str


CODES: Final[dict[str, ErrorCode]] = {
    "BLOB_UNKNOWN": ErrorCode(404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": ErrorCode(400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": ErrorCode(404, "blob upload unknown to registry"),
    "DIGEST_INVALID": ErrorCode(400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": ErrorCode(400, "blob unknown to registry"),
    "MANIFEST_INVALID": ErrorCode(400, "manifest invalid"),
    "MANIFEST_UNKNOWN": ErrorCode(404, "manifest unknown"),
    "NAME_INVALID": ErrorCode(400, "invalid repository name"),
    "NAME_UNKNOWN": ErrorCode(404, "repository name not known to registry"),
    "SIZE_INVALID": ErrorCode(400, "provided length did not match content length"),
    "RANGE_INVALID": ErrorCode(416, "invalid content range"),
    "TAG_INVALID": ErrorCode(400, "manifest tag did not match URI"),
    "PAGINATION_NUMBER_INVALID": ErrorCode(400, "invalid number of results requested"),
    "UNAUTHORIZED": ErrorCode(401, "authentication required"),
    "DENIED": ErrorCode(403, "requested access to the resource is denied"),
    "UNSUPPORTED": ErrorCode(405, "The operation is unsupported."),
    "TOOMANYREQUESTS": ErrorCode(429, "too many requests"),
    "UNKNOWN": ErrorCode(500, "unknown error"),
}
"""``RANGE_INVALID``, ``TAG_INVALID`` and ``PAGINATION_NUMBER_INVALID`` are codes distribution
uses beside the spec's list (a chunk that does not continue where the upload ended, …)."""


class RegistryError(DockyardError):
    """One wire error: a registered ``code``, an optional message override, optional ``detail``.

    ``headers`` travel with the response (``WWW-Authenticate`` on 401, ``Range`` on 416 …);
    ``status`` overrides the table only where the spec names a status but no code (413).
    """

    def __init__(
        self,
        code: str,
        message: str | None = None,
        detail: Any = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        entry = CODES[code]
        super().__init__(message or entry.message)
        self.code = code
        self.status = status or entry.status
        self.message = message or entry.message
        self.detail = detail
        self.headers = headers or {}


def from_exception(exc: BaseException) -> RegistryError:
    """Translate any exception into the wire error a client should see (the one edge)."""
    if isinstance(exc, RegistryError):
        return exc
    if isinstance(exc, DigestMismatch):
        return RegistryError("DIGEST_INVALID", detail={"expected": exc.expected, "actual": exc.actual})
    if isinstance(exc, InvalidArgument):
        return RegistryError("DIGEST_INVALID" if "digest" in str(exc) else "BLOB_UPLOAD_INVALID",
                             detail=str(exc))
    if isinstance(exc, Unauthorized):
        return RegistryError("UNAUTHORIZED", detail=str(exc) or None)
    if isinstance(exc, Forbidden):
        return RegistryError("DENIED", detail=str(exc) or None)
    if isinstance(exc, NotFound):
        return RegistryError("NAME_UNKNOWN", detail=str(exc) or None)
    return RegistryError("UNKNOWN", detail=type(exc).__name__)


def body(error: RegistryError) -> bytes:
    """The spec's error envelope for one error."""
    entry: dict[str, Any] = {"code": error.code, "message": error.message}
    entry["detail"] = error.detail
    return json.dumps({"errors": [entry]}).encode()
