"""The front end against dockyard's own daemon (image endpoints): magics, the server proxy,
and starting the bundled daemon on first use."""

from __future__ import annotations

import os
import signal
import socketserver
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from jupyter_procs import JupyterServer, start_server, stop_server

from dockyard.daemon import DataRootLock
from dockyard.testing.daemon import DaemonProcess
from dockyard_jupyter import client as clients
from dockyard_jupyter import launcher


@pytest.fixture
def shell(dockyard_daemon: DaemonProcess, busybox_image: str,
          dockyard_clean_images: Any) -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "dockyard_jupyter")
    ip.user_ns["dockyard_host"] = dockyard_daemon.host
    yield ip
    clients.forget_client(dockyard_daemon.host)


def docker_(ip: InteractiveShell, line: str) -> Any:
    return ip.run_line_magic("docker", "--host $dockyard_host " + line)


def test_image_verbs_on_the_dockyard_daemon(shell: InteractiveShell, busybox_image: str,
                                            tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert any(row[:2] == ["busybox", "latest"] for row in docker_(shell, "images").rows)
    docker_(shell, "tag busybox nb/copy:1")
    assert docker_(shell, "inspect -f '{{.Id}}' nb/copy:1") == [busybox_image]
    docker_(shell, f"save -o {tmp_path}/saved.tar nb/copy:1")
    docker_(shell, "rmi nb/copy:1")
    assert "Untagged: nb/copy:1" in capsys.readouterr().out
    docker_(shell, f"load -i {tmp_path}/saved.tar")
    assert "nb/copy:1" in capsys.readouterr().out
    assert docker_(shell, "version")["Version"]
    assert docker_(shell, "system df").rows[0][0] == "Images"


def test_proxy_to_the_dockyard_daemon(dockyard_daemon: DaemonProcess, busybox_image: str) -> None:
    server: JupyterServer = start_server({"daemon_host": dockyard_daemon.host,
                                          "start_daemon": False})
    try:
        status = server.get("/dockyard/status").json()
        assert status["reachable"] is True and status["host"] == dockyard_daemon.host
        assert server.get("/dockyard/api/v1.41/version").json()["ApiVersion"]
        images = server.get("/dockyard/api/v1.41/images/json").json()
        assert busybox_image in {i["Id"] for i in images}
    finally:
        stop_server(server)


def test_bundled_daemon_starts_on_first_use(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/run/dockyard.sock"
    proc = launcher.ensure_daemon(host, tmp_path / "data")
    try:
        assert proc is not None and launcher.ping(host)
        assert launcher.ensure_daemon(host, tmp_path / "data") is None   # reused, not doubled
        assert proc.poll() is None and proc.pid != 0
        assert os.readlink(f"/proc/{proc.pid}/cwd") == "/"   # pins no notebook's folder
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
    assert not launcher.ping(host)


class _PingOnly(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args: Any) -> None:
        pass


class _UnixHTTP(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def test_first_use_waits_for_a_daemon_another_kernel_is_starting(tmp_path: Path) -> None:
    """Two kernels at once: this one's daemon loses the data root's lock and exits before the
    winner listens; the kernel waits for the winner instead of failing."""
    host, root = f"unix://{tmp_path}/run/dockyard.sock", tmp_path / "data"
    winner = DataRootLock(root)
    winner.acquire()                                 # the other kernel's daemon, still starting
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(_ensure(host, root)))
    thread.start()
    server = None
    try:
        deadline = time.monotonic() + 15
        while "already running" not in _read(launcher.log_path(root)) or _live_daemon_children(root):
            assert time.monotonic() < deadline and thread.is_alive(), result
            time.sleep(0.05)
        time.sleep(0.5)                              # the kernel has seen its daemon exit ...
        assert thread.is_alive(), result             # ... and still waits for the winner
        server = _UnixHTTP(str(tmp_path / "run/dockyard.sock"), _PingOnly)   # the winner listens
        threading.Thread(target=server.serve_forever, daemon=True).start()
        thread.join(15)
        assert len(result) == 1 and not isinstance(result[0], Exception), result
        if result[0] is not None:                    # ours, still exiting when the winner answered
            assert result[0].wait(10) != 0
    finally:
        thread.join(15)
        if server is not None:
            server.shutdown()
            server.server_close()
        winner.release()


def _ensure(host: str, root: Path) -> Any:
    try:
        return launcher.ensure_daemon(host, root)
    except Exception as exc:  # noqa: BLE001 - reported to the test's thread
        return exc


def _live_daemon_children(root: Path) -> list[int]:
    """This process's children that run a daemon on ``root`` (other tests' daemons run too)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and str(root).encode() in cmdline:
            found.append(int(stat.parent.name))
    return found


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
