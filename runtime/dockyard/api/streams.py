"""Streaming on the Engine API: request bodies into the engine, iterators out to the client.

Engine calls block, so they run in a worker thread; the IOLoop only moves bytes.

- ``BodyPipe`` carries an uploaded request body (``/images/load``, ``/images/create``) from the
  IOLoop to the worker that consumes it, holding at most ``limit`` bytes: a 256 MiB upload never
  sits in memory, and a slow consumer slows the client down (TCP backpressure).
- ``PulledStream`` pulls one item at a time from an engine iterator in a worker thread, so a
  slow client slows the producer down, and a disconnect closes the iterator.
- ``write_json_stream`` / ``write_bytes_stream`` frame the output: JSON messages one per line,
  flushed per message; an error after the first byte is written inside the stream as dockerd
  does (``{"errorDetail": {"message": …}, "error": …}``), or, for a binary stream, by cutting
  the connection so the client never mistakes a truncated tar for a whole one.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from typing import Any

from tornado.iostream import StreamClosedError
from tornado.web import RequestHandler

from .. import gojson
from ..errors import DockyardError, InvalidArgument
from .wire import Connection

log = logging.getLogger("dockyard.api")

_END = object()


class BodyPipe(io.RawIOBase):
    """A bounded byte pipe: the IOLoop writes request-body chunks, one worker thread reads."""

    def __init__(self, limit: int = 4 << 20) -> None:
        super().__init__()
        self._limit = limit
        self._cond = threading.Condition()
        self._chunks: deque[memoryview] = deque()
        self._buffered = 0
        self._eof = False
        self._error: BaseException | None = None
        self._reader_gone = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with self._cond:
            while not self._chunks and not self._eof and self._error is None:
                self._cond.wait()
            if self._error is not None:
                raise self._error
            if not self._chunks:
                return 0
            chunk = self._chunks[0]
            n = min(len(buffer), len(chunk))
            buffer[:n] = chunk[:n]
            if n == len(chunk):
                self._chunks.popleft()
            else:
                self._chunks[0] = chunk[n:]
            self._buffered -= n
            self._cond.notify_all()
            return n

    def try_put(self, chunk: bytes) -> bool:
        """Queue ``chunk`` unless the buffer is full; data is dropped once the reader is gone."""
        with self._cond:
            if self._reader_gone:
                return True
            if self._buffered >= self._limit:
                return False
            self._append(chunk)
            return True

    def put(self, chunk: bytes) -> None:
        """Queue ``chunk``, blocking (in a helper thread) while the buffer is full."""
        with self._cond:
            while self._buffered >= self._limit and not self._reader_gone:
                self._cond.wait()
            if not self._reader_gone:
                self._append(chunk)

    async def feed(self, chunk: bytes) -> None:
        if not self.try_put(chunk):
            await asyncio.get_running_loop().run_in_executor(None, self.put, chunk)

    def _append(self, chunk: bytes) -> None:
        self._chunks.append(memoryview(chunk))
        self._buffered += len(chunk)
        self._cond.notify_all()

    def finish(self) -> None:
        """The whole body has arrived: the reader sees end-of-file after the buffered data."""
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def abort(self, error: BaseException) -> None:
        """The client went away mid-upload: the reader's next read raises ``error``."""
        with self._cond:
            self._error = error
            self._cond.notify_all()

    def close_reader(self) -> None:
        """The consumer has stopped; drop what is buffered and everything still to come."""
        with self._cond:
            self._reader_gone = True
            self._chunks.clear()
            self._buffered = 0
            self._cond.notify_all()

    def reader(self) -> io.BufferedReader:
        """The file object handed to the engine (full reads, as a regular file gives)."""
        return io.BufferedReader(self, 1 << 20)


def upload_aborted() -> InvalidArgument:
    return InvalidArgument("unexpected EOF: the client closed the connection during the upload")


class PulledStream:
    """Pulls items one at a time from a blocking iterator in a worker thread."""

    def __init__(self, iterator: Iterator[Any], executor: Executor) -> None:
        self._iterator = iterator
        self._executor = executor
        self._pending: asyncio.Future[Any] | None = None
        self.exhausted = False

    def _next(self) -> Any:
        return next(self._iterator, _END)

    def prefetch(self) -> asyncio.Future[Any]:
        """Start computing the next item now (e.g. while a request body is still arriving)."""
        if self._pending is None:
            loop = asyncio.get_running_loop()
            self._pending = asyncio.ensure_future(loop.run_in_executor(self._executor, self._next))
        return self._pending

    async def next(self) -> Any:
        """The next item, or ``END`` when the iterator is exhausted."""
        future = self.prefetch()
        self._pending = None
        try:
            item = await future
        except BaseException:
            self.exhausted = True
            raise
        if item is _END:
            self.exhausted = True
        return item

    async def aclose(self) -> None:
        """Close the iterator (a generator's cleanup may block, so in a worker thread)."""
        if self._pending is not None:
            await asyncio.gather(self._pending, return_exceptions=True)
            self._pending = None
        close = getattr(self._iterator, "close", None)
        if close is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, close)


class BackgroundStream:
    """Runs a blocking iterator to its end in one worker thread, queueing its (small) items.

    For uploads: the engine must keep consuming the request body while tornado is still
    receiving it, so it cannot wait for the client to pull each message. ``done`` resolves when
    the iterator has finished (exhausted or raised).
    """

    def __init__(self, iterator: Iterator[Any], executor: Executor) -> None:
        self._iterator = iterator
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue()
        self._cancelled = threading.Event()
        self.done: asyncio.Future[None] = asyncio.ensure_future(
            self._loop.run_in_executor(executor, self._run)
        )

    def _run(self) -> None:
        try:
            for item in self._iterator:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, (True, item))
                if self._cancelled.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the IOLoop side, raised there
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (False, exc))
            return
        finally:
            close = getattr(self._iterator, "close", None)
            if close is not None:
                close()
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (True, _END))

    async def next(self) -> Any:
        ok, item = await self._queue.get()
        if not ok:
            raise item
        return item

    async def aclose(self) -> None:
        self._cancelled.set()


END = _END


def error_message(exc: BaseException) -> str:
    """The text a client sees for ``exc``: the engine's own wording, or the bare exception."""
    return str(exc) if isinstance(exc, DockyardError) else (str(exc) or type(exc).__name__)


def stream_error(exc: BaseException) -> bytes:
    """The error line; its ``code`` where the error carries one (``stream_code``: a failed
    RUN's exit status, which the docker CLI exits with, as dockerd 20.10's JSONError)."""
    message = error_message(exc)
    code = getattr(exc, "stream_code", 0)
    detail = {"code": code, "message": message} if code else {"message": message}
    return (gojson.stream_dumps({"errorDetail": detail, "error": message}) + "\n").encode()


async def write_json_stream(handler: RequestHandler, stream: PulledStream | BackgroundStream) -> None:
    """Write each item as one JSON line, flushed; an error after the first line ends the stream
    with a JSON error line (what docker's progress readers show)."""
    handler.set_header("Content-Type", "application/json")
    await _pump(handler, stream, lambda item: gojson.stream_dumps(item).encode() + b"\n",
                lambda exc: handler.write(stream_error(exc)))


async def write_bytes_stream(handler: RequestHandler, stream: PulledStream, content_type: str) -> None:
    """Write each chunk with backpressure; an error mid-stream cuts the connection (a raw body
    has no place for an error line)."""
    handler.set_header("Content-Type", content_type)
    await _pump(handler, stream, lambda chunk: chunk, lambda exc: abort_connection(handler))


async def _pump(handler: RequestHandler, stream: PulledStream | BackgroundStream,
                encode: Callable[[Any], bytes], failed: Callable[[BaseException], None]) -> None:
    """Write the stream's items, each flushed; an error before anything was written propagates
    (the handler answers it with a status), after that it is logged and ``failed`` ends the body."""
    started = False
    try:
        while (item := await stream.next()) is not END:
            if data := encode(item):
                handler.write(data)
                started = True
                await handler.flush()
    except StreamClosedError:
        return
    except Exception as exc:
        if not started:
            raise
        _log_stream_error(handler, exc)
        failed(exc)
    finally:
        await stream.aclose()


def abort_connection(handler: RequestHandler) -> None:
    """Drop the connection without the final chunk, so the client sees a truncated response."""
    connection = handler.request.connection
    if isinstance(connection, Connection):
        connection.abort()
    handler._finished = True  # tornado must not try to finish a response on a closed stream


def _log_stream_error(handler: RequestHandler, exc: BaseException) -> None:
    request = handler.request
    if isinstance(exc, DockyardError):
        log.info("%s %s failed mid-stream: %s", request.method, request.uri, exc)
    else:
        log.error("%s %s failed mid-stream", request.method, request.uri, exc_info=exc)
