"""The Engine API application: one route table, and version negotiation in one place.

Routes are written without a version; ``EngineApplication.find_handler`` strips an optional
``/v1.xx`` prefix, remembers the version on the request (``request.api_version``) and answers
dockerd's 400 for a version outside ``MIN_API_VERSION``…``API_VERSION``. Handlers adapt their
output to older versions through :mod:`dockyard.api.compat`.
"""

from __future__ import annotations

import functools
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import tornado.web
from tornado.httputil import HTTPServerRequest
from tornado.routing import PathMatches

from .. import API_VERSION, MIN_API_VERSION
from .handlers import (
    build,
    container_io,
    containers,
    distribution,
    execs,
    images,
    networks,
    system,
    volumes,
)
from .handlers.base import (
    CleanPathRedirect,
    NotFoundHandler,
    VersionErrorHandler,
    parse_version,
    unclean_path_target,
)

access_log = logging.getLogger("dockyard.api.access")

_VERSION_PREFIX = re.compile(r"^/v([0-9][0-9.]*)(?=/)")
_LITERAL_SEGMENT = re.compile(r"[A-Za-z0-9_.-]+")

ROUTES: list[tuple[str, type[tornado.web.RequestHandler]]] = [
    (r"/_ping", system.PingHandler),
    (r"/version", system.VersionHandler),
    (r"/info", system.InfoHandler),
    (r"/system/df", system.SystemDfHandler),
    (r"/images/json", images.ListHandler),
    (r"/images/load", images.LoadHandler),
    (r"/images/create", distribution.CreateHandler),  # fromImage: pull; fromSrc: import
    (r"/images/prune", images.PruneHandler),
    (r"/images/get", images.SaveManyHandler),
    (r"/images/(.+)/json", images.InspectHandler),
    (r"/images/(.+)/history", images.HistoryHandler),
    (r"/images/(.+)/tag", images.TagHandler),
    (r"/images/(.+)/get", images.SaveHandler),
    (r"/images/search", distribution.SearchHandler),
    (r"/images/(.+)/push", distribution.PushHandler),
    (r"/auth", distribution.AuthHandler),
    (r"/distribution/(.+)/json", distribution.InspectHandler),
    (r"/images/(.+)", images.ImageHandler),
    (r"/build", build.BuildHandler),
    (r"/build/prune", build.PruneHandler),
    *containers.ROUTES,
    *networks.ROUTES,
    *volumes.ROUTES,
    (rf"/containers/{containers.NAME}/exec", execs.CreateHandler),
    (r"/exec/([^/]+)/start", execs.StartHandler),
    (r"/exec/([^/]+)/json", execs.InspectHandler),
    (r"/exec/([^/]+)/resize", execs.ResizeHandler),
    (rf"/containers/{containers.NAME}/stats", container_io.StatsHandler),
    (rf"/containers/{containers.NAME}/archive", container_io.ArchiveHandler),
    (rf"/containers/{containers.NAME}/export", container_io.ExportHandler),
    (rf"/containers/{containers.NAME}/changes", container_io.ChangesHandler),
    (r"/commit", container_io.CommitHandler),
    (r"/containers/(.+)", containers.LinkNameRemoveHandler),  # last: after every /containers/x/verb
]


@functools.lru_cache(maxsize=64)
def version_error(version: str) -> str | None:
    """dockerd's message for an unsupported client version, or None when it is supported
    (cached: every request with a ``/v1.xx`` prefix asks, clients use one or two versions)."""
    wanted = parse_version(version)
    if wanted > parse_version(API_VERSION):
        return f"client version {version} is too new. Maximum supported API version is {API_VERSION}"
    if wanted < parse_version(MIN_API_VERSION):
        return (f"client version {version} is too old. Minimum supported API version is "
                f"{MIN_API_VERSION}, please upgrade your client to a newer version")
    return None


Route = tuple[PathMatches, type[tornado.web.RequestHandler]]


def index_routes(routes: list[tuple[str, type[tornado.web.RequestHandler]]]) -> dict[str, list[Route]]:
    """The route table by first path segment, in table order: a request tries the few routes
    of its segment, not the seventy before (tornado's router matches every pattern in turn,
    ~0.1 ms of each request here). Every pattern starts with a literal segment, so no route
    of another segment could have matched."""
    index: dict[str, list[Route]] = {}
    for pattern, handler in routes:
        segment = pattern[1:].split("/", 1)[0]
        if not _LITERAL_SEGMENT.fullmatch(segment):
            raise ValueError(f"route {pattern!r} must start with a literal path segment")
        index.setdefault(segment, []).append((PathMatches(pattern), handler))
    return index


class EngineApplication(tornado.web.Application):
    def __init__(self, handlers: list[tuple[str, type[tornado.web.RequestHandler]]],
                 **settings: Any) -> None:
        super().__init__(handlers, **settings)
        self.routes_by_segment = index_routes(handlers)

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> Any:
        target = unclean_path_target(request.path, request.query)
        if target is not None:
            return self.get_handler_delegate(request, CleanPathRedirect, {"location": target})
        match = _VERSION_PREFIX.match(request.path)
        if match:
            version = match.group(1)
            message = version_error(version)
            if message is not None:
                return self.get_handler_delegate(request, VersionErrorHandler, {"message": message})
            request.api_version = version  # type: ignore[attr-defined]
            request.path = request.path[match.end():]
        if "%0a" in request.path.lower():  # dockerd's routes take a name as ``.*``: no newline
            return self.get_handler_delegate(request, NotFoundHandler)
        for matcher, handler in self.routes_by_segment.get(request.path[1:].split("/", 1)[0], ()):
            params = matcher.match(request)
            if params is not None:
                return self.get_handler_delegate(request, handler, **params)
        return super().find_handler(request, **kwargs)  # no route: the default handler's 404


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """Requests are debug-level noise, as in dockerd; server errors stay visible."""
    status = handler.get_status()
    level = logging.ERROR if status >= 500 else logging.DEBUG
    if access_log.isEnabledFor(level):
        request = handler.request
        access_log.log(level, "%d %s %s %.1fms", status, request.method, request.uri,
                       1000.0 * request.request_time())


def make_app(engine: Any, executor: ThreadPoolExecutor | None = None) -> EngineApplication:
    """The Engine API over ``engine`` (anything with the :class:`dockyard.engine.Engine` methods)."""
    executor = executor or ThreadPoolExecutor(max_workers=16, thread_name_prefix="engine")
    return EngineApplication(
        ROUTES, engine=engine, executor=executor, default_handler_class=NotFoundHandler,
        log_function=_log_request, compress_response=False,
    )
