"""A GET that waits for the server to come up: a container's server (``httpd`` behind a
published port) may not listen yet when its start returns."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable


def get_when_up(url: str, timeout: float = 20.0, alive: Callable[[], bool] | None = None) -> bytes:
    """The body of ``GET url``, retried while the connection is refused or reset; the last
    error is raised once ``timeout`` seconds have passed, or at once when ``alive`` says the
    server (its container) has gone."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body: bytes = response.read()
                return body
        except OSError:
            if time.monotonic() > deadline or (alive is not None and not alive()):
                raise
            time.sleep(0.05)
