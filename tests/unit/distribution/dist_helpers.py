"""Helpers for the distribution tests: stores with busybox, htpasswd files, a faulty proxy."""

from __future__ import annotations

import base64
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import bcrypt

from dockyard.distribution.service import Distribution
from dockyard.store.archive import load
from dockyard.store.images import ImageStore


class Node:
    """One data root: an image store and its distribution client."""

    def __init__(self, root: Path, insecure: list[str] | None = None, mirrors: list[str] | None = None) -> None:
        from dockyard.distribution.endpoints import RegistryConfig

        self.root = root
        self.store = ImageStore(root)
        self.dist = Distribution(self.store, root, RegistryConfig(insecure or [], mirrors or []))

    def load(self, archive: Path) -> None:
        with open(archive, "rb") as f:
            list(load(self.store, f))

    def close(self) -> None:
        self.dist.close()
        self.store.close()


def run(messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    out = list(messages)
    for m in out:
        json.dumps(m)  # every message must be JSON-able, as the API writes it
    return out


def statuses(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("status", "") for m in messages]


def write_htpasswd(path: Path, users: dict[str, str]) -> Path:
    lines = [f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=4)).decode()}" for u, p in users.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def registry_get(url: str, auth: tuple[str, str] | None = None,
                 accept: str = "application/vnd.docker.distribution.manifest.v2+json") -> tuple[int, bytes]:
    """A raw GET against a registry (Basic auth only), for checking what a push left there."""
    request = urllib.request.Request(url, headers={"Accept": accept})
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class DroppingProxy:
    """A TCP proxy on loopback that cuts both connections once ``limit`` bytes went upstream
    (or, with ``downstream=True``, came back from the server).

    A real fault on a real socket: the client sees its connection reset mid-transfer.
    """

    def __init__(self, target: str, limit: int, downstream: bool = False, once: bool = False) -> None:
        self.downstream = downstream
        self.once = once  # cut only the first connection that crosses the limit
        host, _, port = target.rpartition(":")
        self.target = (host, int(port))
        self.limit = limit
        self.sent = 0
        self.dropped = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.host = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self._closing = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._socks += [client, upstream]
            up, down = (False, True) if self.downstream else (True, False)
            threading.Thread(target=self._pipe, args=(client, upstream, up), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, down), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, counted: bool) -> None:
        try:
            while chunk := src.recv(65536):
                if counted:
                    with self._lock:
                        self.sent += len(chunk)
                        over = self.sent > self.limit and not (self.once and self.dropped.is_set())
                    if over:
                        self.dropped.set()
                        self._cut(src, dst)
                        return
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            self._cut(src, dst)

    @staticmethod
    def _cut(*socks: socket.socket) -> None:
        for s in socks:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in recv on it
            except OSError:
                pass
            s.close()  # linger 0: a reset, as a dropped link looks

    def close(self) -> None:
        self._closing = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        except OSError:
            pass
        self.listener.close()
        with self._lock:
            self._cut(*self._socks)
        self._thread.join(5)


__all__ = ["Distribution", "DroppingProxy", "Node", "registry_get", "run", "statuses", "write_htpasswd"]
