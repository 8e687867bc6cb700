"""A real Jupyter server in a subprocess, isolated from the user's Jupyter config."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class JupyterServer:
    url: str
    token: str
    process: subprocess.Popen[bytes]
    root: Path

    def get(self, path: str, **kw: Any) -> requests.Response:
        return requests.get(self.url + path, headers={"Authorization": f"token {self.token}"},
                            timeout=30, **kw)

    def log(self) -> str:
        return (self.root / "server.log").read_text(errors="replace")


def jupyter_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(JUPYTER_CONFIG_DIR=str(root / "config"), JUPYTER_DATA_DIR=str(root / "data"),
               JUPYTER_RUNTIME_DIR=str(root / "runtime"), JUPYTER_PLATFORM_DIRS="1")
    return env


def start_server(extension_config: dict[str, Any], timeout: float = 30.0) -> JupyterServer:
    root = Path(tempfile.mkdtemp(prefix="jpserver-"))
    (root / "config").mkdir()
    (root / "notebooks").mkdir()
    config = {"ServerApp": {"jpserver_extensions": {"dockyard_jupyter": True}},
              "DockyardExtension": extension_config}
    (root / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}",
           "--ip=127.0.0.1", "--allow-root", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root / 'notebooks'}"]
    with open(root / "server.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                env=jupyter_env(root), start_new_session=True)
    server = JupyterServer(f"http://127.0.0.1:{port}", token, proc, root)
    try:
        _wait_up(server, timeout)
    except BaseException:
        stop_server(server)
        raise
    return server


def _wait_up(server: JupyterServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"jupyter server exited: {server.log()[-3000:]}")
        try:
            if server.get("/api/status").status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"jupyter server not up after {timeout}s")


def stop_server(server: JupyterServer) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(5)
    shutil.rmtree(server.root, ignore_errors=True)
