"""The Engine API's JSON progress messages for pull and push, exactly as dockerd writes them.

``{"status": "Downloading", "progressDetail": {"current": 1, "total": 2}, "progress": "[=> ] …",
"id": "a3ed95caeb02"}``; ``id`` is the 12-hex short form of a layer's digest (pull: the blob
digest, push: the diff ID). docker CLI and docker-py draw bars from ``progressDetail``.
:class:`Throttle` keeps a fast transfer from emitting thousands of messages.
"""

from __future__ import annotations

import time
from typing import Any

Message = dict[str, Any]
BAR_WIDTH = 50


def short_id(digest: str) -> str:
    return digest.partition(":")[2][:12] if ":" in digest else digest[:12]


def status(text: str, id: str | None = None) -> Message:
    message: Message = {"status": text}
    if id is not None:
        message["id"] = id
    return message


def layer(text: str, id: str) -> Message:
    """A per-layer status with an empty ``progressDetail``, as dockerd sends them."""
    return {"status": text, "progressDetail": {}, "id": id}


def progress(text: str, id: str, current: int, total: int) -> Message:
    return {"status": text, "progressDetail": {"current": current, "total": total},
            "progress": bar(current, total), "id": id}


def bar(current: int, total: int) -> str:
    """dockerd's textual bar (``JSONProgress.String`` at its width without a terminal): an
    arrow after ``=`` for each two percent, even at 100, and the current size right-aligned
    in eight: ``[=======>   …]  1.049MB/1.1MB``; a current beyond the total shows alone."""
    if total <= 0:
        return f"{human(current):>8}" if current > 0 else ""
    done = min(50, int(current / total * 100) // 2)
    numbers = f"{human(current):>8}" + (f"/{human(total)}" if current <= total else "")
    return f"[{'=' * done}>{' ' * (BAR_WIDTH - done)}] {numbers}"


def human(n: float) -> str:
    """go-units HumanSize (decimal units, 3 significant digits)."""
    units = ["B", "kB", "MB", "GB", "TB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return f"{n:.4g}{units[i]}"


def aux(tag: str, digest: str, size: int) -> Message:
    return {"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest, "Size": size}}


class Throttle:
    """True at most every ``interval`` seconds, and always at the end."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self._last = 0.0

    def due(self, final: bool = False) -> bool:
        now = time.monotonic()
        if final or now - self._last >= self.interval:
            self._last = now
            return True
        return False
