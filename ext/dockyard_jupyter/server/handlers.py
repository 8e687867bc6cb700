"""Thin handlers: ``/dockyard/status`` and the Engine API proxy ``/dockyard/api/…``.
The route table is at the bottom."""

from __future__ import annotations

import json
from http.client import responses
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import httputil, web
from tornado.iostream import StreamClosedError

from dockyard.errors import DockyardError

from .proxy import DROP_RESPONSE, EngineProxy


class ClientGone(Exception):
    """The browser went away mid-stream; raising it from the chunk callback ends the upstream
    request too."""


class DockyardHandler(ExtensionHandlerMixin, APIHandler):
    """Errors leave as Engine-style JSON ``{"message": …}`` from this one place."""

    @property
    def proxy(self) -> EngineProxy:
        return self.settings["dockyard_proxy"]  # type: ignore[no-any-return]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, DockyardError):
            status_code, message = exc.status, str(exc)
        elif isinstance(exc, web.HTTPError):
            message = exc.log_message or responses.get(status_code, "error")
        else:
            message = responses.get(status_code, "Internal Server Error")
        self.set_status(status_code)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))


class StatusHandler(DockyardHandler):
    @web.authenticated
    async def get(self) -> None:
        status: dict[str, Any] = {"host": self.proxy.host, "reachable": False}
        try:
            version = await self.proxy.get_json("/version")
            status.update(reachable=True, version=version.get("Version"),
                          api_version=version.get("ApiVersion"))
        except Exception as exc:  # noqa: BLE001 - unreachable is a status, not an error
            status["error"] = str(exc) or type(exc).__name__
        manager = self.settings.get("dockyard_manager")
        status["daemon"] = manager.status() if manager is not None else {"managed": False}
        self.finish(status)


class ProxyHandler(DockyardHandler):
    """Any Engine API call, forwarded with the daemon's status, headers and body as it streams."""

    _gone = False

    def on_connection_close(self) -> None:
        self._gone = True

    def _on_headers(self, code: int, reason: str, headers: httputil.HTTPHeaders) -> None:
        self.set_status(code, reason)
        self.clear_header("Content-Type")
        for name, value in headers.get_all():
            if name.lower() not in DROP_RESPONSE:
                self.add_header(name, value)

    def _on_chunk(self, chunk: bytes) -> None:
        if self._gone:
            raise ClientGone()
        self.write(chunk)
        self.flush()

    async def _forward(self, path: str) -> None:
        target = path + (f"?{self.request.query}" if self.request.query else "")
        try:
            response = await self.proxy.request(
                self.request.method or "GET", target, self.request.headers,
                self.request.body or None, self._on_headers, self._on_chunk)
        except (ClientGone, StreamClosedError):
            return
        except OSError as exc:
            raise self._unreachable(exc) from None
        if response.code == 599:
            raise self._unreachable(response.error)
        self.finish()

    def _unreachable(self, cause: BaseException | None) -> web.HTTPError:
        reason = getattr(cause, "strerror", None) or str(cause)
        return web.HTTPError(502, f"dockyard daemon at {self.proxy.host} is unreachable: "
                                  f"{reason}")

    @web.authenticated
    async def get(self, path: str) -> None:
        await self._forward(path)

    @web.authenticated
    async def head(self, path: str) -> None:
        await self._forward(path)

    @web.authenticated
    async def post(self, path: str) -> None:
        await self._forward(path)

    @web.authenticated
    async def put(self, path: str) -> None:
        await self._forward(path)

    @web.authenticated
    async def delete(self, path: str) -> None:
        await self._forward(path)


def route_table() -> list[tuple[str, type[DockyardHandler]]]:
    return [
        (r"/dockyard/status", StatusHandler),
        (r"/dockyard/api/(.*)", ProxyHandler),
    ]
