"""Hijacked streams: a tiny tornado app on a unix socket, driven by a raw socket and by docker-py."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.utils.socket import consume_socket_output, demux_adaptor, frames_iter
from tornado.iostream import StreamClosedError
from tornado.netutil import bind_unix_socket

from dockyard.api.app import EngineApplication
from dockyard.api.handlers.base import EngineHandler
from dockyard.api.hijack import (
    MULTIPLEXED_STREAM,
    RAW_STREAM,
    STDERR,
    STDOUT,
    DetachScanner,
    FrameReader,
    demux,
    frame,
    hijack,
    read_frames,
)
from dockyard.goterm import detach_sequence
from dockyard.testing.apiserver import ThreadedServer

events: list[str] = []


class EchoHandler(EngineHandler):
    """stdin echoed on stdout, upper-cased on stderr (or raw when tty); "bye" after the half-close."""

    async def post(self) -> None:
        tty = self.bool_arg("tty")
        stream = await hijack(self, tty=tty)
        async with stream:
            while data := await stream.read():
                if tty:
                    await stream.write(data)
                else:
                    await asyncio.gather(stream.write(frame(STDOUT, data)),
                                         stream.write(frame(STDERR, data.upper())))
            await stream.write(b"bye\n" if tty else frame(STDOUT, b"bye\n"))


class FloodHandler(EngineHandler):
    """Writes until the client hangs up, then records that it noticed."""

    async def post(self) -> None:
        stream = await hijack(self)
        try:
            while True:
                await stream.write(frame(STDOUT, b"x" * 65536))
        except StreamClosedError:
            events.append("client gone")
        finally:
            stream.close()


class Server:
    def __init__(self, path: Path) -> None:
        self.path = str(path)
        app = EngineApplication([(r"/echo", EchoHandler), (r"/flood", FloodHandler)],
                                engine=None, executor=None)
        self.served = ThreadedServer(app, [bind_unix_socket(self.path)])

    def close(self) -> None:
        self.served.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "api.sock")
    yield srv
    srv.close()


def request(server: Server, path: str, upgrade: bool = True, extra: bytes = b"") -> tuple[socket.socket, bytes, bytes]:
    """POST ``path`` on a raw connection; returns (socket, response head, bytes after the head)."""
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(10)
    sock.connect(server.path)
    upgrade_headers = "Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else ""
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: docker\r\n{upgrade_headers}"
                 "Content-Length: 0\r\n\r\n".encode() + extra)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return sock, head, rest


def read_all(sock: socket.socket, rest: bytes) -> bytes:
    chunks = [rest]
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


def test_upgrade_multiplexed_and_half_close(server: Server) -> None:
    sock, head, rest = request(server, "/echo")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 101 UPGRADED"
    assert f"Content-Type: {MULTIPLEXED_STREAM}" in lines
    assert "Connection: Upgrade" in lines and "Upgrade: tcp" in lines
    assert any(line.startswith("Api-Version: ") for line in lines)
    sock.sendall(b"hello\n")
    sock.shutdown(socket.SHUT_WR)  # CloseWrite: the server still answers afterwards
    out, err = demux(read_all(sock, rest))
    assert out == b"hello\nbye\n"
    assert err == b"HELLO\n"


def test_old_api_raw_stream_and_no_upgrade(server: Server) -> None:
    sock, head, rest = request(server, "/v1.41/echo")
    assert f"Content-Type: {RAW_STREAM}".encode() in head
    sock.close()
    sock, head, rest = request(server, "/echo", upgrade=False)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    sock.shutdown(socket.SHUT_WR)
    assert demux(read_all(sock, rest)) == (b"bye\n", b"")


def test_tty_is_raw_and_pipelined_input_is_kept(server: Server) -> None:
    sock, head, rest = request(server, "/echo?tty=1", extra=b"early bytes|")
    assert f"Content-Type: {RAW_STREAM}".encode() in head
    sock.sendall(b"late")
    sock.shutdown(socket.SHUT_WR)
    assert read_all(sock, rest) == b"early bytes|latebye\n"


def test_client_hangup_is_a_stream_closed_error(server: Server) -> None:
    events.clear()
    sock, _, _ = request(server, "/flood")
    assert sock.recv(65536)
    sock.close()
    for _ in range(100):
        if events:
            break
        threading.Event().wait(0.05)
    assert events == ["client gone"]


def test_docker_py_socket_helpers(server: Server) -> None:
    client = docker.APIClient(base_url=f"unix://{server.path}", version="1.45")
    try:
        res = client._post(client._url("/echo"), headers={"Connection": "Upgrade", "Upgrade": "tcp"},
                           stream=True)
        assert res.status_code == 101
        sock: Any = client._get_raw_response_socket(res)  # a SocketIO over the connection
        sock._sock.sendall(b"from docker-py\n")
        sock._sock.shutdown(socket.SHUT_WR)
        frames = (demux_adaptor(*f) for f in frames_iter(sock, False))
        out, err = consume_socket_output(frames, demux=True)
        assert out == b"from docker-py\nbye\n"
        assert err == b"FROM DOCKER-PY\n"
        res.close()
    finally:
        client.close()


def test_large_output_in_order(server: Server) -> None:
    sock, _, rest = request(server, "/echo")
    payload = bytes(range(256)) * 8192  # 2 MiB in one write: split into 1 MiB frames

    def send() -> None:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)

    sender = threading.Thread(target=send)
    sender.start()
    reader = FrameReader()
    frames = reader.feed(rest)
    frames += [f for f in read_frames(sock)]
    sender.join()
    out = b"".join(d for s, d in frames if s == STDOUT)
    assert out == payload + b"bye\n"
    assert reader.pending == 0


def test_frame_format() -> None:
    assert frame(STDERR, b"ab") == b"\x02\x00\x00\x00\x00\x00\x00\x02ab"
    big = frame(STDOUT, b"z" * ((1 << 20) + 5))
    reader = FrameReader()
    parts = reader.feed(big[:10]) + reader.feed(big[10:])
    assert [len(p) for _, p in parts] == [1 << 20, 5]
    assert reader.feed(b"\x01\x00\x00") == [] and reader.pending == 3


def test_detach_keys() -> None:
    assert detach_sequence("ctrl-p,ctrl-q") == b"\x10\x11"
    assert detach_sequence("a,ctrl-@,ctrl-_") == b"a\x00\x1f"
    with pytest.raises(ValueError, match="Unknown character"):
        detach_sequence("ctrl-pp")
    scanner = DetachScanner(b"\x10\x11")
    assert scanner.feed(b"ab\x10") == b"ab"  # held: may start the sequence
    assert scanner.feed(b"c") == b"\x10c"  # released on a mismatch
    assert scanner.feed(b"\x10\x10\x11tail") == b"\x10" and scanner.detached
