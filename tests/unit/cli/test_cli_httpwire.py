"""cli.httpwire against a real unix-socket server that answers with given bytes: the body framings
the Engine API uses (Content-Length, chunks, none, the connection's end), kept-alive reuse, and a
connection the server closed while idle opened again."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockyard.cli.httpwire import Connection


class Server:
    """Accepts connections; answers each request on them with the next reply. A reply ending
    in ``CLOSE`` is sent and its connection closed."""

    CLOSE = b"<close>"

    def __init__(self, path: Path, replies: list[bytes]) -> None:
        self.replies, self.accepted = list(replies), 0
        self.requests: list[bytes] = []
        self.closed = threading.Event()  # set each time the server has closed a connection
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(path))
        self.sock.listen()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.replies:
            conn, _ = self.sock.accept()
            self.accepted += 1
            with conn:
                self._answer(conn)
            self.closed.set()

    def _answer(self, conn: socket.socket) -> None:
        data = b""
        while self.replies:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            head, _, data = data.partition(b"\r\n\r\n")
            self.requests.append(head)
            reply = self.replies.pop(0)
            conn.sendall(reply.removesuffix(self.CLOSE))
            if reply.endswith(self.CLOSE):
                return


Serve = Callable[..., tuple["Server", Connection]]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    servers: list[Server] = []

    def start(*replies: bytes) -> tuple[Server, Connection]:
        path = tmp_path / f"s{len(servers)}.sock"
        servers.append(Server(path, list(replies)))
        return servers[-1], Connection(str(path), 5)
    yield start
    for server in servers:
        server.sock.close()


def _ask(conn: Connection, method: str = "GET", target: str = "/x") -> tuple[int, bytes]:
    conn.send(method, target, None, {})
    status, head = conn.head()
    return status, conn.body(method, status, head)


def test_lengths_and_chunks_on_one_kept_connection(serve: Serve) -> None:
    server, conn = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                         b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n",
                         b"HTTP/1.1 204 No Content\r\n\r\n",
                         b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}")
    assert _ask(conn) == (200, b"hello")
    assert _ask(conn) == (200, b"abc0123456789abcdef")
    assert _ask(conn, "POST", "/start") == (204, b"")
    assert _ask(conn) == (404, b"{}")
    assert server.accepted == 1
    assert server.requests[2] == b"POST /start HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0"


def test_a_body_to_the_connections_end_and_a_close_open_a_new_one(serve: Serve) -> None:
    server, conn = serve(b"HTTP/1.1 500 Internal Server Error\r\n\r\nno length" + Server.CLOSE,
                         b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok" + Server.CLOSE,
                         b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert _ask(conn) == (500, b"no length")
    assert _ask(conn) == (200, b"ok")
    assert conn.sock is None
    assert _ask(conn) == (200, b"")
    assert server.accepted == 3


def test_an_idle_connection_the_server_closed_is_opened_again(serve: Serve) -> None:
    server, conn = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na" + Server.CLOSE,
                         b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb")
    assert _ask(conn) == (200, b"a")
    assert server.closed.wait(10)  # the server has closed its end: the connection is readable (EOF)
    assert _ask(conn) == (200, b"b")
    assert server.accepted == 2


def test_an_upgraded_connection_is_handed_over(serve: Serve) -> None:
    server, conn = serve(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
    conn.send("POST", "/attach", None, {"Connection": "Upgrade", "Upgrade": "tcp"})
    assert conn.head()[0] == 101
    sock = conn.detach()
    assert conn.sock is None and sock.fileno() >= 0
    sock.close()
    assert server.requests[0].endswith(b"Connection: Upgrade\r\nUpgrade: tcp")
