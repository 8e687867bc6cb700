"""Layers move concurrently: pull fetches up to 3 blobs at once (dockerd's default), push uploads
up to 5, measured at a real HTTP proxy in front of the registry that slows every blob transfer."""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from dist_helpers import Node, run

from dockyard.engine import go_arch
from dockyard.store.images import LayerInput
from dockyard.testing.registry import RegistryProcess

LAYERS = 6
DELAY = 0.25


class Meter:
    """In-flight blob transfers, by kind, and the most seen at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = {"download": 0, "upload": 0}
        self.peak = {"download": 0, "upload": 0}

    def enter(self, kind: str) -> None:
        with self.lock:
            self.now[kind] += 1
            self.peak[kind] = max(self.peak[kind], self.now[kind])

    def leave(self, kind: str) -> None:
        with self.lock:
            self.now[kind] -= 1


def _kind(method: str, path: str) -> str | None:
    if method == "GET" and "/blobs/sha256:" in path:
        return "download"
    if method in ("PATCH", "PUT") and "/blobs/uploads/" in path or (method == "POST" and "digest=" in path):
        return "upload"
    return None


def proxy_handler(upstream: str, meter: Meter) -> type[BaseHTTPRequestHandler]:
    session = requests.Session()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    data += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
                return data
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _forward(self) -> None:
            kind = _kind(self.command, self.path)
            body = self._body()
            if kind:
                meter.enter(kind)
            try:
                if kind:
                    time.sleep(DELAY)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "transfer-encoding", "content-length", "connection")}
                r = session.request(self.command, upstream + self.path, data=body or None, headers=headers,
                                    allow_redirects=False)
            finally:
                if kind:
                    meter.leave(kind)
            self.send_response(r.status_code)
            for key, value in r.headers.items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(key, value)
            payload = b"" if self.command == "HEAD" else r.content
            self.send_header("Content-Length", r.headers.get("Content-Length", str(len(payload)))
                             if self.command == "HEAD" else str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    return Handler


@pytest.fixture
def slow_registry(tmp_path: Path) -> Iterator[tuple[str, Meter]]:
    meter = Meter()
    with RegistryProcess(tmp_path / "registry") as registry:
        server = ThreadingHTTPServer(("127.0.0.1", 0), proxy_handler(registry.url, meter))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"127.0.0.1:{server.server_address[1]}", meter
        finally:
            server.shutdown()
            server.server_close()


def layer_tar(i: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = f"layer {i}\n".encode() * 1000
        info = tarfile.TarInfo(f"file{i}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_layers_transfer_concurrently(node_factory: Callable[..., Node], slow_registry: tuple[str, Meter]) -> None:
    host, meter = slow_registry
    source = node_factory("source")
    diff_ids = [source.store.content.write(io.BytesIO(layer_tar(i)))[0] for i in range(LAYERS)]
    config = json.dumps({"architecture": go_arch(), "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    source.store.add(config, [LayerInput(d) for d in diff_ids], [])
    source.store.tag(source.store.meta.images()[0].id, f"{host}/many", "v1")
    run(source.dist.push(f"{host}/many", "v1"))
    assert meter.peak["upload"] == 5, meter.peak
    target = node_factory("target")
    run(target.dist.pull(f"{host}/many", "v1"))
    assert meter.peak["download"] == 3, meter.peak
    assert len(target.store.meta.images()) == 1
