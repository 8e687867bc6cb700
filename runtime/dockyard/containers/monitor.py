"""The daemon's side of the shims: one thread reading every shim socket, so the daemon learns
output and exits as they happen (no polling, no thread per container).

``Monitor.watch(id, sock, on_packet, on_lost, on_closed)``: ``on_packet(kind, body)`` for each
shim message (see :mod:`dockyard.containers.shim`), ``on_lost()`` when the socket closes without
an exit message (the shim died, or the daemon is closing), ``on_closed()`` whenever it closes
(after an exit: the shim is done, its container's root mount released). Callbacks run on the
monitor thread.
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .shim import PACKET

log = logging.getLogger("dockyard.containers")
OnPacket = Callable[[bytes, bytes], None]
OnLost = Callable[[], None]


@dataclass
class Watched:
    id: str
    sock: socket.socket
    on_packet: OnPacket
    on_lost: OnLost
    on_closed: OnLost | None = None
    exited: bool = False


class Monitor:
    def __init__(self) -> None:
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="dockyard-shims", daemon=True)
        self._thread.start()

    def watch(self, container_id: str, sock: socket.socket, on_packet: OnPacket,
              on_lost: OnLost, on_closed: OnLost | None = None) -> None:
        self._sel.register(sock, selectors.EVENT_READ,
                           Watched(container_id, sock, on_packet, on_lost, on_closed))

    def _run(self) -> None:
        while not self._closed:
            for key, _ in self._sel.select():
                if key.data is not None:
                    try:
                        self._readable(key.data)
                    except Exception:
                        log.exception("handling shim message of %s", key.data.id)

    def _readable(self, watched: Watched) -> None:
        try:
            data = watched.sock.recv(PACKET)
        except OSError:
            data = b""
        if data:
            if data[:1] == b"x":
                watched.exited = True
            watched.on_packet(data[:1], data[1:])
            return
        self._sel.unregister(watched.sock)
        watched.sock.close()
        if not watched.exited:
            watched.on_lost()
        if watched.on_closed is not None:
            watched.on_closed()

    def close(self) -> None:
        """Stop reading (the shims keep running; a new daemon re-adopts them)."""
        self._closed = True
        os.write(self._wake_w, b"x")
        self._thread.join(5)
        for key in list(self._sel.get_map().values()):
            if key.data is not None:
                key.data.sock.close()
        self._sel.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
