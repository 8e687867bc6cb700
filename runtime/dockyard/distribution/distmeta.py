"""Where layer blobs live in registries — dockerd's "v2 metadata service", in its own SQLite file.

``<data root>/distribution.db``::

    blobs   diff_id, compression ('gzip' | 'zstd' | ''), blob_digest, media_type, size
            PK (diff_id, compression): the compressed form a push produced, so a later push of
            the same layer names the same blob (and the manifest keeps its digest) without
            compressing again when the registry already has it
    seen    blob_digest, registry, repository, PK of all three: repositories of a registry
            known to hold the blob (pulled from or pushed to) — sources for a cross-repo mount

Losing this file loses nothing but speed.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (
    diff_id TEXT NOT NULL, compression TEXT NOT NULL, blob_digest TEXT NOT NULL,
    media_type TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (diff_id, compression));
CREATE TABLE IF NOT EXISTS seen (
    blob_digest TEXT NOT NULL, registry TEXT NOT NULL, repository TEXT NOT NULL,
    PRIMARY KEY (blob_digest, registry, repository));
"""


@dataclass(frozen=True)
class Compressed:
    blob_digest: str
    media_type: str
    size: int


class DistMeta:
    def __init__(self, root: Path) -> None:
        self._lock = threading.Lock()
        self.db = sqlite3.connect(Path(root) / "distribution.db", check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def compressed(self, diff_id: str, compression: str) -> Compressed | None:
        with self._lock:
            row = self.db.execute("SELECT blob_digest, media_type, size FROM blobs WHERE diff_id = ? "
                                  "AND compression = ?", (diff_id, compression)).fetchone()
        return Compressed(*row) if row else None

    def record_compressed(self, diff_id: str, compression: str, blob: Compressed) -> None:
        with self._lock:
            self.db.execute("INSERT OR REPLACE INTO blobs VALUES (?,?,?,?,?)",
                            (diff_id, compression, blob.blob_digest, blob.media_type, blob.size))

    def diff_id(self, blob_digest: str) -> str | None:
        """The layer a blob is the compressed form of, where a push made it (dockerd's v2
        metadata ``GetDiffID``)."""
        with self._lock:
            row = self.db.execute("SELECT diff_id FROM blobs WHERE blob_digest = ? LIMIT 1",
                                  (blob_digest,)).fetchone()
        return str(row[0]) if row else None

    def record_seen(self, blob_digest: str, registry: str, repository: str) -> None:
        with self._lock:
            self.db.execute("INSERT OR IGNORE INTO seen VALUES (?,?,?)", (blob_digest, registry, repository))

    def forget_seen(self, blob_digest: str, registry: str, repository: str) -> None:
        with self._lock:
            self.db.execute("DELETE FROM seen WHERE blob_digest = ? AND registry = ? AND repository = ?",
                            (blob_digest, registry, repository))

    def repositories(self, blob_digest: str, registry: str) -> list[str]:
        with self._lock:
            rows = self.db.execute("SELECT repository FROM seen WHERE blob_digest = ? AND registry = ? "
                                   "ORDER BY rowid DESC", (blob_digest, registry)).fetchall()
        return [r[0] for r in rows]
