"""The CLI's side of hijacked streams: attach/exec sessions, raw terminals, resize, log frames.

docker-py hands out the upgraded connection (``attach_socket``, ``exec_start(socket=True)``);
this module pumps it: stdin → socket (then a half-close, which the daemon turns into EOF on the
process's stdin), socket → stdout/stderr (Docker's 8-byte stdcopy frames unless the session is a
TTY), with the local terminal in raw mode and its size sent on start and on every SIGWINCH.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import struct
import sys
import termios
import threading
import tty
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

_HEADER = struct.Struct(">BxxxL")


def read_exactly(read: Callable[[int], bytes], n: int) -> bytes:
    """``n`` bytes from ``read``, fewer only at EOF."""
    data = b""
    while len(data) < n:
        chunk = read(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def frames(read: Callable[[int], bytes]) -> Iterator[tuple[int, bytes]]:
    """``(stream, payload)`` for each stdcopy frame until EOF (1 = stdout, 2 = stderr)."""
    while True:
        header = read_exactly(read, _HEADER.size)
        if len(header) < _HEADER.size:
            return
        stream, length = _HEADER.unpack(header)
        yield stream, read_exactly(read, length)


def raw_chunks(read: Callable[[int], bytes]) -> Iterator[tuple[int, bytes]]:
    """A TTY stream: everything is stdout."""
    while chunk := read(32768):
        yield 1, chunk


def write_out(stream: int, data: bytes) -> None:
    out = sys.stderr.buffer if stream == 2 else sys.stdout.buffer
    out.write(data)
    out.flush()


def sock_of(hijacked: Any) -> socket.socket:
    """The real socket under docker-py's hijacked stream (a ``SocketIO`` or the socket)."""
    return getattr(hijacked, "_sock", hijacked)  # type: ignore[no-any-return]


def reader(hijacked: Any) -> Callable[[int], bytes]:
    sock = sock_of(hijacked)

    def read(n: int) -> bytes:
        try:
            return sock.recv(n)
        except (ConnectionResetError, OSError):
            return b""
    return read


def pump_stdin(sock: socket.socket, source: BinaryIO, stop: threading.Event) -> None:
    """Copy ``source`` to the socket until EOF, then half-close (EOF for the process's stdin)."""
    fd = source.fileno()
    try:
        while not stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            data = os.read(fd, 32768)
            if not data:
                break
            sock.sendall(data)
        if not stop.is_set():
            sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def terminal_size() -> tuple[int, int]:
    size = shutil.get_terminal_size((80, 24))
    return size.lines, size.columns


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """The local terminal in raw mode for the session's length (restored whatever happens)."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def resize_on_winch(resize: Callable[[int, int], None]) -> Iterator[None]:
    """Send the terminal's size now and on each SIGWINCH; failures are not fatal (docker warns)."""
    def send(*_: object) -> None:
        with contextlib.suppress(Exception):
            resize(*terminal_size())
    previous = signal.signal(signal.SIGWINCH, send)
    send()
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)


def session(hijacked: Any, tty_mode: bool, stdin: bool,
            resize: Callable[[int, int], None] | None = None) -> None:
    """Run an attach/exec session to the end of the container's output."""
    sock = sock_of(hijacked)
    stop = threading.Event()
    pump = None
    if stdin:
        pump = threading.Thread(target=pump_stdin, args=(sock, sys.stdin.buffer, stop), daemon=True)
    raw = raw_terminal(sys.stdin.fileno()) if tty_mode and stdin else contextlib.nullcontext()
    winch = resize_on_winch(resize) if tty_mode and resize is not None and sys.stdout.isatty() \
        else contextlib.nullcontext()
    with raw, winch:
        if pump is not None:
            pump.start()
        chunks = raw_chunks if tty_mode else frames
        try:
            for stream, data in chunks(reader(hijacked)):
                write_out(stream, data)
        finally:
            stop.set()
    with contextlib.suppress(OSError):
        sock.close()


__all__ = ["frames", "raw_chunks", "raw_terminal", "read_exactly", "session", "write_out"]
