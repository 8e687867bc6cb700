"""The base of every Engine API handler: engine access, query parsing, and the ONE error edge.

Handlers parse the request, call the engine in the thread pool (``await self.call(...)``),
and write the result. Every exception ends in ``write_error``, which speaks dockerd's wire
format: ``{"message": …}`` with the status of the :mod:`dockyard.errors` class.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar

import tornado.httputil
import tornado.web
from tornado.ioloop import IOLoop

from ... import API_VERSION, __version__, gojson
from ...errors import DockyardError, Unavailable
from ...filters import parse as parse_filters
from ..streams import PulledStream, error_message

log = logging.getLogger("dockyard.api")
T = TypeVar("T")

_FALSE = {"", "0", "no", "false", "none"}
SHUTTING_DOWN = "the daemon is shutting down"
_DEFAULT_HEADERS = {"Server": f"Dockyard/{__version__} (linux)", "Api-Version": API_VERSION,
                    "Docker-Experimental": "false", "Ostype": "linux"}


def parse_version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


class EngineHandler(tornado.web.RequestHandler):
    """Shared plumbing; subclasses implement ``get``/``post``/``delete`` in a few lines."""

    def set_default_headers(self) -> None:
        """dockerd's headers on every response: constants, so they skip ``set_header``'s
        checks (every request pays for this)."""
        self._headers.update(_DEFAULT_HEADERS)

    def compute_etag(self) -> None:
        """Engine API responses are never cached: no ETag."""
        return

    @property
    def engine(self) -> Any:
        return self.application.settings["engine"]

    @property
    def executor(self) -> Executor:
        executor: Executor = self.application.settings["executor"]
        return executor

    @property
    def api_version(self) -> str:
        """The version the client asked for with ``/v1.xx/``, else the newest."""
        return getattr(self.request, "api_version", None) or API_VERSION

    def version_below(self, version: str) -> bool:
        return parse_version(self.api_version) < parse_version(version)

    async def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking engine call in the thread pool; once the daemon has shut the pool
        down (stopping: calls in flight drain, new ones are refused), :class:`Unavailable`."""
        try:
            future = IOLoop.current().run_in_executor(self.executor, lambda: func(*args, **kwargs))
        except RuntimeError:  # "cannot schedule new futures after shutdown"
            raise Unavailable(SHUTTING_DOWN) from None
        try:
            return await future
        except asyncio.CancelledError:  # the stopping daemon cancelled the request's task
            raise Unavailable(SHUTTING_DOWN) from None

    def pull(self, iterator: Iterator[Any]) -> PulledStream:
        return PulledStream(iterator, self.executor)

    # ---- query parameters, as dockerd reads them ------------------------------------------

    def bool_arg(self, name: str) -> bool:
        value = self.get_query_argument(name, "")
        return value.strip().lower() not in _FALSE

    def str_arg(self, name: str) -> str | None:
        """As sent (Go's r.Form.Get strips nothing: a name ending in a newline is refused)."""
        value = self.get_query_argument(name, None, strip=False)
        return value if value else None

    def filters_arg(self) -> dict[str, list[str]]:
        """``filters`` as ``{"key": ["v", …]}`` (:func:`dockyard.filters.parse`)."""
        return parse_filters(self.get_query_argument("filters", ""))

    # ---- output ----------------------------------------------------------------------------

    def write_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(gojson.dumps(value) + "\n")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """The one place an exception becomes a wire error."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, DockyardError):
            status_code = exc.status
            message = error_message(exc)
        elif isinstance(exc, tornado.web.HTTPError) and status_code == 405:
            status_code, message = 404, "page not found"  # dockerd's router: no route, no 405
        elif isinstance(exc, tornado.web.HTTPError):
            message = exc.log_message or self._reason
        else:
            message = error_message(exc) if exc is not None else self._reason
        self.set_status(status_code)
        if status_code == 304:
            self.finish()
            return
        self.set_header("Content-Type", "application/json")
        self.finish(gojson.dumps({"message": message}) + "\n")

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Expected errors are one log line; only real bugs get a traceback."""
        if isinstance(value, DockyardError | tornado.web.HTTPError):
            log.debug("%s %s: %s", self.request.method, self.request.uri, value)
        else:
            super().log_exception(typ, value, tb)


class NotFoundHandler(EngineHandler):
    """Every unknown path, as dockerd answers it."""

    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "application/json")
        self.finish(gojson.dumps({"message": "page not found"}) + "\n")


class VersionErrorHandler(EngineHandler):
    """A ``/v1.xx/`` prefix outside the supported range: dockerd's 400 and wording."""

    def initialize(self, message: str) -> None:
        self.message = message

    def prepare(self) -> None:
        self.set_status(400)
        self.set_header("Content-Type", "application/json")
        self.finish(gojson.dumps({"message": self.message}) + "\n")


class CleanPathRedirect(tornado.web.RequestHandler):
    """A path that is not clean (``//``, ``.``, ``..`` segments, once decoded), as dockerd's
    router (gorilla/mux) answers it before any of its handlers: 301 to the clean path, the query
    kept, none of dockerd's headers; the docker CLI follows it to the clean name
    (``docker image inspect /busybox`` shows busybox)."""

    def initialize(self, location: str) -> None:
        self.location = location

    def set_default_headers(self) -> None:
        self._headers = tornado.httputil.HTTPHeaders()

    def prepare(self) -> None:
        self.set_status(301)
        self.set_header("Location", self.location)
        self.finish()


def unclean_path_target(raw_path: str, query: str) -> str | None:
    """Where gorilla/mux's ``cleanPath`` redirects ``raw_path`` (None: it is clean): Go's
    ``path.Clean`` of the decoded path, its trailing slash kept, escaped as Go's URL escapes a
    path (a path without ``//``, ``/.`` or an escape is clean: every request asks)."""
    if "//" not in raw_path and "/." not in raw_path and "%" not in raw_path:
        return None
    path = urllib.parse.unquote(raw_path)
    parts: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if parts:
                parts.pop()
        elif segment not in ("", "."):
            parts.append(segment)
    clean = "/" + "/".join(parts) + ("/" if path.endswith("/") and parts else "")
    if clean == path:
        return None
    return urllib.parse.quote(clean, safe="/$&+,:;=@") + (f"?{query}" if query else "")
