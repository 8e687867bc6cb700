"""A real ``dockyard daemon`` subprocess for tests, examples and benchmarks.

``DaemonProcess`` starts the daemon on its own temporary data root and socket, waits until
``/_ping`` answers, and stops it by pid. The plugin's ``dockyard_daemon`` fixture wraps it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self


def api_unix(path: Path, method: str, target: str, timeout: float = 30.0) -> str:
    """One Engine API request over the unix socket; the body as text ("" on an error status)."""
    import http.client

    class _Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(str(path))

    conn = _Conn("dockyard", timeout=timeout)
    try:
        conn.request(method, target)
        response = conn.getresponse()
        body = response.read().decode()
        return body if response.status < 300 else ""
    finally:
        conn.close()


def ping_unix(path: Path, timeout: float = 1.0) -> bool:
    """True when an Engine API server answers ``GET /_ping`` with ``OK`` on the unix socket."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: dockyard\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
    except OSError:
        return False
    return data.startswith(b"HTTP/1.1 200") and data.endswith(b"OK")


class DockerCLI:
    """The real docker CLI against ``host``: ``docker(*args, **run_kw)`` gives its exit code and
    output — text unless ``text=False`` (a failed command does not raise; 60 s at the most).
    ``env`` is its environment, for tests that exec the CLI on a terminal themselves."""

    def __init__(self, host: str, *, text: bool = True) -> None:
        self.env = dict(os.environ, DOCKER_HOST=host)
        self.text = text

    def __call__(self, *args: str, **run_kw: Any) -> subprocess.CompletedProcess[Any]:
        options = {"text": self.text, "timeout": 60, **run_kw}
        return subprocess.run(["docker", *args], check=False, env=self.env, capture_output=True,
                              **options)

    def events(self, since: str, until: str, *filters: str) -> list[dict[str, Any]]:
        """``docker events --since --until --filter …`` as ``{{json .}}``, each message decoded."""
        args = [a for f in filters for a in ("--filter", f)]
        done = self("events", "--since", since, "--until", until, *args, "--format", "{{json .}}")
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]


class DaemonProcess:
    """One ``dockyard daemon`` on a private data root (``root``) and socket (``socket``)."""

    def __init__(self, root: Path | None = None, *extra_args: str, log_level: str = "info") -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="dockyard-daemon-"))
        self.root = root or self.tmp / "root"
        self.socket = self.tmp / "dockyard.sock"
        self.pidfile = self.tmp / "dockyard.pid"
        self.log_path = self.tmp / "daemon.log"
        self.extra_args = list(extra_args)
        self.log_level = log_level
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "dockyard.cli.main", "daemon", "--data-root", str(self.root),
                "-H", self.host, "--pidfile", str(self.pidfile), "--log-level", self.log_level,
                *self.extra_args]

    def start(self, timeout: float = 20.0) -> Self:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not ping_unix(self.socket):
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockyard daemon exited with {self.proc.returncode}: {self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dockyard daemon did not answer /_ping in {timeout}s: {self.log()}")
            time.sleep(0.02)
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    def client(self, **kwargs: Any) -> Any:
        """A docker-py ``DockerClient`` for this daemon (version negotiated by /version)."""
        import docker

        kwargs.setdefault("version", "auto")
        return docker.DockerClient(base_url=self.host, **kwargs)

    def load(self, archive: Path) -> Self:
        """``docker load`` of an image archive (a test's busybox) into this daemon."""
        client = self.client()
        try:
            with open(archive, "rb") as f:
                list(client.api.load_image(f))
        finally:
            client.close()
        return self

    def stop(self, timeout: float = 15.0, sig: int = signal.SIGTERM) -> int | None:
        """Signal the daemon by pid and wait; SIGKILL if it does not stop in time, with a
        warning that carries its log's end (a stop that waited out the daemon's drain — a
        connection or an engine call left open — shows there, else only as a slow teardown)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                warnings.warn(f"dockyard daemon {self.proc.pid} did not stop within {timeout:g}s of "
                              f"signal {sig}: killed; its log ends:\n{self.log()[-1500:]}",
                              RuntimeWarning, stacklevel=2)
        code = self.proc.returncode
        self.proc = None
        return code

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def remove_containers(self) -> None:
        """Force-remove every container (running ones outlive a stopped daemon, by design)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for item in json.loads(api_unix(self.socket, "GET", "/containers/json?all=1") or "[]"):
            api_unix(self.socket, "DELETE", f"/containers/{item['Id']}?force=1&v=1")

    def kill_leftovers(self) -> None:
        """Containers whose daemon is gone: SIGKILL their shims (their inits die with them)."""
        for pidfile in (self.root / "containers").glob("*/shim.pid"):
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)

    def cleanup(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.remove_containers()
        self.stop()
        self.kill_leftovers()
        self.release_root()
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.tmp)

    def release_root(self) -> None:
        """The data root's own shared bind a killed daemon left (``linux.daemonroot``), with
        whatever its containers left mounted below it; a clean stop removed it already."""
        from ..linux import daemonroot

        with contextlib.suppress(OSError):
            daemonroot.release(str(self.root), force=True)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


# Run argv in a new network namespace with its loopback up (``exec`` keeps the pid).
IN_NEW_NETNS: tuple[str, ...] = ("unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh")


class NetnsDaemonProcess(DaemonProcess):
    """A ``DaemonProcess`` in a new network namespace (``unshare --net`` execs the daemon, so
    the pid is the daemon's): its bridges, veths and NAT rules vanish with it and never touch
    the host's network. The unix socket is reachable from the host as usual."""

    def command(self) -> list[str]:
        return [*IN_NEW_NETNS, *super().command()]


class PlacedDaemonProcess(DaemonProcess):
    """A ``DaemonProcess`` that starts in the cgroups ``procs`` names (their ``cgroup.procs``
    files; a shell moves itself there and execs the daemon, so the pid is the daemon's).
    ``procs`` may change between a stop and a start: a daemon restarted elsewhere."""

    def __init__(self, procs: list[Path], *extra_args: str) -> None:
        super().__init__(None, *extra_args)
        self.procs = procs

    def command(self) -> list[str]:
        moves = "; ".join(f"echo $$ > {p}" for p in self.procs)
        return ["sh", "-c", f'{moves}; exec "$@"', "sh", *super().command()]


@contextlib.contextmanager
def remapped_daemon(*extra_args: str) -> Iterator[DaemonProcess]:
    """A started ``--userns-remap=default`` daemon, its data root in a directory the remapped
    root may search its way through (0711) to its containers' root file systems; removed with
    its containers, its scratch directory and that directory however the block ends."""
    where = Path(tempfile.mkdtemp(prefix="dytest-remapd-", dir="/tmp"))
    where.chmod(0o711)
    daemon = DaemonProcess(where / "root", "--userns-remap=default", *extra_args)
    try:
        yield daemon.start()
    finally:
        daemon.cleanup()
        shutil.rmtree(where, ignore_errors=True)


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (``VmRSS`` from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pid_gone(pid: int, timeout: float = 5.0) -> bool:
    """Whether ``pid`` leaves /proc within ``timeout`` seconds (a killed process lingers until
    its parent reaps it)."""
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


__all__ = ["IN_NEW_NETNS", "DaemonProcess", "NetnsDaemonProcess", "pid_gone", "ping_unix", "remapped_daemon",
           "rss_kib"]
