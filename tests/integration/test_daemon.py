"""The ``dockyard daemon`` process: sockets, locking, signals, restarts, footprint."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from dockyard.testing.daemon import DaemonProcess, ping_unix, rss_kib


@pytest.fixture
def daemon():
    with DaemonProcess() as d:
        yield d


def run_daemon(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockyard.cli.main", "daemon", *args],
                          check=False, capture_output=True, text=True, timeout=timeout)


def test_socket_is_mode_0660_and_pidfile_names_the_daemon(daemon: DaemonProcess) -> None:
    mode = daemon.socket.stat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660
    assert int(daemon.pidfile.read_text()) == daemon.pid
    assert (daemon.root / "dockyard.lock").read_text().strip() == str(daemon.pid)


def test_data_root_is_0710_and_closed_to_other_users(daemon: DaemonProcess) -> None:
    """As dockerd's /var/lib/docker: another user may reach the directory holding the data
    root, but neither list the data root nor reach anything below it."""
    assert stat.S_IMODE(daemon.root.stat().st_mode) == 0o710
    daemon.tmp.chmod(0o755)  # the test's own directory: open, so the data root is the boundary
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            os.stat(daemon.tmp)  # reachable
            for probe in (lambda: os.listdir(daemon.root), lambda: os.stat(daemon.root / "dockyard.lock")):
                try:
                    probe()
                    break
                except PermissionError:
                    pass
            else:
                code = 0
        finally:
            os._exit(code)
    assert os.waitpid(pid, 0)[1] == 0


def test_second_daemon_on_the_same_data_root_refuses(daemon: DaemonProcess, tmp_path: Path) -> None:
    other = tmp_path / "other.sock"
    r = run_daemon("--data-root", str(daemon.root), "-H", f"unix://{other}")
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "already running on data root" in r.stderr
    assert str(daemon.pid) in r.stderr and "Traceback" not in r.stderr
    assert not other.exists()
    assert ping_unix(daemon.socket)


def test_live_pidfile_and_live_socket_are_refused(daemon: DaemonProcess, tmp_path: Path) -> None:
    r = run_daemon("--data-root", str(tmp_path / "a"), "-H", f"unix://{tmp_path}/a.sock",
                   "--pidfile", str(daemon.pidfile))
    assert r.returncode == 1 and "pid file found" in r.stderr
    r = run_daemon("--data-root", str(tmp_path / "b"), "-H", daemon.host)
    assert r.returncode == 1 and "already listening" in r.stderr
    assert ping_unix(daemon.socket)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_shuts_down_cleanly(sig: int) -> None:
    with DaemonProcess() as d:
        assert d.stop(sig=sig) == 0
        assert not d.socket.exists() and not d.pidfile.exists()
        assert "Daemon shutdown complete" in d.log()


def test_restart_keeps_images(busybox_archive: Path) -> None:
    with DaemonProcess() as d:
        client = d.client()
        with open(busybox_archive, "rb") as f:
            (image,) = client.images.load(f)
        client.close()
        d.restart()
        client = d.client()
        assert client.images.get("busybox:latest").id == image.id
        client.close()


def test_kill_9_leaves_nothing_that_blocks_a_restart() -> None:
    with DaemonProcess() as d:
        d.stop(sig=signal.SIGKILL)
        assert d.socket.exists()  # stale, nobody listens
        d.start()
        assert ping_unix(d.socket)


def test_tcp_and_unix_hosts_together() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with DaemonProcess(None, "-H", f"tcp://127.0.0.1:{port}") as d:
        assert ping_unix(d.socket)
        r = requests.get(f"http://127.0.0.1:{port}/v1.41/_ping", timeout=5)
        assert r.text == "OK" and r.headers["API-Version"]


@pytest.mark.parametrize("host", ["relative.sock", "unix://relative.sock", "tcp://nohost"])
def test_bad_host_is_one_line(host: str, tmp_path: Path) -> None:
    r = run_daemon("--data-root", str(tmp_path), "-H", host)
    assert r.returncode == 1 and r.stderr.startswith("dockyard: invalid host")
    assert r.stderr.count("\n") == 1


def test_starts_and_idles_small() -> None:
    """The start's duration is printed, not asserted (a busy machine is no failure)."""
    started = time.monotonic()
    with DaemonProcess() as d:
        elapsed = time.monotonic() - started
        assert d.pid is not None
        assert d.client().ping()
        rss = rss_kib(d.pid)
    print(f"daemon start {elapsed * 1000:.0f} ms, idle RSS {rss / 1024:.1f} MiB")
    assert rss < 60 * 1024


def test_light_imports_before_the_lock() -> None:
    """``dockyard daemon --help`` and a refused start never import the store or docker-py."""
    code = ("import sys; from dockyard.cli.main import build_parser; build_parser(); "
            "bad = [m for m in ('dockyard.store', 'dockyard.engine', 'docker', 'sqlite3') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_sigterm_during_an_upload_exits_clean_and_the_store_stays_consistent(
        busybox_archive: Path) -> None:
    data = busybox_archive.read_bytes()
    with DaemonProcess() as d:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(d.socket))
            sock.sendall(b"POST /v1.45/images/load HTTP/1.1\r\nHost: x\r\n"
                         + f"Content-Length: {len(data)}\r\n\r\n".encode() + data[: len(data) // 2])
            time.sleep(0.3)  # the engine is now blocked reading the rest of the body
            # The rest never comes: the daemon exits by itself (stop() would SIGKILL it after
            # 15 s) only by aborting the upload, and its drain finds no engine call left.
            assert d.stop(sig=signal.SIGTERM) == 0, d.log()
            assert "Daemon shutdown complete" in d.log()
            assert "closing anyway" not in d.log(), "the drain waited for the upload's engine call"
            sock.settimeout(5)
            assert sock.recv(65536) == b""  # hung up on, the client's half body never finished
        assert not d.socket.exists()
        d.start()
        client = d.client()
        assert client.images.list() == []
        (image,) = client.images.load(data)
        assert image.tags == ["busybox:latest"]
        client.close()


def test_sighup_is_not_fatal() -> None:
    with DaemonProcess() as d:
        assert d.proc is not None
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(0.2)
        assert ping_unix(d.socket)
