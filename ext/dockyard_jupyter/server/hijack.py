"""Hijacked Engine API streams (attach, exec start) carried over a websocket.

The Engine API upgrades ``POST /containers/{id}/attach`` and ``POST /exec/{id}/start`` to a raw
bidirectional byte stream (``Upgrade: tcp``); a browser can only hold a websocket, so this
handler opens the raw stream to the daemon and copies bytes both ways: daemon → client as
binary messages (the same 8-byte stdout/stderr frames the daemon sends without a TTY), client
messages → the container's stdin. The request body (exec start's JSON) is the ``body`` query
argument.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import httputil, web, websocket
from tornado.iostream import IOStream, StreamClosedError

from .proxy import EngineProxy

HEADER_LIMIT = 64 * 1024


async def open_hijacked(proxy: EngineProxy, path: str, query: str, body: bytes) -> IOStream:
    """POST with ``Upgrade: tcp`` on a fresh connection; returns it once the daemon switched."""
    stream = await proxy.connect()
    request = (f"POST /{path.lstrip('/')}{'?' + query if query else ''} HTTP/1.1\r\n"
               "Host: docker\r\nContent-Type: application/json\r\nConnection: Upgrade\r\n"
               f"Upgrade: tcp\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    await stream.write(request)
    head = await stream.read_until(b"\r\n\r\n", max_bytes=HEADER_LIMIT)
    lines = head.decode("latin-1").split("\r\n")
    start = httputil.parse_response_start_line(lines[0])
    if start.code in (101, 200):
        return stream
    headers = httputil.HTTPHeaders.parse("\r\n".join(lines[1:]))
    length = int(headers.get("Content-Length", "0") or 0)
    detail = (await stream.read_bytes(length)).decode(errors="replace") if length else ""
    stream.close()
    raise web.HTTPError(start.code, _message(detail) or start.reason)


def _message(body: str) -> str:
    import json

    try:
        return str(json.loads(body).get("message", body)).strip()
    except ValueError:
        return body.strip()


class HijackHandler(WebSocketMixin, websocket.WebSocketHandler,
                    ExtensionHandlerMixin, JupyterHandler):
    upstream: IOStream | None = None

    @property
    def proxy(self) -> EngineProxy:
        return self.settings["dockyard_proxy"]  # type: ignore[no-any-return]

    async def get(self, path: str, *args: Any, **kwargs: Any) -> None:
        if self.current_user is None:
            raise web.HTTPError(403)
        pairs = [(k, v) for k, v in parse_qsl(self.request.query, keep_blank_values=True)]
        body = "".join(v for k, v in pairs if k == "body").encode()
        query = urlencode([(k, v) for k, v in pairs if k != "body"])
        self.upstream = await open_hijacked(self.proxy, path, query, body)
        await super().get(path, *args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        from tornado.ioloop import IOLoop

        IOLoop.current().spawn_callback(self._pump)

    async def _pump(self) -> None:
        """Daemon → client until either side goes away."""
        assert self.upstream is not None
        try:
            while True:
                data = await self.upstream.read_bytes(65536, partial=True)
                await self.write_message(data, binary=True)
        except (StreamClosedError, websocket.WebSocketClosedError):
            pass
        self.close()

    async def on_message(self, message: str | bytes) -> None:
        if self.upstream is not None and not self.upstream.closed():
            data = message.encode() if isinstance(message, str) else message
            await self.upstream.write(data)

    def on_close(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
