"""The daemon's footprint and the image list's latency with 500 images (issue 2's targets)."""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import time
from pathlib import Path

import pytest

from dockyard.testing import busybox
from dockyard.testing.daemon import DaemonProcess, rss_kib

COUNT = 500


class UnixConnection(http.client.HTTPConnection):
    """One keep-alive connection: the figure is the daemon's time, not connection set-up."""

    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=60)
        self.unix_path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)

    def call(self, method: str, path: str, body: object = None) -> bytes:
        self.request(method, path, body=body)  # type: ignore[arg-type]
        response = self.getresponse()
        data = response.read()
        assert response.status == 200, data
        return data


@pytest.mark.slow
def test_images_list_of_500_answers_under_20_ms(tmp_path: Path) -> None:
    images = [busybox.make_image(f"many:{i}", {"etc/id": str(i).encode()}) for i in range(COUNT)]
    archive = busybox.write_archive(tmp_path / "many.tar", images)
    with DaemonProcess() as daemon:
        conn = UnixConnection(daemon.socket)
        with open(archive, "rb") as f:
            conn.call("POST", "/images/load?quiet=1", f)
        assert len(json.loads(conn.call("GET", "/images/json"))) == COUNT
        times = []
        for _ in range(50):
            started = time.perf_counter()
            conn.call("GET", "/v1.45/images/json")
            times.append(time.perf_counter() - started)
        conn.close()
        assert daemon.pid is not None
        rss = rss_kib(daemon.pid) / 1024
    median = statistics.median(times) * 1000
    print(f"GET /images/json with {COUNT} images: median {median:.1f} ms; RSS {rss:.1f} MiB")
    assert median < 20
