"""HTTP/1.1 on the daemon's sockets: an ``asyncio.Protocol`` per connection that feeds
tornado's ``Application`` (routing, ``RequestHandler``s) as tornado's own ``HTTPServer`` does.

Why not tornado's ``HTTPServer``: its connection layer (``IOStream``, ``HTTP1Connection``, a
coroutine and several futures per read) costs ~0.2 ms of the loop's CPU per request here, and
docker-py's ``containers.run`` makes seven requests, five on new connections — ~1.5 ms a run,
all of it on the path the client waits on (docs/containers.md, "The HTTP layer"). Here a
request that arrives in one piece is parsed straight from the protocol's buffer; a coroutine
per connection only waits when there is something to wait for (the rest of a body, a
handler's flow control, the response).

What a handler sees is tornado's ``HTTPConnection`` interface: ``write_headers``, ``write``
and ``finish`` (futures for flow control), ``set_close_callback``, ``set_max_body_size``, and
``detach`` — which hands back the socket (a duplicate of the transport's fd) and whatever
the client sent past the request, for hijacked streams (:mod:`.hijack`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from tornado import httputil

from ..errors import Unavailable

log = logging.getLogger(__name__)

MAX_HEADER = 64 << 10
MAX_BODY = 16 << 20
_CHUNK = 64 << 10
_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class _Context:
    """What ``HTTPServerRequest`` reads from ``connection.context``."""

    protocol = "http"

    def __init__(self, family: int, address: Any) -> None:
        self.address = address
        inet = family in (socket.AF_INET, socket.AF_INET6) and address
        self.remote_ip = address[0] if inet else "0.0.0.0"

    def __str__(self) -> str:
        return self.remote_ip if self.remote_ip != "0.0.0.0" else str(self.address or "unix")


class _Closed(Exception):
    """The client went away while we waited for more of its request."""


class Connection(asyncio.Protocol):
    """One client connection: requests answered in order, one at a time (a pipelined one
    waits in the buffer), kept alive as HTTP/1.1 says unless the client or a response ends it."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.context: _Context | None = None
        self._buf = bytearray()
        self._eof = False
        self._data: asyncio.Future[None] | None = None  # the body reader waits for input
        self._drained: asyncio.Future[None] | None = None  # writers wait for the buffer
        self._paused = False
        self._detached = False
        self._busy = False  # a request is being read or answered
        self._reset()

    def _reset(self) -> None:
        self._delegate: httputil.HTTPMessageDelegate | None = None
        self._request_line: httputil.RequestStartLine | None = None
        self._reading_body = False
        self._read_finished = False
        self._write_finished = False
        self._started = False  # a response's headers went out
        self._chunked = False
        self._keep_alive = True
        self._max_body = self.server.max_body_size
        self._close_callback: Callable[[], None] | None = None

    # ---- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        self.context = _Context(sock.family if sock is not None else 0,
                                transport.get_extra_info("peername"))
        self.server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if self._data is not None:
            self._wake()
        elif not self._busy:
            self._serve_buffered()
        if len(self._buf) > MAX_HEADER + _CHUNK and not self._paused and self.transport:
            self._paused = True  # nobody takes these bytes yet: stop reading for now
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self._eof = True  # as tornado's: a client that stops sending has gone
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self.server.connections.discard(self)
        self._wake()
        self.resume_writing()  # a writer waiting for the buffer to drain: it never will
        if self._detached:
            return
        if self._reading_body and self._delegate is not None:
            self._reading_body = False
            self._delegate.on_connection_close()
        elif self._close_callback is not None:
            callback, self._close_callback = self._close_callback, None
            callback()

    def pause_writing(self) -> None:
        if self._drained is None or self._drained.done():
            self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drained is not None:
            _resolve(self._drained)

    def _wake(self) -> None:
        if self._data is not None:
            _resolve(self._data)

    # ---- reading requests ----------------------------------------------------------------

    def _serve_buffered(self) -> None:
        """Parse what is buffered. A request whose body is all here goes to its handler at
        once; one whose body is still coming gets a coroutine that reads it."""
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        while not self._busy and not self._detached and self.transport is not None:
            while self._buf[:2] == b"\r\n":  # blank lines between requests are allowed
                del self._buf[:2]
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > MAX_HEADER:
                    self._bad_request("header too large")
                elif self._eof:
                    self._close()
                return
            head = bytes(self._buf[:end]).decode("latin-1")
            del self._buf[:end + 4]
            self._busy = True
            try:
                rest = self._start(head)
            except httputil.HTTPInputError as exc:
                self._bad_request(str(exc))
                return
            except Exception:  # a handler's bug: logged, this connection ends
                log.exception("error serving %r", head.partition("\r\n")[0])
                self._close()
                return
            if rest is not None:
                asyncio.ensure_future(self._read_rest(rest))
                return
            if self._write_finished:  # answered already (finish() left the rest to us)
                self._busy = False
                if not self._keep_alive:
                    self._close()
                    return

    def _start(self, head: str) -> Any:
        """Headers to the handler, and the body if it is all here; returns a coroutine that
        reads the rest when it is not (None: read, and the handler has it)."""
        line, _, rest = head.partition("\r\n")
        start_line = httputil.parse_request_start_line(line)
        headers = httputil.HTTPHeaders.parse(rest)
        self._reset()
        self._request_line = start_line
        self._keep_alive = _keep_alive(start_line, headers)
        length, chunked = _framing(headers)
        self._delegate = delegate = self.server.app.start_request(self.server, self)
        self._reading_body = True
        ready = delegate.headers_received(start_line, headers)
        if ready is not None or chunked or (length and len(self._buf) < length):
            return self._body(ready, length, chunked, headers.get("Expect") == "100-continue")
        if self._detached:
            return None
        if length:
            if length > self._max_body:
                raise httputil.HTTPInputError("Content-Length too long")
            body = bytes(self._buf[:length])
            del self._buf[:length]
            delegate.data_received(body)  # not a streaming handler: it only keeps the chunk
        self._request_read()
        return None

    def _request_read(self) -> None:
        self._reading_body = False
        self._read_finished = True
        if not self._write_finished and self._delegate is not None:
            self._delegate.finish()  # the handler runs (a task of its own)

    async def _body(self, ready: Awaitable[None] | None, length: int | None,
                    chunked: bool, expect_continue: bool) -> None:
        if ready is not None:
            await ready
        if self._detached:
            return
        if expect_continue and not self._write_finished:
            self._send(b"HTTP/1.1 100 (Continue)\r\n\r\n")
        if chunked:
            await self._read_chunked()
        elif length:
            if length > self._max_body:
                raise httputil.HTTPInputError("Content-Length too long")
            await self._relay(length)
        self._request_read()

    async def _read_rest(self, rest: Awaitable[None]) -> None:
        try:
            await rest
        except httputil.HTTPInputError as exc:
            self._bad_request(str(exc))
        except _Closed:
            pass  # connection_lost told the handler
        except Exception:  # a handler's bug: logged, this connection ends
            log.exception("error reading the body of %s", self._request_line)
            self._close()

    async def _read_chunked(self) -> None:
        total = 0
        while True:
            size_line = await self._take_line()
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise httputil.HTTPInputError("invalid chunk size") from None
            if size == 0:
                while await self._take_line():  # trailers, then the empty line
                    pass
                return
            total += size
            if total > self._max_body:
                raise httputil.HTTPInputError("chunked body too large")
            await self._relay(size)
            if await self._take(2) != b"\r\n":
                raise httputil.HTTPInputError("improperly terminated chunk")

    async def _relay(self, size: int) -> None:
        """``size`` bytes of the body to the handler, in pieces as they come."""
        while size > 0:
            piece = await self._take(min(size, _CHUNK), partial=True)
            size -= len(piece)
            await self._deliver(piece)

    async def _deliver(self, piece: bytes) -> None:
        if self._write_finished or self._delegate is None:
            return  # answered before the body was read: the rest is dropped
        pending = self._delegate.data_received(piece)
        if pending is not None:
            await pending

    async def _more(self) -> None:
        if self._eof:
            raise _Closed
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        self._data = asyncio.get_running_loop().create_future()
        try:
            await self._data
        finally:
            self._data = None

    async def _take(self, n: int, partial: bool = False) -> bytes:
        while len(self._buf) < (1 if partial else n):
            await self._more()
        piece = bytes(self._buf[:n])
        del self._buf[:n]
        return piece

    async def _take_line(self) -> bytes:
        while (end := self._buf.find(b"\r\n")) < 0:
            if len(self._buf) > 4096:
                raise httputil.HTTPInputError("chunk header too long")
            await self._more()
        line = bytes(self._buf[:end])
        del self._buf[:end + 2]
        return line

    def _next(self) -> None:
        """The request is read and answered: the next one, or the end."""
        self._busy = False
        if not self._keep_alive:
            self._close()
        elif self._buf or self._eof or self._paused:
            asyncio.get_running_loop().call_soon(self._serve_buffered)

    # ---- tornado's HTTPConnection --------------------------------------------------------

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        self._close_callback = callback

    def set_max_body_size(self, max_body_size: int) -> None:
        self._max_body = max_body_size

    def set_body_timeout(self, timeout: float) -> None:
        """No body timeout, as dockerd's (uploads of any length)."""

    def write_headers(self, start_line: Any, headers: httputil.HTTPHeaders,
                      chunk: bytes | None = None) -> asyncio.Future[None]:
        request = self._request_line
        assert request is not None
        self._started = True
        code = start_line.code
        self._chunked = (request.version == "HTTP/1.1" and request.method != "HEAD"
                         and code not in (204, 304) and not 100 <= code < 200
                         and "Content-Length" not in headers)
        if request.version == "HTTP/1.1" and not self._keep_alive:
            headers["Connection"] = "close"
        if request.version == "HTTP/1.0" and self._keep_alive:
            headers["Connection"] = "Keep-Alive"
        if self._chunked:
            headers["Transfer-Encoding"] = "chunked"
        lines = [f"HTTP/1.1 {code} {start_line.reason}"]
        for name, value in headers.get_all():
            line = f"{name}: {value}"
            if "\r" in line or "\n" in line:
                raise ValueError(f"illegal characters (CR or LF) in a header: {line!r}")
            lines.append(line)
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if chunk:
            data += self._framed(chunk)
        return self._send(data)

    def write(self, chunk: bytes) -> asyncio.Future[None]:
        return self._send(self._framed(chunk))

    def finish(self) -> None:
        if self._chunked:
            self._send(b"0\r\n\r\n")
        self._write_finished = True
        self._close_callback = None
        if not self._read_finished:
            self._keep_alive = False  # the rest of the body is still coming: end here
            self._close()
        elif self._busy:
            self._next()

    def detach(self) -> tuple[socket.socket, bytes]:
        """Take the connection out of HTTP: a duplicate of its socket, and the bytes the
        client sent past the request. Nothing may have been written to the response."""
        assert self.transport is not None
        sock = self.transport.get_extra_info("socket")
        if self.transport.is_closing() or sock is None or sock.fileno() < 0:
            raise Unavailable("the connection is closed")  # the client went, or the daemon stops
        self._detached = True
        fd = os.dup(sock.fileno())
        buffered = bytes(self._buf)
        self._buf.clear()
        self._close_callback = None
        self.transport.abort()  # its fd goes; the duplicate keeps the connection
        detached = socket.socket(fileno=fd)
        detached.setblocking(False)
        return detached, buffered

    def abort(self) -> None:
        """Drop the connection at once: the client sees a truncated response."""
        self._keep_alive = False
        if self.transport is not None:
            self.transport.abort()

    # ---- writing -------------------------------------------------------------------------

    def _framed(self, chunk: bytes) -> bytes:
        if self._chunked and chunk:
            return b"%x\r\n%s\r\n" % (len(chunk), chunk)
        return chunk

    def _send(self, data: bytes) -> asyncio.Future[None]:
        future = asyncio.get_running_loop().create_future()
        if self.transport is None or self.transport.is_closing():
            from tornado.iostream import StreamClosedError
            future.set_exception(StreamClosedError())
            future.exception()  # retrieved: a handler that does not await it is no error
            return future
        if data:
            self.transport.write(data)
        if self._drained is None or self._drained.done():
            future.set_result(None)
        else:
            self._drained.add_done_callback(lambda _f: _resolve(future))
        return future

    def _bad_request(self, why: str) -> None:
        log.info("malformed HTTP request from %s: %s", self.context, why)
        if not self._started:
            self._send(_BAD_REQUEST)
        if self._reading_body and self._delegate is not None:
            self._reading_body = False
            self._delegate.on_connection_close()
        self._close()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _keep_alive(start_line: httputil.RequestStartLine, headers: httputil.HTTPHeaders) -> bool:
    connection = (headers.get("Connection") or "").lower()
    if start_line.version == "HTTP/1.1":
        return connection != "close"
    return connection == "keep-alive"


def _framing(headers: httputil.HTTPHeaders) -> tuple[int | None, bool]:
    """(Content-Length or None, chunked)."""
    if "Transfer-Encoding" in headers:
        if headers["Transfer-Encoding"].lower() != "chunked" or "Content-Length" in headers:
            raise httputil.HTTPInputError("unsupported Transfer-Encoding")
        return None, True
    if "Content-Length" not in headers:
        return None, False
    values = {v.strip() for v in headers["Content-Length"].split(",")}
    if len(values) != 1 or not (value := values.pop()).isdigit():
        raise httputil.HTTPInputError(f"invalid Content-Length: {headers['Content-Length']}")
    return int(value), False


class Server:
    """The daemon's HTTP server over already-bound listening sockets (``daemon.bind_hosts``)."""

    def __init__(self, app: Any, max_body_size: int = MAX_BODY) -> None:
        self.app = app
        self.max_body_size = max_body_size
        self.connections: set[Connection] = set()
        self._servers: list[asyncio.AbstractServer] = []

    async def listen(self, sockets: list[socket.socket]) -> None:
        loop = asyncio.get_running_loop()
        for sock in sockets:
            if sock.family == socket.AF_UNIX:
                server = await loop.create_unix_server(lambda: Connection(self), sock=sock)
            else:
                server = await loop.create_server(lambda: Connection(self), sock=sock)
            self._servers.append(server)

    def stop(self) -> None:
        """Accept no new connection (the listening sockets stay the daemon's to close)."""
        for server in self._servers:
            server.close()

    async def close_all_connections(self) -> None:
        """Close every connection (an upload in progress is aborted) and wait for them."""
        while self.connections:
            for connection in list(self.connections):
                connection.abort()
            await asyncio.sleep(0.01)
