"""What the real docker CLI sends for ``docker create FLAGS…``: a tiny HTTP listener on a unix
socket poses as a daemon (``/_ping``, ``/version``), records each ``POST /containers/create``
body and answers it with a made-up ID, so the CLI prints the ID and exits. No daemon, no
network: the tests compare dockyard's own flag table (``dockyard.cli.runopts``) with the CLI's.

    with CreateCapture(tmp_path / "capture.sock") as capture:
        body = capture.create_body("--ulimit", "nofile=10:20", "busybox")

Run as ``python3 -m dockyard.testing.createcapture FLAGS… IMAGE`` to print one body.
"""

from __future__ import annotations

import json
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Self

#: The API version the listener claims: dockyard's, so the CLI sends what it sends dockyard.
API_VERSION = "1.45"
_FAKE_ID = "c0ffee" * 10 + "c0de"


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    bodies: list[dict[str, Any]]
    queries: list[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def address_string(self) -> str:  # a unix socket has no peer address
        return "capture"

    def log_message(self, *_args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any = None, head: bool = False) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Api-Version", API_VERSION)
        self.send_header("Ostype", "linux")
        self.send_header("Content-Type", "application/json" if body is not None else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def do_HEAD(self) -> None:
        self._answer(200, head=True)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.endswith("/_ping"):
            self._answer(200, "OK")
        elif path.endswith("/version"):
            self._answer(200, {"Version": "28.2.2", "ApiVersion": API_VERSION,
                               "MinAPIVersion": "1.24", "Os": "linux", "Arch": "amd64"})
        else:
            self._answer(404, {"message": f"page not found: {path}"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.split("?")[0].endswith("/containers/create"):
            self.server.bodies.append(json.loads(raw or b"{}"))
            self.server.queries.append(self.path.partition("?")[2])
            self._answer(201, {"Id": _FAKE_ID, "Warnings": []})
        else:
            self._answer(404, {"message": f"page not found: {self.path}"})


class CreateCapture:
    """The listener at ``path`` (a unix socket), served on a thread until closed."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)
        self.server = _Server(str(self.path), _Handler)
        self.server.bodies, self.server.queries = [], []
        self.thread = threading.Thread(target=self.server.serve_forever, name="create-capture",
                                       daemon=True)
        self.thread.start()
        self._config = tempfile.TemporaryDirectory(prefix="capture-docker-config-")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
        self.path.unlink(missing_ok=True)
        self._config.cleanup()

    def create_body(self, *argv: str, env: dict[str, str] | None = None,
                    cwd: Path | None = None) -> dict[str, Any]:
        """The body ``docker create ARGV…`` sends (an empty DOCKER_CONFIG: no proxies
        or other settings of the machine's user added to it); ``env``: the CLI's environment
        besides PATH, HOME and the DOCKER_* it needs (for ``-e NAME``)."""
        return self.create(*argv, env=env, cwd=cwd)[0]

    def create(self, *argv: str, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> tuple[dict[str, Any], str]:
        """The body and the query string (``name=…&platform=…``)."""
        docker = shutil.which("docker")
        if docker is None:
            raise RuntimeError("the docker CLI is not on PATH")
        before = len(self.server.bodies)
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "HOME": os.environ.get("HOME", "/root"),
                    "DOCKER_HOST": f"unix://{self.path}", "DOCKER_CONFIG": self._config.name,
                    **(env or {})}
        result = subprocess.run([docker, "create", *argv], env=full_env, cwd=cwd,
                                capture_output=True, text=True, timeout=30, check=False)
        if result.returncode != 0 or len(self.server.bodies) != before + 1:
            raise RuntimeError(f"docker create {' '.join(argv)}: exit {result.returncode}: "
                               f"{result.stderr.strip()}")
        return self.server.bodies[-1], self.server.queries[-1]

    def refusal(self, *argv: str) -> str:
        """The CLI's error for flags it refuses before sending anything (its stderr)."""
        docker = shutil.which("docker") or "docker"
        env = {"PATH": os.environ.get("PATH", ""), "DOCKER_HOST": f"unix://{self.path}",
               "DOCKER_CONFIG": self._config.name}
        result = subprocess.run([docker, "create", *argv], env=env, capture_output=True,
                                text=True, timeout=30, check=False)
        if result.returncode == 0:
            raise RuntimeError(f"docker create {' '.join(argv)} was not refused")
        return result.stderr.strip()


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="capture-") as tmp, \
            CreateCapture(Path(tmp) / "capture.sock") as capture:
        body, query = capture.create(*argv)
    print(json.dumps({"query": query, "body": body}, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
