"""Plumbing shared by pull and push: the per-operation context, counting readers, a byte pipe.

A pull or push runs worker threads (one per layer in flight) that report through one queue of
progress messages; the generator the engine returns drains that queue. Closing the generator
(the client hung up) sets ``cancel``: every reader raises :class:`Cancelled` at its next chunk,
so workers stop within one chunk.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

import urllib3

from ..store.images import ImageStore
from .client import Registry
from .credentials import AuthConfig
from .distmeta import DistMeta
from .endpoints import Endpoint, RegistryConfig
from .errors import Cancelled
from .progress import Message, Throttle

CHUNK = 1 << 20


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


@dataclass
class Context:
    """What one pull or push works with."""

    store: ImageStore
    meta: DistMeta
    config: RegistryConfig
    pool: urllib3.PoolManager
    cancel: threading.Event = field(default_factory=threading.Event)
    events: queue.Queue[Message] = field(default_factory=queue.Queue)
    _registries: dict[tuple[str, str], Registry] = field(default_factory=dict)

    def registry(self, endpoint: Endpoint, auth: AuthConfig) -> Registry:
        """One Registry (and so one token cache) per endpoint and credentials."""
        key = (endpoint.host, repr((auth.username, auth.password, auth.identitytoken, auth.registrytoken)))
        if key not in self._registries:
            self._registries[key] = Registry(endpoint, auth, self.pool)
        return self._registries[key]

    def emit(self, message: Message) -> None:
        self.events.put(message)

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("operation cancelled: the client closed the connection")


_WAKE: Message = {}  # queued when a worker finishes, so drain notices at once (never yielded)


def drain(ctx: Context, futures: list[Future[Any]]) -> Iterator[Message]:
    """Yield worker messages until every future is done; then raise the first failure."""
    for future in futures:
        future.add_done_callback(lambda _: ctx.events.put(_WAKE))
    try:
        while True:
            try:
                message = ctx.events.get(timeout=0.5)
            except queue.Empty:
                message = _WAKE
            if message is not _WAKE:
                yield message
                continue
            failed = [f for f in futures if f.done() and f.exception() is not None]
            if failed:
                ctx.cancel.set()
                _wait(futures)
                raise failed[0].exception()  # type: ignore[misc]
            if all(f.done() for f in futures) and ctx.events.empty():
                return
    except GeneratorExit:
        ctx.cancel.set()
        _wait(futures)
        raise


def _wait(futures: list[Future[Any]]) -> None:
    for f in futures:
        f.cancel()
    for f in futures:
        if not f.cancelled():
            f.exception()


class CountingReader:
    """Reads from ``src``, counting bytes, reporting progress and honouring cancellation."""

    def __init__(self, src: Readable, ctx: Context, report: Callable[[int], None]) -> None:
        self.src = src
        self.ctx = ctx
        self.report = report
        self.count = 0
        self._throttle = Throttle()

    def read(self, n: int = -1, /) -> bytes:
        self.ctx.check()
        chunk = self.src.read(CHUNK if n < 0 else n)
        if chunk:
            self.count += len(chunk)
            if self._throttle.due():
                self.report(self.count)
        return chunk


class Pipe:
    """A bounded queue of buffers from one producer thread to one consumer thread, which
    iterates it: the buffers cross as they are, never re-cut or copied."""

    def __init__(self, limit: int = 8) -> None:
        self._q: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=limit)
        self._closed = threading.Event()

    def put(self, chunk: bytes | BaseException | None) -> None:
        """Blocks while the pipe is full; returns at once once the consumer has gone."""
        while not self._closed.is_set():
            try:
                self._q.put(chunk, timeout=0.05)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        self.put(None)

    def abort(self, exc: BaseException) -> None:
        self.put(exc)

    def close_reader(self) -> None:
        self._closed.set()

    def __iter__(self) -> Iterator[bytes]:
        while True:
            item = self._q.get()
            if item is None:
                self._q.put(None)  # stay at EOF for later reads
                return
            if isinstance(item, BaseException):
                raise item
            yield item
