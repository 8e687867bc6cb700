"""Hijacked connections: attach and exec turn their HTTP request into a raw two-way byte stream.

The wire protocol, as dockerd speaks it and the docker CLI / docker-py expect it:

- The client POSTs with ``Connection: Upgrade`` and ``Upgrade: tcp``; the daemon answers
  ``HTTP/1.1 101 UPGRADED`` with ``Content-Type: application/vnd.docker.raw-stream`` (or
  ``…multiplexed-stream`` for a non-tty stream on API ≥ 1.42), ``Connection: Upgrade``,
  ``Upgrade: tcp`` and no body framing. A client that did not ask to upgrade gets ``200 OK``
  and the same content type. From then on the socket carries stdin one way and output the other.
- Non-tty output is multiplexed with Docker's "stdcopy" frames (:func:`frame`): an 8-byte
  header — stream id (0 stdin, 1 stdout, 2 stderr), three zero bytes, a big-endian uint32
  length — then the payload. Tty output is raw bytes.
- The client half-closes its side (``CloseWrite``) when its stdin ends: that is end-of-file for
  the process's stdin, while output keeps flowing until the daemon closes the connection.

An HTTP connection ends when the client stops sending, which would throw away the output that
follows a half-close (``echo hi | docker exec -i c cat``). So :func:`hijack` takes the socket
out of the HTTP layer (``wire.Connection.detach``) and hands back a :class:`HijackedStream` that
reads and writes it directly on the asyncio loop; a read returning ``b""`` is the half-close.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import struct
from collections.abc import Callable, Iterator
from contextlib import suppress
from http import HTTPStatus
from typing import Any, Self

from tornado.iostream import StreamClosedError
from tornado.web import RequestHandler

from .. import API_VERSION
from ..errors import DockyardError, Unavailable
from .wire import Connection

RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"
STDIN, STDOUT, STDERR = 0, 1, 2
DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"

_HEADER = struct.Struct(">BxxxL")
_MAX_FRAME = 1 << 20  # larger payloads are split (dockerd's frames are at most 32 KiB anyway)


def frame(stream_id: int, data: bytes) -> bytes:
    """One stdcopy frame; payloads above 1 MiB become several frames."""
    if len(data) <= _MAX_FRAME:
        return _HEADER.pack(stream_id, len(data)) + data
    return b"".join(frame(stream_id, data[i:i + _MAX_FRAME]) for i in range(0, len(data), _MAX_FRAME))


def content_type(api_version: str, tty: bool) -> str:
    """dockerd ≥ API 1.42 labels a non-tty (framed) stream as multiplexed."""
    version = tuple(int(p) for p in api_version.split(".") if p.isdigit())
    return RAW_STREAM if tty or version < (1, 42) else MULTIPLEXED_STREAM


def wants_upgrade(handler: RequestHandler) -> bool:
    headers = handler.request.headers
    connection = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
    return "upgrade" in connection and headers.get("Upgrade", "").strip().lower() == "tcp"


class HijackedStream:
    """The client's socket after the switch: async ``read``/``write``, ``close``.

    ``read`` returns ``b""`` once the client has half-closed (or dropped) its side; ``write``
    raises tornado's ``StreamClosedError`` when the client is gone. Writes are serialised, so
    frames from concurrent stdout/stderr pumps never interleave.
    """

    def __init__(self, sock: socket.socket, buffered: bytes = b"") -> None:
        self._sock = sock
        self._buffered = buffered
        self._loop = asyncio.get_running_loop()
        self._write_lock = asyncio.Lock()
        self._pending: set[asyncio.Future[Any]] = set()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def read(self, max_bytes: int = 65536) -> bytes:
        """Up to ``max_bytes`` of client input; ``b""`` means end of input."""
        if self._buffered:
            data, self._buffered = self._buffered[:max_bytes], self._buffered[max_bytes:]
            return data
        if self._closed:
            return b""
        try:
            received: bytes = await self._track(self._loop.sock_recv(self._sock, max_bytes))
            return received
        except (ConnectionError, OSError):
            return b""

    async def write(self, data: bytes) -> None:
        if not data:
            return
        async with self._write_lock:
            if self._closed:
                raise StreamClosedError()
            try:
                await self._track(self._loop.sock_sendall(self._sock, data))
            except (ConnectionError, OSError) as exc:
                raise StreamClosedError(real_error=exc) from None

    async def _track(self, coro: Any) -> Any:
        """Run a socket operation, remembering it so ``close`` never pulls the fd from under it."""
        future = asyncio.ensure_future(coro)
        self._pending.add(future)
        try:
            return await future
        finally:
            self._pending.discard(future)

    def close_write(self) -> None:
        """Half-close towards the client (it reads end-of-file, may still send)."""
        with suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Hang up; pending reads and writes end first, then the fd is closed."""
        if self._closed:
            return
        self._closed = True
        with suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        pending = [f for f in self._pending if not f.done()]
        if not pending:
            self._sock.close()
            return
        remaining = set(pending)

        def done(future: asyncio.Future[Any]) -> None:
            remaining.discard(future)
            if not remaining:
                self._sock.close()

        for future in pending:
            future.add_done_callback(done)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


async def hijack(handler: RequestHandler, tty: bool = False) -> HijackedStream:
    """Answer ``handler``'s request with the switch (101, or 200 for old clients) and take over
    its connection. Nothing may have been written to the response before."""
    version = getattr(handler.request, "api_version", None) or API_VERSION
    kind = content_type(version, tty)
    if wants_upgrade(handler):
        head = ["HTTP/1.1 101 UPGRADED", f"Content-Type: {kind}", "Connection: Upgrade", "Upgrade: tcp"]
    else:
        head = ["HTTP/1.1 200 OK", f"Content-Type: {kind}"]
    head += [f"{name}: {value}" for name, value in _default_headers(handler)]
    if not isinstance(handler.request.connection, Connection):
        raise Unavailable("hijacked streams (attach, exec) need the daemon's own HTTP server")
    sock, buffered = handler.detach()  # the socket, and what the client sent past the request
    hijacked = HijackedStream(sock, buffered)
    await hijacked.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
    return hijacked


async def refuse(handler: RequestHandler, exc: DockyardError) -> None:
    """An attach refused before its switch, as dockerd 20.10's postContainersAttach refuses it:
    the connection taken over, a bare status line, the raw stream's Content-Type and the words
    with CRLF written on it (no JSON, no other header, upgrade asked or not), then closed."""
    if not isinstance(handler.request.connection, Connection):
        raise exc
    sock, _ = handler.detach()
    phrase = HTTPStatus(exc.status).phrase
    async with HijackedStream(sock) as stream:
        await stream.write(f"HTTP/1.1 {exc.status} {phrase}\r\nContent-Type: {RAW_STREAM}\r\n\r\n"
                           f"{exc}\r\n".encode())


def _default_headers(handler: RequestHandler) -> list[tuple[str, str]]:
    """The handler's own headers (Api-Version, Server, Ostype…), as dockerd copies them."""
    headers = getattr(handler, "_headers", None)
    if headers is None:
        return []
    skip = {"content-type", "content-length", "connection", "transfer-encoding", "date"}
    return [(n, v) for n, v in headers.get_all() if n.lower() not in skip]


# ---- relaying a process's fds over a hijacked stream ---------------------------------------


async def read_fd(fd: int, max_bytes: int = 65536) -> bytes:
    """Read a non-blocking pipe or pty master on the loop; ``b""`` at EOF (EIO on a pty whose
    last slave closed counts as EOF)."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            return os.read(fd, max_bytes)
        except BlockingIOError:
            pass
        except OSError as exc:
            if exc.errno == errno.EIO:
                return b""
            raise
        await _ready(loop, fd, loop.add_reader, loop.remove_reader)


async def write_fd(fd: int, data: bytes) -> None:
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            await _ready(loop, fd, loop.add_writer, loop.remove_writer)


async def _ready(loop: asyncio.AbstractEventLoop, fd: int, add: Any, remove: Any) -> None:
    future: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not future.done():
            future.set_result(None)

    add(fd, wake)
    try:
        await future
    finally:
        remove(fd)


async def relay(stream: HijackedStream, stdin: int | None, outputs: list[tuple[int, int]],
                tty: bool, input_done: Callable[[], None] | None = None,
                detach_keys: bytes = b"") -> bool:
    """Pump client input into ``stdin`` and each ``(fd, stream_id)`` output to the client —
    framed, or raw for a tty — until every output reaches EOF. The fds stay the caller's;
    ``input_done`` is called at the client's half-close (to close the process's stdin).
    Returns True if the client typed ``detach_keys`` (the caller leaves the process running)."""
    for fd in [stdin, *(fd for fd, _ in outputs)]:
        if fd is not None:
            os.set_blocking(fd, False)
    scanner = DetachScanner(detach_keys)
    pump_in = asyncio.ensure_future(_pump_input(stream, stdin, input_done, scanner)) \
        if stdin is not None else None
    pump_out = asyncio.ensure_future(
        asyncio.gather(*(_pump_output(stream, fd, sid, tty) for fd, sid in outputs)))
    try:
        waiting = {pump_out} | ({pump_in} if pump_in is not None else set())
        while not pump_out.done() and not scanner.detached:
            _done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if not waiting:
                break
        if pump_out.done():
            pump_out.result()  # an output failure propagates
        return scanner.detached
    finally:
        for task in (pump_in, pump_out):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


class DetachScanner:
    """Holds back input that could start the detach sequence; releases it on a mismatch."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""
        self.detached = False

    def feed(self, data: bytes) -> bytes:
        """The bytes to pass on now; sets ``detached`` when the whole sequence arrived."""
        if not self.keys:
            return data
        out = bytearray()
        for byte in data:
            candidate = self.held + bytes([byte])
            if self.keys.startswith(candidate):
                self.held = candidate
                if candidate == self.keys:
                    self.detached = True
                    return bytes(out)
            else:
                out += candidate if not self.keys.startswith(bytes([byte])) else self.held
                self.held = bytes([byte]) if self.keys.startswith(bytes([byte])) else b""
        return bytes(out)


async def _pump_input(stream: HijackedStream, fd: int, done: Callable[[], None] | None,
                      scanner: DetachScanner) -> None:
    try:
        while data := await stream.read():
            passed = scanner.feed(data)
            if passed:
                await write_fd(fd, passed)
            if scanner.detached:
                return
    except OSError:
        return  # the process closed its stdin (EPIPE)
    if done is not None:
        done()


async def _pump_output(stream: HijackedStream, fd: int, stream_id: int, tty: bool) -> None:
    while data := await read_fd(fd):
        try:
            await stream.write(data if tty else frame(stream_id, data))
        except StreamClosedError:
            return


# ---- reading the framing (tests, clients) --------------------------------------------------


class FrameReader:
    """Incremental stdcopy decoder: ``feed`` bytes, get complete ``(stream_id, payload)`` frames."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        frames: list[tuple[int, bytes]] = []
        while len(self._buffer) >= _HEADER.size:
            stream_id, length = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + length
            if len(self._buffer) < end:
                break
            frames.append((stream_id, bytes(self._buffer[_HEADER.size:end])))
            del self._buffer[:end]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame still buffered (non-zero at EOF = truncated stream)."""
        return len(self._buffer)


def read_frames(sock: socket.socket) -> Iterator[tuple[int, bytes]]:
    """Blocking: every frame from ``sock`` until the peer closes."""
    reader = FrameReader()
    while chunk := sock.recv(65536):
        yield from reader.feed(chunk)


def demux(data: bytes) -> tuple[bytes, bytes]:
    """A whole framed stream split into (stdout, stderr)."""
    out: dict[int, list[bytes]] = {STDOUT: [], STDERR: []}
    for stream_id, payload in FrameReader().feed(data):
        out.setdefault(stream_id, []).append(payload)
    return b"".join(out[STDOUT]), b"".join(out[STDERR])
