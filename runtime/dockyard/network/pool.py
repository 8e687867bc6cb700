"""Network namespaces made ahead of time, so a container start does not wait for one.

Making a netns (unshare, pin it with a bind mount, ``lo`` up, and for a bridged container a
socket inside) costs ~1.5 ms of every ``--network none`` or bridged start. The pool
keeps one ready per kind (with or without the socket), made on a thread shortly after each
take. A taken netns is bind-mounted at the container's usual path (``<netns_dir>/<id>``), so
nothing else sees the pool; its ``pool-<hex>`` pin is removed by the pool's thread. Pins left
by a crashed daemon are removed when the next one starts (a pin is never in use by then:
containers hold their netns through their own path).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..linux import syscalls
from . import netlink

log = logging.getLogger("dockyard.network")
PREFIX = "pool-"
REFILL_DELAY = 0.005
"""Seconds between a take and the refill: the start that took it goes first on a busy CPU."""



@dataclass
class Ready:
    pin: str                         # <netns_dir>/pool-<hex>
    inside: netlink.InetSandbox | None   # a socket in it (for bridged containers)


class NetnsPool:
    def __init__(self, netns_dir: Path) -> None:
        self.dir = netns_dir
        self._ready: dict[bool, Ready] = {}
        self._wanted: set[bool] = set()
        self._trash: list[str] = []
        self._cv = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        for stale in netns_dir.glob(PREFIX + "*"):
            netlink.delete_netns(str(stale))

    def take(self, path: str, with_socket: bool) -> Ready | None:
        """Pin a ready netns at ``path`` too; None when none was ready (the caller makes one;
        the pool will have one next time)."""
        with self._cv:
            entry = self._ready.pop(with_socket, None)
            self._wanted.add(with_socket)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="netns-pool", daemon=True)
                self._thread.start()
            self._cv.notify()
        if entry is None:
            return None
        try:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o444))
            syscalls.mount(entry.pin, path, None, syscalls.MS_BIND)
        except BaseException:
            _discard(entry)
            raise
        with self._cv:
            self._trash.append(entry.pin)
        return entry

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._closed and not self._trash and self._wanted <= set(self._ready):
                    self._cv.wait()
                if self._closed:
                    return
                trash, self._trash = self._trash, []
                missing = sorted(self._wanted - set(self._ready))
            time.sleep(REFILL_DELAY)
            for pin in trash:
                netlink.delete_netns(pin)
            for kind in missing:
                self._make(kind)

    def _make(self, with_socket: bool) -> None:
        pin = str(self.dir / f"{PREFIX}{secrets.token_hex(6)}")
        try:
            inside = netlink.create_netns(pin, with_socket=with_socket)
        except Exception as exc:  # noqa: BLE001 - starts make their own meanwhile
            log.warning("netns pool: %s", exc)
            time.sleep(1)
            return
        with self._cv:
            if not self._closed and with_socket not in self._ready:
                self._ready[with_socket] = Ready(pin, inside)
                return
        _discard(Ready(pin, inside))

    def close(self) -> None:
        with self._cv:
            self._closed = True
            entries, self._ready = list(self._ready.values()), {}
            trash, self._trash = self._trash, []
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(5)
        for entry in entries:
            _discard(entry)
        for pin in trash:
            netlink.delete_netns(pin)


def _discard(entry: Ready) -> None:
    if entry.inside is not None:
        entry.inside.close()
    netlink.delete_netns(entry.pin)
