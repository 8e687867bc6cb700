"""The build cache index: content-addressed step keys → the image each step produced.

Layout (under the data root)::

    build/cache.db    SQLite (WAL): steps(key PRIMARY KEY, image_id, parent, description,
                      size, created, last_used, usage)

A key is sha256 over the parent image ID (which pins the whole config and layer chain so far),
the instruction as expanded, the build args in scope and the content digests of COPY/ADD
sources — never timestamps. A hit whose image has since been removed is a miss (and its row
goes). The images themselves live in the image store as untagged intermediates, as dockerd's
classic builder keeps them, so the cache survives daemon restarts with the store.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS steps (
    key TEXT PRIMARY KEY, image_id TEXT NOT NULL, parent TEXT NOT NULL,
    description TEXT NOT NULL, size INTEGER NOT NULL, created REAL NOT NULL,
    last_used REAL NOT NULL, usage INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS steps_image ON steps(image_id);
"""


def step_key(parent: str, text: str, args: Iterable[tuple[str, str]] = (),
             sources: Iterable[str] = ()) -> str:
    """The cache key of one step (see the module docstring)."""
    payload = json.dumps([parent, text, sorted(args), list(sources)], separators=(",", ":"))
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    key: str
    image_id: str
    parent: str
    description: str
    size: int
    created: float
    last_used: float
    usage: int


class BuildCache:
    """Thread-safe; one connection guarded by a lock (lookups are tiny)."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / "cache.db"
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get(self, key: str, exists: Callable[[str], bool]) -> str | None:
        """The image of ``key`` if it is still in the store (then its use is recorded)."""
        with self._lock:
            row = self._db.execute("SELECT image_id FROM steps WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            if not exists(row[0]):
                self._db.execute("DELETE FROM steps WHERE key = ?", (key,))
                return None
            self._db.execute("UPDATE steps SET last_used = ?, usage = usage + 1 WHERE key = ?",
                             (time.time(), key))
            return str(row[0])

    def put(self, key: str, image_id: str, parent: str, description: str, size: int) -> None:
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
                (key, image_id, parent, description[:200], size, now, now))

    def entries(self) -> list[Entry]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM steps ORDER BY created").fetchall()
        return [Entry(*row) for row in rows]

    def remove(self, keys: Iterable[str]) -> None:
        with self._lock, self._db:
            self._db.executemany("DELETE FROM steps WHERE key = ?", [(k,) for k in keys])

    def disk_usage(self) -> list[dict[str, Any]]:
        """``/system/df`` BuildCache records."""
        from ..store.timefmt import rfc3339_ns

        return [{"ID": e.key.removeprefix("sha256:")[:25], "Parent": e.parent, "Type": "regular",
                 "Description": e.description, "InUse": False, "Shared": True, "Size": e.size,
                 "CreatedAt": rfc3339_ns(int(e.created * 1e9)),
                 "LastUsedAt": rfc3339_ns(int(e.last_used * 1e9)), "UsageCount": e.usage}
                for e in self.entries()]
