"""Image metadata in SQLite (WAL): what the store knows, committed one logical change at a time.

Schema::

    images      id TEXT PK                 config digest = image ID ("sha256:…")
                manifest_digest TEXT        manifest the image came with (NULL if none kept)
                manifest_media_type TEXT, config_media_type TEXT
                os, architecture, variant   platform, from the config
                created TEXT, created_unix  config.created (RFC 3339) and as unix seconds
                size INTEGER                sum of its snapshots' unpacked sizes
                parent TEXT                 parent image ID (local builds only), else ''
                labels TEXT                 JSON of config.config.Labels (filters need no blob read)
                last_tag_time TEXT          Metadata.LastTagTime
                seq INTEGER                 insertion order (before= / since= filters)
    refs        name TEXT PK                normalised reference: "docker.io/library/busybox:latest"
                                            or "docker.io/library/busybox@sha256:…"
                repository TEXT, tag TEXT, digest TEXT, image_id → images(id) ON DELETE CASCADE
    layers      (image_id → images ON DELETE CASCADE, position) PK; chain_id, diff_id,
                blob_digest, media_type, blob_size: the layer blob as this image references it
    snapshots   chain_id PK, diff_id, parent, tar_size (uncompressed tar bytes), size (unpacked
                bytes), state ('ready'). Its ref-count is derived, never stored: the number of
                ``layers`` rows naming it (view ``snapshot_refs``), so it cannot drift.

Order of writes makes a kill -9 harmless: on add, blobs and snapshot dirs are made visible first
and the rows committed last; on delete, rows go first and files after. What a crash leaves is
unreferenced files, collected when the store opens (see :mod:`.images`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY, manifest_digest TEXT, manifest_media_type TEXT,
    config_media_type TEXT NOT NULL, os TEXT NOT NULL, architecture TEXT NOT NULL,
    variant TEXT NOT NULL, created TEXT NOT NULL, created_unix INTEGER NOT NULL,
    size INTEGER NOT NULL, parent TEXT NOT NULL, labels TEXT NOT NULL,
    last_tag_time TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS refs (
    name TEXT PRIMARY KEY, repository TEXT NOT NULL, tag TEXT, digest TEXT,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE);
CREATE INDEX IF NOT EXISTS refs_image ON refs(image_id);
CREATE TABLE IF NOT EXISTS layers (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE, position INTEGER NOT NULL,
    chain_id TEXT NOT NULL, diff_id TEXT NOT NULL, blob_digest TEXT NOT NULL,
    media_type TEXT NOT NULL, blob_size INTEGER NOT NULL, PRIMARY KEY (image_id, position));
CREATE INDEX IF NOT EXISTS layers_chain ON layers(chain_id);
CREATE INDEX IF NOT EXISTS layers_blob ON layers(blob_digest);
CREATE TABLE IF NOT EXISTS snapshots (
    chain_id TEXT PRIMARY KEY, diff_id TEXT NOT NULL, parent TEXT NOT NULL,
    tar_size INTEGER NOT NULL, size INTEGER NOT NULL, state TEXT NOT NULL);
CREATE VIEW IF NOT EXISTS snapshot_refs AS
    SELECT s.chain_id, COUNT(l.image_id) AS refs FROM snapshots s
    LEFT JOIN layers l ON l.chain_id = s.chain_id GROUP BY s.chain_id;
"""


@dataclass
class ImageRow:
    id: str
    manifest_digest: str | None
    manifest_media_type: str | None
    config_media_type: str
    os: str
    architecture: str
    variant: str
    created: str
    created_unix: int
    size: int
    parent: str
    labels: str
    last_tag_time: str
    seq: int = 0

    @property
    def label_dict(self) -> dict[str, str]:
        return json.loads(self.labels) or {}


@dataclass
class LayerRow:
    image_id: str
    position: int
    chain_id: str
    diff_id: str
    blob_digest: str
    media_type: str
    blob_size: int


@dataclass
class SnapshotRow:
    chain_id: str
    diff_id: str
    parent: str
    tar_size: int
    size: int
    state: str = "ready"


@dataclass
class RefRow:
    name: str
    repository: str
    tag: str | None
    digest: str | None
    image_id: str


class MetadataStore:
    """One SQLite connection shared by the engine's threads, serialised by a lock."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One logical change: everything inside commits together or not at all."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.db.execute(sql, args).fetchall()

    # -- images --

    def images(self, where: str = "", args: tuple[object, ...] = ()) -> list[ImageRow]:
        rows = self.query(f"SELECT * FROM images {where}", args)
        return [ImageRow(*r) for r in rows]

    def image(self, image_id: str) -> ImageRow | None:
        rows = self.images("WHERE id = ?", (image_id,))
        return rows[0] if rows else None

    def ids_with_prefix(self, hex_prefix: str) -> list[str]:
        like = "sha256:" + hex_prefix.replace("%", "").replace("_", "") + "%"
        return [r[0] for r in self.query("SELECT id FROM images WHERE id LIKE ? LIMIT 2", (like,))]

    def children(self, image_id: str) -> list[str]:
        return [r[0] for r in self.query("SELECT id FROM images WHERE parent = ?", (image_id,))]

    def insert_image(self, db: sqlite3.Connection, image: ImageRow, layers: list[LayerRow],
                     snapshots: list[SnapshotRow]) -> None:
        image.seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM images").fetchone()[0]
        db.execute(f"INSERT INTO images VALUES ({','.join('?' * 14)})", astuple(image))
        db.executemany("INSERT OR IGNORE INTO snapshots VALUES (?,?,?,?,?,?)",
                       [astuple(s) for s in snapshots])
        db.executemany("INSERT INTO layers VALUES (?,?,?,?,?,?,?)", [astuple(x) for x in layers])

    # -- layers and snapshots --

    def layers(self, image_id: str) -> list[LayerRow]:
        rows = self.query("SELECT * FROM layers WHERE image_id = ? ORDER BY position", (image_id,))
        return [LayerRow(*r) for r in rows]

    def snapshot(self, chain_id: str) -> SnapshotRow | None:
        rows = self.query("SELECT * FROM snapshots WHERE chain_id = ?", (chain_id,))
        return SnapshotRow(*rows[0]) if rows else None

    def snapshot_ids(self) -> set[str]:
        return {r[0] for r in self.query("SELECT chain_id FROM snapshots")}

    def unreferenced_snapshots(self, db: sqlite3.Connection) -> list[str]:
        return [r[0] for r in db.execute("SELECT chain_id FROM snapshot_refs WHERE refs = 0")]

    def referenced_blobs(self) -> set[str]:
        rows = self.query(
            "SELECT id FROM images UNION SELECT manifest_digest FROM images "
            "WHERE manifest_digest IS NOT NULL UNION SELECT blob_digest FROM layers"
        )
        return {r[0] for r in rows}

    def blob_in_use(self, db: sqlite3.Connection, digest: str) -> bool:
        row = db.execute(
            "SELECT 1 FROM images WHERE id = ?1 OR manifest_digest = ?1 "
            "UNION SELECT 1 FROM layers WHERE blob_digest = ?1 LIMIT 1", (digest,)
        ).fetchone()
        return row is not None

    def layers_size(self) -> int:
        return int(self.query("SELECT COALESCE(SUM(size), 0) FROM snapshots")[0][0])

    # -- references --

    def refs(self, image_id: str | None = None) -> list[RefRow]:
        if image_id is None:
            return [RefRow(*r) for r in self.query("SELECT * FROM refs ORDER BY name")]
        rows = self.query("SELECT * FROM refs WHERE image_id = ? ORDER BY name", (image_id,))
        return [RefRow(*r) for r in rows]

    def ref(self, name: str) -> RefRow | None:
        rows = self.query("SELECT * FROM refs WHERE name = ?", (name,))
        return RefRow(*rows[0]) if rows else None

    def set_ref(self, db: sqlite3.Connection, ref: RefRow) -> str | None:
        """Point ``ref.name`` at an image; return the image it pointed at before, if another."""
        old = db.execute("SELECT image_id FROM refs WHERE name = ?", (ref.name,)).fetchone()
        db.execute("INSERT OR REPLACE INTO refs VALUES (?,?,?,?,?)", astuple(ref))
        return old[0] if old and old[0] != ref.image_id else None
