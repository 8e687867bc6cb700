"""A daemon with 500 images lists them all, request after request (the latency is bench images)."""

from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path

import pytest

from dockyard.testing import busybox
from dockyard.testing.daemon import DaemonProcess

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
def test_images_list_of_500_is_whole_and_stable(tmp_path: Path) -> None:
    """500 images loaded at once are each listed once with their tag, on every request of one
    keep-alive connection. How fast is a benchmark figure (bench images, target < 20 ms), not a
    test: a bound here failed CI at 20.6 ms under load."""
    images = [busybox.make_image(f"many:{i}", {"etc/id": str(i).encode()}) for i in range(COUNT)]
    archive = busybox.write_archive(tmp_path / "many.tar", images)
    with DaemonProcess() as daemon:
        conn = UnixConnection(daemon.socket)
        with open(archive, "rb") as f:
            conn.call("POST", "/images/load?quiet=1", f)
        first = json.loads(conn.call("GET", "/images/json"))
        assert len(first) == COUNT
        assert sorted(t for i in first for t in i["RepoTags"]) == sorted(
            f"many:{i}" for i in range(COUNT))
        assert len({i["Id"] for i in first}) == COUNT
        for _ in range(5):
            assert json.loads(conn.call("GET", "/v1.45/images/json")) == first
        conn.close()
