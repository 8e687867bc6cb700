"""A FIFO a container waits on (``read x < /gate``) that the test opens only once what it
watches for has happened: a test of streamed output proves order — the first line reached its
reader while the container still waited — instead of timing it. The gate opens anyway after
``patience`` seconds, so a failure ends the test rather than hanging it; ``opened_after``
then says the awaited thing never came first."""

from __future__ import annotations

import os
import threading
from pathlib import Path


class FifoGate:
    """``gate = FifoGate(tmp_path / "gate")``; bind ``gate.path`` into the container; call
    ``gate.seen()`` where the test sees the first line; afterwards
    ``assert gate.opened_after_seen()``."""

    def __init__(self, path: Path, patience: float = 30.0) -> None:
        self.path = path
        os.mkfifo(path)
        self._seen = threading.Event()
        self._opened: list[bool] = []
        self._opener = threading.Thread(target=self._open, args=(patience,), daemon=True)
        self._opener.start()

    def _open(self, patience: float) -> None:
        self._opened.append(self._seen.wait(patience))
        with open(self.path, "w") as fifo:  # blocks until the container opens it to read
            fifo.write("go\n")

    def seen(self) -> None:
        self._seen.set()

    def opened_after_seen(self, wait: float = 15.0) -> bool:
        """Whether the gate opened because :meth:`seen` came, not for want of patience."""
        self._opener.join(wait)
        return self._opened == [True]
