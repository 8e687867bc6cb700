"""Starting the bundled ``dockyard daemon``: shared by the magics (first use), the server's
daemon manager and the quickstart. Imports nothing from Jupyter.

Where the bundled daemon lives: dockyard's usual data root and socket, or, when
``DOCKYARD_DATA_ROOT`` names another data root, that root with its socket inside it
(``ROOT/dockyard.sock``) — a private daemon that never answers for, or collides with, the
user's own (the headless quickstart runs on one).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

from dockyard import config

from .errors import DaemonUnreachable

PING_INTERVAL = 0.05


def daemon_cli_available() -> bool:
    """The ``daemon`` verb lands in the CLI separately; until then nothing can be started."""
    return importlib.util.find_spec("dockyard.cli.daemon") is not None


DATA_ROOT_ENV = "DOCKYARD_DATA_ROOT"


def bundled_data_root() -> Path:
    chosen = os.environ.get(DATA_ROOT_ENV)
    return Path(chosen).absolute() if chosen else config.default_data_root()


def bundled_host(data_root: Path | None = None) -> str:
    root = data_root or bundled_data_root()
    if root == config.default_data_root():
        return config.default_host()
    return f"unix://{root / 'dockyard.sock'}"


def pidfile(data_root: Path | None = None) -> Path:
    return (data_root or bundled_data_root()) / "dockyard.pid"


def socket_path(host: str) -> Path | None:
    return Path(host[len("unix://"):]) if host.startswith("unix://") else None


def daemon_command(host: str, data_root: Path | None = None) -> list[str]:
    root = data_root or bundled_data_root()
    return [sys.executable, "-m", "dockyard.cli.main", "daemon", "-H", host,
            "--data-root", str(root), "--pidfile", str(pidfile(root))]


def log_path(data_root: Path | None = None) -> Path:
    return (data_root or bundled_data_root()) / "daemon.log"


def spawn(host: str, data_root: Path | None = None, *, detached: bool) -> subprocess.Popen[bytes]:
    """Start the daemon; ``detached`` puts it in its own session so it outlives the kernel and
    is shared by every kernel of the user. It runs in ``/``: a daemon that outlives the kernel
    must not keep the first notebook's folder (its cwd) busy."""
    sock = socket_path(host)
    if sock is not None:
        sock.parent.mkdir(parents=True, exist_ok=True)
    log = log_path(data_root)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(daemon_command(host, data_root), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=out, start_new_session=detached,
                                env=dict(os.environ), cwd="/")


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


def ensure_daemon(host: str, data_root: Path | None = None,
                  timeout: float = 15.0) -> subprocess.Popen[bytes] | None:
    """Start the bundled daemon at ``host`` (a unix socket) when nothing answers there.
    Returns the process it started (None when one was already running); raises
    DaemonUnreachable, naming the log, when the daemon cannot be started."""
    if ping(host):
        return None
    if socket_path(host) is None or not daemon_cli_available():
        raise DaemonUnreachable(host)
    deadline = time.monotonic() + timeout
    proc = spawn(host, data_root, detached=True)
    if wait_for_ping(host, timeout, proc):
        return proc if proc.poll() is None else None
    if proc.poll() is not None and _started_elsewhere(host, data_root, deadline):
        return None
    raise DaemonUnreachable(host, f"the bundled daemon did not start; see {log_path(data_root)}")


def _started_elsewhere(host: str, data_root: Path | None, deadline: float) -> bool:
    """Two kernels of the user on first use at once: each starts a daemon, one wins the data
    root's lock and the other's exits at once, before the winner listens. The loser's kernel
    waits for the winner, which is the user's daemon for every kernel from then on."""
    from dockyard.daemon import DataRootLock

    root = data_root or bundled_data_root()
    while time.monotonic() < deadline and DataRootLock.held(root):
        if ping(host):
            return True
        time.sleep(PING_INTERVAL)
    return ping(host)
