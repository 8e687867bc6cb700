"""Output for the cell that started a command: batched text streams and layer progress.

Writes happen on the kernel's main thread (the one executing the cell), so they are routed to
that cell by the kernel's parent header; background threads only read sockets and queue bytes.
A write goes out at once when nothing was written for ``interval`` seconds, otherwise it is
held and coalesced, so a chatty container costs about ten front-end updates a second.
"""

from __future__ import annotations

import codecs
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TextIO, TypeVar

from .errors import DaemonError

INTERVAL = 0.1
T = TypeVar("T")


class BatchedWriter:
    """Incremental UTF-8 decoding (a character may span chunks) plus write coalescing."""

    def __init__(self, stream: TextIO, interval: float = INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.interval = interval
        self.clock = clock
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending: list[str] = []
        self._last = float("-inf")

    def write_bytes(self, data: bytes) -> None:
        self.write(self._decoder.decode(data))

    def write(self, text: str) -> None:
        if text:
            self._pending.append(text)
        if self.due_in() == 0.0:
            self.flush()

    def due_in(self) -> float | None:
        """Seconds until held text must go out; None when nothing is held."""
        if not self._pending:
            return None
        return max(0.0, self._last + self.interval - self.clock())

    def flush(self) -> None:
        tail = self._decoder.decode(b"", final=False)
        if tail:
            self._pending.append(tail)
        if self._pending:
            self.stream.write("".join(self._pending))
            self._pending.clear()
            self.stream.flush()
            self._last = self.clock()

    def close(self) -> None:
        rest = self._decoder.decode(b"", final=True)
        if rest:
            self._pending.append(rest)
        self.flush()


class LayerBoard:
    """Per-layer pull/push progress, rendered as docker's CLI shows it (one line per layer).

    ``show`` receives the whole board text each time; in a notebook it updates one display.
    """

    def __init__(self, show: Callable[[str], None], interval: float = INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.show = show
        self.lines: dict[str, str] = {}
        self.interval = interval
        self.clock = clock
        self._last = float("-inf")
        self._dirty = False

    def update(self, layer: str, status: str, progress: str = "") -> None:
        self.lines[layer] = f"{layer}: {status} {progress}".rstrip()
        self._dirty = True
        if self.clock() - self._last >= self.interval:
            self.render()

    def due_in(self) -> float | None:
        if not self._dirty:
            return None
        return max(0.0, self._last + self.interval - self.clock())

    def flush(self) -> None:
        self.render()

    def render(self) -> None:
        if self._dirty:
            self.show("\n".join(self.lines.values()))
            self._dirty = False
            self._last = self.clock()


class JsonStreamView:
    """Shows a build/pull/push JSON stream; keeps the ``aux`` image ID a build reports.
    An ``error`` message becomes a DaemonError after what came before is shown."""

    def __init__(self, out: BatchedWriter, board: LayerBoard) -> None:
        self.out = out
        self.board = board
        self.image_id: str | None = None
        self.aux: list[dict[str, Any]] = []

    def handle(self, msg: dict[str, Any]) -> None:
        if "error" in msg:
            raise DaemonError(str(msg.get("error") or msg.get("errorDetail")).strip())
        if "stream" in msg:
            self.out.write(str(msg["stream"]))
        elif "id" in msg and "status" in msg:
            self.out.flush()  # a build's "Step 1/2 : FROM x" goes out above the pull's board
            self.board.update(str(msg["id"]), str(msg["status"]), str(msg.get("progress") or ""))
        elif "status" in msg:
            self.out.write(f"{msg['status']}\n")
        aux = msg.get("aux")
        if isinstance(aux, dict):
            self.aux.append(aux)
            if "ID" in aux:
                self.image_id = str(aux["ID"])

    @property
    def outputs(self) -> list[Flushable]:
        return [self.out, self.board]


class Flushable(Protocol):
    def due_in(self) -> float | None: ...
    def flush(self) -> None: ...


_END = object()


def pump(source: Iterable[T], handle: Callable[[T], None], outputs: list[Flushable],
         idle: float = 0.5) -> None:
    """Read ``source`` on a helper thread; handle items and flush outputs on this (the cell's)
    thread. Blocking here in ``Queue.get`` keeps the kernel interruptible."""
    items: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=_read_into, args=(source, items), daemon=True).start()
    try:
        while True:
            dues = [d for d in (o.due_in() for o in outputs) if d is not None]
            try:
                item = items.get(timeout=min(dues, default=idle))
            except queue.Empty:
                _flush_due(outputs)
                continue
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            handle(item)
    finally:
        for output in outputs:
            output.flush()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _read_into(source: Iterable[Any], items: queue.Queue[Any]) -> None:
    try:
        for item in source:
            items.put(item)
    except BaseException as exc:  # noqa: BLE001 - handed to the cell's thread
        items.put(_Failure(exc))
    finally:
        items.put(_END)


def _flush_due(outputs: list[Flushable]) -> None:
    for output in outputs:
        if output.due_in() == 0.0:
            output.flush()
