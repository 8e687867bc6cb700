"""An attach refused side by side with a private dockerd 20.10: its postContainersAttach takes
the connection over and writes a bare status line, the raw stream's Content-Type and its words
as text (no JSON), upgrade asked or not — bad detach keys (checked before the lookup: 400 for a
missing container too), a missing container (404), a paused one (409, named as asked). The exact
bytes, docker-py's error and the docker CLI's words."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.slow

QUERIES = ["stream=1&stdout=1", "stream=0&logs=1&stdout=1", "stream=1&stdin=1&stdout=1&detachKeys=ctrl-A"]
CONTAINERS = ["dyatt-nosuch", "dyatt-paused", "dyatt-run"]


def raw_attach(path: Path, container: str, query: str, upgrade: bool) -> bytes:
    """The whole answer, read until the daemon closes the connection."""
    head = f"POST /v1.41/containers/{container}/attach?{query} HTTP/1.1\r\nHost: docker\r\n"
    head += "Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else ""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(30)
        sock.connect(str(path))
        sock.sendall((head + "Content-Length: 0\r\n\r\n").encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def refusals(cli: DockerCLI, client: Any) -> list[Any]:
    path = Path(cli.env["DOCKER_HOST"].removeprefix("unix://"))
    seen: list[Any] = []
    for container in CONTAINERS:
        for query in QUERIES:
            if container == "dyatt-run" and "detachKeys" not in query:
                continue  # a running container's attach goes on
            for upgrade in (True, False):
                seen.append([container, query, upgrade, raw_attach(path, container, query, upgrade)])
    for container in ("dyatt-nosuch", "dyatt-paused"):
        with pytest.raises(docker.errors.APIError) as refused:
            client.api.attach(container, stream=True)
        seen.append([container, refused.value.status_code, refused.value.explanation])
    for args in (["attach", "--detach-keys", "ctrl-A", "dyatt-run"], ["attach", "dyatt-paused"]):
        done = cli(*args, stdin=subprocess.DEVNULL)
        seen.append([args, done.returncode, done.stdout, done.stderr])
    return seen


def test_attach_refused_as_raw_text(both: dict[str, tuple[DockerCLI, Any]]) -> None:
    seen = {}
    for side, (cli, client) in both.items():
        try:
            for name in ("dyatt-paused", "dyatt-run"):
                made = cli("run", "-d", "--pull", "never", "--name", name, "busybox", "sleep", "600")
                assert made.returncode == 0, made.stderr
            assert cli("pause", "dyatt-paused").returncode == 0
            seen[side] = refusals(cli, client)
        finally:
            cli("rm", "-f", "dyatt-paused", "dyatt-run")
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][0][3] == (b"HTTP/1.1 404 Not Found\r\nContent-Type: application/vnd.docker.raw-stream"
                                     b"\r\n\r\nNo such container: dyatt-nosuch\r\n")
