"""An Engine API client for the server side: tornado's HTTP client reaching the daemon's unix
socket through a resolver that maps a placeholder host name to the socket path, so responses
stream chunk by chunk (logs follow, build and pull progress) instead of being buffered."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from tornado import httputil
from tornado.httpclient import HTTPRequest, HTTPResponse
from tornado.iostream import IOStream
from tornado.netutil import Resolver
from tornado.simple_httpclient import SimpleAsyncHTTPClient
from tornado.tcpclient import TCPClient

UNIX_HOST = "dockyard-daemon"
BODY_METHODS = {"POST", "PUT", "PATCH"}
# Jupyter's credentials must never reach the daemon; hop-by-hop headers are per connection.
DROP_REQUEST = {"host", "cookie", "authorization", "x-xsrftoken", "connection", "keep-alive",
                "transfer-encoding", "content-length", "upgrade", "accept-encoding"}
DROP_RESPONSE = {"connection", "keep-alive", "transfer-encoding", "content-length",
                 "content-encoding", "date"}

OnHeaders = Callable[[int, str, httputil.HTTPHeaders], None]
OnChunk = Callable[[bytes], None]
BodyProducer = Callable[[Callable[[bytes], Awaitable[None]]], Awaitable[None]]


class UnixResolver(Resolver):
    """Every host name resolves to one unix socket."""

    def initialize(self, socket_path: str) -> None:
        self.socket_path = socket_path

    async def resolve(self, host: str, port: int,
                      family: socket.AddressFamily = socket.AF_UNSPEC) -> list[tuple[int, Any]]:
        return [(socket.AF_UNIX, self.socket_path)]


def base_url(host: str) -> tuple[str, Resolver | None]:
    """Engine host (``unix://PATH``, ``tcp://H:P``, ``http(s)://H:P``) → URL base + resolver."""
    if host.startswith("unix://"):
        return f"http://{UNIX_HOST}", UnixResolver(socket_path=host[len("unix://"):])
    parts = urlsplit(host)
    scheme = "https" if parts.scheme == "https" else "http"
    return f"{scheme}://{parts.netloc}", None


class EngineProxy:
    def __init__(self, host: str) -> None:
        self.host = host
        self.base, resolver = base_url(host)
        self.resolver = resolver
        kwargs: dict[str, Any] = {"max_clients": 64, "max_body_size": 1 << 40,
                                  "max_buffer_size": 1 << 40}
        # container ports are plain TCP: never through the unix-socket resolver
        self.direct = SimpleAsyncHTTPClient(force_instance=True, **kwargs)
        if resolver is not None:
            kwargs["resolver"] = resolver
        self.client = SimpleAsyncHTTPClient(force_instance=True, **kwargs)

    def request(self, method: str, path: str, headers: httputil.HTTPHeaders,
                body_producer: BodyProducer | None, on_headers: OnHeaders,
                on_chunk: OnChunk, base: str | None = None,
                direct: bool = False) -> Awaitable[HTTPResponse]:
        """Send one request; the body streams from ``body_producer`` with the client's framing
        (its Content-Length, else chunked), the response arrives through the callbacks."""
        forward = httputil.HTTPHeaders({k: v for k, v in headers.get_all()
                                        if k.lower() not in DROP_REQUEST})
        body: bytes | None = None
        if body_producer is not None:
            if "Content-Length" in headers:
                forward["Content-Length"] = headers["Content-Length"]
            # tornado would call an untyped POST body a form; the daemon would then parse it
            forward.setdefault("Content-Type", "application/octet-stream")
        elif method in BODY_METHODS:
            body = b""
        req = HTTPRequest(f"{base or self.base}/{path.lstrip('/')}", method=method,
                          headers=forward,
                          body=body, body_producer=body_producer,  # type: ignore[arg-type]
                          header_callback=_HeaderParser(on_headers), streaming_callback=on_chunk,
                          allow_nonstandard_methods=True, decompress_response=False,
                          connect_timeout=10, request_timeout=0, follow_redirects=False)
        return (self.direct if direct else self.client).fetch(req, raise_error=False)

    async def get_json(self, path: str, timeout: float = 5.0) -> Any:
        import json

        response = await self.client.fetch(f"{self.base}/{path.lstrip('/')}",
                                           connect_timeout=timeout, request_timeout=timeout)
        return json.loads(response.body)

    async def connect(self) -> IOStream:
        """A raw connection to the daemon (for hijacked streams)."""
        parts = urlsplit(self.base)
        return await TCPClient(resolver=self.resolver).connect(
            parts.hostname or UNIX_HOST, parts.port or 80)

    def close(self) -> None:
        self.client.close()
        self.direct.close()


class _HeaderParser:
    """tornado hands header lines one by one; collect them, report when the block ends."""

    def __init__(self, on_headers: OnHeaders) -> None:
        self.on_headers = on_headers
        self.start: httputil.ResponseStartLine | None = None
        self.headers = httputil.HTTPHeaders()

    def __call__(self, line: str) -> None:
        if line.startswith("HTTP/"):
            self.start = httputil.parse_response_start_line(line.strip())
            self.headers = httputil.HTTPHeaders()
        elif line.strip():
            self.headers.parse_line(line)
        elif self.start is not None and self.start.code >= 200:
            self.on_headers(self.start.code, self.start.reason, self.headers)
