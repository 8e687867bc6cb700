"""Paths that are not clean, side by side with a private dockerd 20.10: its router (gorilla/mux)
answers them before any handler, a 301 to the cleaned path (``//``, ``.`` and ``..`` segments,
an escaped ``/`` once decoded) with its query, and no other header of dockerd's; the docker CLI
follows it, to the clean name. dockyard looked the name up (``/busybox``: invalid reference
format). And a route asked with another method is no route: 404 ``page not found`` (dockyard:
405 ``Method Not Allowed``)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.slow

REQUESTS = [("GET", "/v1.41/images//busybox/json"), ("GET", "/v1.41/images/busybox//json?x=1"),
            ("GET", "/v1.41/images/a%2F/json"), ("DELETE", "/v1.41/images/./busybox"),
            ("GET", "/v1.41/containers/x/../dyclean/json"), ("GET", "/images//busybox/json"),
            ("POST", "/v1.41/images/busybox%2F%2F/tag?repo=dyclean-x&tag=a%20b"),
            ("GET", "/v1.41/_ping/"), ("GET", "/v1.41/../_ping"),
            ("GET", "/v1.41/images/busybox/json/"), ("GET", "/v1.41/containers/create"), ("DELETE", "/v1.41/_ping"),
            ("DELETE", "/info")]


def raw(path: Path, method: str, target: str) -> bytes:
    """The answer without its Date header, read until the daemon closes the connection."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(30)
        sock.connect(str(path))
        sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = [h for h in head.split(b"\r\n") if not h.lower().startswith(b"date:")]
    if not lines[0].startswith(b"HTTP/1.1 301"):  # another answer: its status and body
        return lines[0] + b"\n" + body
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def test_unclean_paths_redirect_as_dockerds(both: dict[str, tuple[DockerCLI, Any]]) -> None:
    seen = {}
    for side, (cli, _client) in both.items():
        path = Path(cli.env["DOCKER_HOST"].removeprefix("unix://"))
        seen[side] = [raw(path, method, target) for method, target in REQUESTS]
        for args in (("image", "inspect", "-f", "{{.Id}}", "/busybox"), ("rmi", "dyclean-none/"),
                     ("history", "-q", "./busybox")):
            done = cli(*args)
            seen[side].append([args, done.returncode, done.stdout, done.stderr])
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][0].startswith(b"HTTP/1.1 301 Moved Permanently\r\nLocation: /v1.41/images/busybox/json")
