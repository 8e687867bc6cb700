"""Starting the bundled ``dockyard daemon``: shared by the magics (first use) and the server's
daemon manager. Imports nothing from Jupyter."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

from dockyard import config

PING_INTERVAL = 0.05


def daemon_cli_available() -> bool:
    """The ``daemon`` verb lands in the CLI separately; until then nothing can be started."""
    return importlib.util.find_spec("dockyard.cli.daemon") is not None


def socket_path(host: str) -> Path | None:
    return Path(host[len("unix://"):]) if host.startswith("unix://") else None


def daemon_command(host: str, data_root: Path | None = None) -> list[str]:
    root = data_root or config.default_data_root()
    return [sys.executable, "-m", "dockyard.cli.main", "daemon", "-H", host,
            "--data-root", str(root)]


def spawn(host: str, data_root: Path | None = None, *, detached: bool) -> subprocess.Popen[bytes]:
    """Start the daemon; ``detached`` puts it in its own session so it outlives the kernel and
    is shared by every kernel of the user."""
    sock = socket_path(host)
    if sock is not None:
        sock.parent.mkdir(parents=True, exist_ok=True)
    log_dir = config.default_data_root()
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "daemon.log", "ab") as log:
        return subprocess.Popen(daemon_command(host, data_root), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, start_new_session=detached,
                                env=dict(os.environ))


def ping(host: str, timeout: float = 1.0) -> bool:
    import docker

    try:
        client = docker.APIClient(base_url=host, version="1.41", timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any failure means "not answering"
        return False


def wait_for_ping(host: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ping(host, timeout=1.0):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(PING_INTERVAL)
    return False


def ensure_default_daemon(host: str, timeout: float = 15.0) -> bool:
    """Start the bundled daemon at the default host if nothing answers there. True if one
    answers afterwards."""
    if ping(host):
        return True
    if host != config.default_host() or not daemon_cli_available():
        return False
    proc = spawn(host, detached=True)
    return wait_for_ping(host, timeout, proc)
