"""A GET that waits for the server to come up: a container's server (``httpd`` behind a
published port) may not listen yet when its start returns."""

from __future__ import annotations

import time
import urllib.request


def get_when_up(url: str, timeout: float = 20.0) -> bytes:
    """The body of ``GET url``, retried while the connection is refused or reset; the last
    error is raised once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body: bytes = response.read()
                return body
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
