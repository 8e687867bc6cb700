"""``dockyard registry gc``: mark every blob some manifest references, sweep the rest.

Safe beside a serving registry: readers hold open file descriptors, so an unlink never cuts a
download short; and a blob is swept only if it is unmarked *and* its mtime is older than the
grace period. Pushing a manifest touches every blob it references before accepting it, and a
committed upload is fresh, so anything a push made or used during the run is skipped. A
candidate is first renamed aside and its mtime checked again, closing the window between the
check and the unlink. Stale upload sessions (older than ``upload_age``) go too.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import RegistryError
from .manifests import parse
from .storage import Storage

log = logging.getLogger("dockyard.registry.gc")


@dataclass
class GcResult:
    marked: int = 0
    removed: list[str] = field(default_factory=list)
    kept_recent: int = 0
    freed_bytes: int = 0
    stale_uploads: int = 0


def mark(storage: Storage) -> set[str]:
    """Digests of every manifest in every repository and every blob they reference."""
    marked: set[str] = set()
    for repo in storage.repositories():
        for digest in storage.revisions(repo):
            marked.add(digest)
            try:
                stored = storage.get_manifest(repo, digest)
                manifest = parse(stored.body, stored.media_type)
            except (RegistryError, OSError) as exc:
                log.warning("%s@%s: cannot read manifest (%s); kept", repo, digest, exc)
                continue
            marked.update(d.digest for d in manifest.blobs)
            marked.update(d.digest for d in manifest.children)
    return marked


def blobs(storage: Storage) -> list[tuple[str, Path]]:
    found = []
    for algorithm_dir in (storage.root / "blobs").iterdir():
        for path in algorithm_dir.glob("*/*"):
            found.append((f"{algorithm_dir.name}:{path.name}", path))
    return found


def _sweep_one(storage: Storage, path: Path, cutoff: float) -> int | None:
    """Remove one candidate unless touched meanwhile; its size, or None if kept."""
    aside = storage.tmp / f"gc-{path.name}"
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return None
    stat = aside.stat()
    if stat.st_mtime >= cutoff:
        os.rename(aside, path)
        return None
    aside.unlink()
    return stat.st_size


def sweep(storage: Storage, marked: set[str], cutoff: float, dry_run: bool, result: GcResult) -> None:
    """Remove every unmarked blob last touched before ``cutoff``."""
    for digest, path in blobs(storage):
        if digest in marked:
            continue
        try:
            if path.stat().st_mtime >= cutoff:
                result.kept_recent += 1
                continue
            size = path.stat().st_size if dry_run else _sweep_one(storage, path, cutoff)
        except FileNotFoundError:
            continue
        if size is None:
            result.kept_recent += 1
        else:
            result.removed.append(digest)
            result.freed_bytes += size


def collect(storage: Storage, grace: float = 3600.0, dry_run: bool = False,
            upload_age: float = 86400.0) -> GcResult:
    started = time.time()
    result = GcResult()
    marked = mark(storage)
    result.marked = len(marked)
    sweep(storage, marked, started - grace, dry_run, result)
    for upload_dir in list(storage.stale_uploads(started - upload_age)):
        result.stale_uploads += 1
        if not dry_run:
            shutil.rmtree(upload_dir, ignore_errors=True)
    return result
