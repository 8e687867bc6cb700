"""Thin handlers: ``/dockyard/status`` and the Engine API proxy ``/dockyard/api/…``.
The route table is at the bottom."""

from __future__ import annotations

import asyncio
import json
from http.client import responses
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import httputil, web
from tornado.httpclient import HTTPClientError
from tornado.iostream import IOStream, StreamClosedError
from tornado.tcpclient import TCPClient

from dockyard.errors import DockyardError, NotFound

from .hijack import HijackHandler
from .ports import resolve_port
from .proxy import BODY_METHODS, DROP_RESPONSE, EngineProxy


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


@web.stream_request_body
class ProxyHandler(DockyardHandler):
    """Any Engine API call, forwarded with the daemon's status, headers and body as it streams.
    Request bodies (build contexts, image archives) stream too: nothing is held whole."""

    _gone = False
    _upstream: asyncio.Future[Any] | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self.current_user is None:
            raise web.HTTPError(403)
        if self.request.method in BODY_METHODS and _has_body(self.request.headers):
            self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=8)
            self._upstream = self._start(self._produce)
            self._upstream.add_done_callback(lambda _f: self._drain())

    async def data_received(self, chunk: bytes) -> None:
        if self._upstream is not None and not self._upstream.done():
            await self._chunks.put(chunk)      # a full queue pauses reading from the client

    def _drain(self) -> None:
        """The daemon answered (or failed) before taking the whole body: unblock the reader."""
        while not self._chunks.empty():
            self._chunks.get_nowait()

    async def _produce(self, write: Any) -> None:
        while (chunk := await self._chunks.get()) is not None:
            await write(chunk)

    def _start(self, producer: Any) -> asyncio.Future[Any]:
        return asyncio.ensure_future(self._send(producer))

    async def _send(self, producer: Any) -> Any:
        """The Engine API request; PortHandler sends to a container's port instead."""
        return await self.proxy.request(self.request.method or "GET", self._target(),
                                        self.request.headers, producer, self._on_headers,
                                        self._on_chunk)

    def _target(self) -> str:
        path = self.path_args[-1] if self.path_args else ""
        return (path or "") + (f"?{self.request.query}" if self.request.query else "")

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

    async def _forward(self) -> None:
        if self._upstream is None:
            self._upstream = self._start(None)
        elif not self._upstream.done():
            await self._chunks.put(None)       # the client's body is complete
        try:
            response = await self._upstream
        except (ClientGone, StreamClosedError):
            return
        except DockyardError:
            raise
        except OSError as exc:
            raise self._unreachable(exc) from None
        if response.code == 599:
            raise self._unreachable(response.error)
        self.finish()

    def _unreachable(self, cause: BaseException | None) -> web.HTTPError:
        reason = getattr(cause, "strerror", None) or str(cause)
        return web.HTTPError(502, f"dockyard daemon at {self.proxy.host} is unreachable: "
                                  f"{reason}")

    async def get(self, *_path: str) -> None:
        await self._forward()

    async def head(self, *_path: str) -> None:
        await self._forward()

    async def post(self, *_path: str) -> None:
        await self._forward()

    async def put(self, *_path: str) -> None:
        await self._forward()

    async def delete(self, *_path: str) -> None:
        await self._forward()


class PortHandler(ProxyHandler):
    """A container's HTTP port, through Jupyter's auth: the daemon says where it listens.
    A websocket upgrade is tunnelled byte for byte once the request head is passed on."""

    async def _resolve(self) -> tuple[str, int]:
        container_id, port = self.path_args[0], int(self.path_args[1])
        try:
            container = await self.proxy.get_json(f"/containers/{container_id}/json")
        except HTTPClientError as exc:
            if exc.code != 404:
                raise
            raise NotFound(f"No such container: {container_id}") from None
        return resolve_port(container, port)

    async def _send(self, producer: Any) -> Any:
        host, port = await self._resolve()
        return await self.proxy.request(
            self.request.method or "GET", self._target(), self.request.headers, producer,
            self._on_headers, self._on_chunk, base=f"http://{host}:{port}", direct=True)

    async def get(self, *_path: str) -> None:
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            await self._forward()
            return
        host, port = await self._resolve()
        try:
            upstream = await TCPClient().connect(host, port)
        except OSError as exc:
            raise self._unreachable(exc) from None
        await upstream.write(upgrade_head(self.request, self._target(), f"{host}:{port}"))
        await tunnel(self.detach(), upstream)

    def _unreachable(self, cause: BaseException | None) -> web.HTTPError:
        reason = getattr(cause, "strerror", None) or str(cause)
        return web.HTTPError(502, f"container port {self.path_args[1]} is unreachable: {reason}")


def upgrade_head(request: httputil.HTTPServerRequest, target: str, host: str) -> bytes:
    """The client's upgrade request for the app, minus Jupyter's credentials."""
    lines = [f"{request.method} /{target.lstrip('/')} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in request.headers.get_all()
              if k.lower() not in {"host", "cookie", "authorization", "x-xsrftoken"}]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def tunnel(a: IOStream, b: IOStream) -> None:
    """Copy bytes both ways until one side closes, then close both."""
    async def pipe(src: IOStream, dst: IOStream) -> None:
        try:
            while True:
                await dst.write(await src.read_bytes(65536, partial=True))
        except StreamClosedError:
            pass
        finally:
            src.close()
            dst.close()

    await asyncio.gather(pipe(a, b), pipe(b, a))


class PortRootHandler(DockyardHandler):
    """``…/ports/8080`` → ``…/ports/8080/`` so the app's relative links resolve."""

    @web.authenticated
    def get(self, container_id: str, port: str) -> None:
        self.redirect(self.request.path + "/", permanent=False)


def _has_body(headers: httputil.HTTPHeaders) -> bool:
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        return True
    return headers.get("Content-Length", "0").strip() not in {"", "0"}


def route_table() -> list[tuple[str, type[Any]]]:
    return [
        (r"/dockyard/hijack/(.*)", HijackHandler),
        (r"/dockyard/status", StatusHandler),
        (r"/dockyard/api/(.*)", ProxyHandler),
        (r"/dockyard/containers/([^/]+)/ports/(\d+)", PortRootHandler),
        (r"/dockyard/containers/([^/]+)/ports/(\d+)(/.*)", PortHandler),
    ]
