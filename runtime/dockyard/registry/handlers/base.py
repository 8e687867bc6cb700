"""The handler base: version header, name validation, authorisation, and the one error writer."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, ClassVar

from tornado.http1connection import HTTP1Connection
from tornado.web import HTTPError, RequestHandler

from ..auth.authenticator import Identity, authorize
from ..auth.policy import Scope
from ..errors import RegistryError, body, from_exception
from ..names import validate_name

if TYPE_CHECKING:
    from ..app import Registry
    from ..storage import Storage

log = logging.getLogger("dockyard.registry")
WRITES = frozenset({"PUT", "POST", "PATCH", "DELETE"})
STREAMED_BODY_LIMIT = 1 << 42


class RegistryHandler(RequestHandler):
    # method → actions it needs on the repository in the URL; None: not repository-scoped
    ACTIONS: ClassVar[dict[str, tuple[str, ...]]] = {}
    identity: Identity

    @property
    def registry(self) -> Registry:
        return self.application.settings["registry"]  # type: ignore[no-any-return]

    @property
    def storage(self) -> Storage:
        return self.registry.storage

    @property
    def name(self) -> str:
        return str(self.path_kwargs.get("name", ""))

    def set_default_headers(self) -> None:
        self.set_header("Docker-Distribution-API-Version", "registry/2.0")
        self.clear_header("Content-Type")

    def base_url(self) -> str:
        return f"{self.request.protocol}://{self.request.host}"

    def scope(self) -> Scope | None:
        if "name" not in self.path_kwargs:
            return None
        return Scope("repository", self.name, self.ACTIONS.get(self.request.method or "GET", ("pull",)))

    def prepare(self) -> None:
        connection = self.request.connection
        if getattr(self, "_stream_request_body", False) and isinstance(connection, HTTP1Connection):
            # streamed bodies never sit in memory: blobs may be any size
            connection.set_max_body_size(STREAMED_BODY_LIMIT)
        if "name" in self.path_kwargs:
            validate_name(self.name)
        if self.registry.config.read_only and self.request.method in WRITES:
            raise RegistryError("UNSUPPORTED", detail="the registry is read-only")
        self.identity = self.require(self.scope())

    def require(self, scope: Scope | None) -> Identity:
        return authorize(self.registry.auth, self.request.headers, self.base_url(), scope)

    def write_json(self, value: Any, content_type: str = "application/json") -> None:
        data = json.dumps(value).encode()
        self.set_header("Content-Type", content_type)
        self.set_header("Content-Length", len(data))
        self.finish(data)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, HTTPError) or exc is None:
            code = "UNSUPPORTED" if status_code == 405 else "UNKNOWN"
            error = RegistryError(code, message=getattr(exc, "log_message", None), status=status_code)
        else:
            error = from_exception(exc)
        self.set_status(error.status)
        if getattr(self, "_stream_request_body", False):
            # An error raised before a streamed body was read makes tornado drop the connection
            # after replying; say so, or a keep-alive client may reuse it and see a reset.
            self.set_header("Connection", "close")
        for key, value in error.headers.items():
            self.set_header(key, value)
        self.set_header("Content-Type", "application/json")
        self.finish(body(error))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, RegistryError) and value.code != "UNKNOWN":
            return
        super().log_exception(typ, value, tb)

    def range_header(self, size: int) -> str:
        """Upload progress as distribution writes it: ``0-<last byte>`` (``0-0`` when empty)."""
        return f"0-{max(size - 1, 0)}"


class NotFoundHandler(RegistryHandler):
    """Anything outside the route table."""

    def prepare(self) -> None:
        raise RegistryError("UNSUPPORTED", message="not found", status=404)
