"""The bundled daemon's life inside a Jupyter server: started with the server, restarted when
it dies, stopped at shutdown. A daemon that already answers at the host is used, not managed
(another server or the user started it)."""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from .. import launcher


class DaemonManager:
    def __init__(self, host: str, command: list[str], *, log: logging.Logger,
                 restart_delay: float = 1.0, ready_timeout: float = 30.0,
                 log_path: Path | None = None) -> None:
        self.host = host
        self.command = command
        self.log = log
        self.restart_delay = restart_delay
        self.ready_timeout = ready_timeout
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.adopted = False
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None

    def start(self) -> None:
        """Spawn (unless one answers already) and watch; returns once it answers or fails."""
        if launcher.ping(self.host):
            self.adopted = True
            self.log.info("dockyard: using the daemon already running at %s", self.host)
            return
        self._spawn()
        self._watchdog = threading.Thread(target=self._watch, name="dockyard-daemon-watchdog",
                                          daemon=True)
        self._watchdog.start()

    def _spawn(self) -> None:
        sock = launcher.socket_path(self.host)
        if sock is not None:
            sock.parent.mkdir(parents=True, exist_ok=True)
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            out: Any = (stack.enter_context(open(self.log_path, "ab")) if self.log_path
                        else subprocess.DEVNULL)
            self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=out, start_new_session=True)
        self.log.info("dockyard: started daemon pid %d at %s", self.process.pid, self.host)
        if not launcher.wait_for_ping(self.host, self.ready_timeout, self.process):
            self.log.error("dockyard: daemon at %s did not answer (exit status %s)", self.host,
                           self.process.poll())

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            proc = self.process
            if proc is None or proc.poll() is None:
                continue
            self.log.warning("dockyard: daemon exited with status %s; restarting",
                             proc.returncode)
            if self._stopping.wait(self.restart_delay):
                return
            if launcher.ping(self.host):
                self._adopt()
                return
            self.restarts += 1
            self._spawn()

    def _adopt(self) -> None:
        """Another daemon answers now (a kernel's first magic started one while ours was
        down): use it as at start, rather than spawn ours again and again into its lock."""
        self.process = None
        self.adopted = True
        self.log.info("dockyard: using the daemon already running at %s", self.host)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the pid we started, SIGKILL if it does not go; adopted daemons stay."""
        self._stopping.set()
        if self._watchdog is not None:
            self._watchdog.join(5)
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def status(self) -> dict[str, Any]:
        proc = self.process
        return {
            "managed": proc is not None,
            "adopted": self.adopted,
            "pid": proc.pid if proc is not None and proc.poll() is None else None,
            "restarts": self.restarts,
            "checked": time.time(),
        }
