"""The daemon's HTTP layer (``api.wire``) on a unix socket, driven by raw sockets: framing of
requests and responses, keep-alive, pipelining, flow control, bad input, and hang-ups."""

from __future__ import annotations

import asyncio
import http.client
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tornado.web
from tornado.iostream import StreamClosedError
from tornado.netutil import bind_unix_socket

from dockyard.testing.apiserver import ThreadedServer

seen: list[str] = []


class EchoHandler(tornado.web.RequestHandler):
    """The body back, with what the handler saw of the request."""

    def post(self) -> None:
        self.set_header("X-Length", str(len(self.request.body)))
        self.write(self.request.body)

    def get(self) -> None:
        self.write(b"hello")

    def head(self) -> None:
        self.set_header("Content-Length", "5")


class TickHandler(tornado.web.RequestHandler):
    """A response streamed in pieces (chunked), until the client hangs up."""

    async def get(self) -> None:
        count = int(self.get_query_argument("n", "3"))
        try:
            for i in range(count if count else 1 << 30):
                self.write(f"tick {i}\n")
                await self.flush()
                await asyncio.sleep(0.01)
        except StreamClosedError:
            seen.append("tick: client gone")

    def on_connection_close(self) -> None:
        seen.append("tick: closed")


@tornado.web.stream_request_body
class UploadHandler(tornado.web.RequestHandler):
    """A streamed upload that takes its time with every piece (flow control)."""

    async def prepare(self) -> None:
        self.request.connection.set_max_body_size(64 << 20)  # type: ignore[union-attr]
        self.received = bytearray()

    async def data_received(self, chunk: bytes) -> None:
        await asyncio.sleep(0.001)
        self.received += chunk

    def put(self) -> None:
        self.write({"bytes": len(self.received), "tail": self.received[-8:].decode()})

    def on_connection_close(self) -> None:
        seen.append(f"upload: closed after {len(self.received)}")


@pytest.fixture
def path(tmp_path: Path) -> Iterator[str]:
    seen.clear()
    app = tornado.web.Application([(r"/echo", EchoHandler), (r"/tick", TickHandler),
                                   (r"/upload", UploadHandler)])
    sock_path = str(tmp_path / "api.sock")
    server = ThreadedServer(app, [bind_unix_socket(sock_path)])
    yield sock_path
    server.close()


def connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(10)
    sock.connect(path)
    return sock


class Reader:
    """Responses read in turn from one buffered file of ``sock`` (pipelined responses may
    arrive together). Each ``HTTPResponse`` closes its file when its body is read, which must
    not end the next one's."""

    def __init__(self, sock: socket.socket) -> None:
        self.f = sock.makefile("rb")

    def makefile(self, *_args: Any, **_kw: Any) -> Reader:
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self.f, name)

    def close(self) -> None:
        pass

    def responses(self, count: int, method: str = "GET") -> list[http.client.HTTPResponse]:
        out = []
        for _ in range(count):
            resp = http.client.HTTPResponse(self, method=method)  # type: ignore[arg-type]
            resp.begin()
            resp.body = resp.read()  # type: ignore[attr-defined]
            out.append(resp)
        return out


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, TimeoutError):
        return False


def test_requests_on_one_kept_alive_connection_and_pipelined(path: str) -> None:
    with connect(path) as sock:
        reader = Reader(sock)
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        [first] = reader.responses(1)
        assert (first.status, first.body) == (200, b"hello")  # type: ignore[attr-defined]
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                     b"\r\nGET /echo HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nxy")
        echoed, hello, last = reader.responses(3)
        assert echoed.body == b"abc" and echoed.getheader("X-Length") == "3"  # type: ignore[attr-defined]
        assert hello.body == b"hello"  # type: ignore[attr-defined]
        assert last.body == b"xy" and last.getheader("Connection") == "close"  # type: ignore[attr-defined]
        assert closed_by_server(sock)


def test_bodies_that_arrive_in_pieces_and_chunked_bodies(path: str) -> None:
    with connect(path) as sock:
        reader = Reader(sock)
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
        time.sleep(0.05)
        sock.sendall(b"56789")
        [resp] = reader.responses(1)
        assert resp.body == b"0123456789"  # type: ignore[attr-defined]
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"3\r\nabc\r\n")
        time.sleep(0.05)
        sock.sendall(b"4;ext=1\r\ndefg\r\n0\r\nTrailer: t\r\n\r\n")
        [resp] = reader.responses(1)
        assert resp.body == b"abcdefg"  # type: ignore[attr-defined]


def test_streamed_response_is_chunked_and_head_has_no_body(path: str) -> None:
    with connect(path) as sock:
        reader = Reader(sock)
        sock.sendall(b"GET /tick?n=3 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        [ticks] = reader.responses(1)
        assert ticks.getheader("Transfer-Encoding") == "chunked"
        assert ticks.body == b"tick 0\ntick 1\ntick 2\n"  # type: ignore[attr-defined]
        [head] = reader.responses(1, method="HEAD")
        assert head.getheader("Content-Length") == "5" and head.body == b""  # type: ignore[attr-defined]
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")  # still in step after the HEAD
        assert reader.responses(1)[0].body == b"hello"  # type: ignore[attr-defined]


def test_http_1_0_without_keep_alive_is_closed_after_the_response(path: str) -> None:
    with connect(path) as sock:
        reader = Reader(sock)
        sock.sendall(b"GET /echo HTTP/1.0\r\n\r\n")
        [resp] = reader.responses(1)
        assert resp.body == b"hello" and closed_by_server(sock)  # type: ignore[attr-defined]


@pytest.mark.parametrize("request_bytes", [
    b"NOT A REQUEST\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /echo HTTP/1.1\r\nX: " + b"a" * (70 << 10),
])
def test_bad_requests_get_400_and_the_connection_ends(path: str, request_bytes: bytes) -> None:
    with connect(path) as sock:
        reader = Reader(sock)
        sock.sendall(request_bytes)
        [resp] = reader.responses(1)
        assert resp.status == 400
        assert closed_by_server(sock)


def test_a_client_hanging_up_mid_response_reaches_the_handler(path: str) -> None:
    with connect(path) as sock:
        sock.sendall(b"GET /tick?n=0 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"tick 0" in sock.recv(4096)
    deadline = time.monotonic() + 5
    while "tick: closed" not in seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "tick: closed" in seen


def test_streamed_upload_with_flow_control_and_100_continue(path: str) -> None:
    body = b"".join(b"%08d" % i for i in range(40000))  # 320 kB
    with connect(path) as sock:
        reader = Reader(sock)
        sock.sendall(b"PUT /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        assert sock.recv(64).startswith(b"HTTP/1.1 100")
        sock.sendall(body)
        [resp] = reader.responses(1)
        assert resp.body == b'{"bytes": 320000, "tail": "00039999"}'  # type: ignore[attr-defined]


def test_an_upload_cut_short_tells_the_handler(path: str) -> None:
    with connect(path) as sock:
        sock.sendall(b"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100)
        time.sleep(0.1)
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == ["upload: closed after 100"]
