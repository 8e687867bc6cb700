"""``dockyard registry gc``: mark every blob some manifest references, sweep the rest.

Safe beside a serving registry: readers hold open file descriptors, so an unlink never cuts a
download short; and a blob is swept only if it is unmarked *and* its mtime is older than the
grace period. Pushing a manifest touches every blob it references before accepting it, and a
committed upload is fresh, so anything a push made or used during the run is skipped. A
candidate is first renamed aside and its mtime checked again, closing the window between the
check and the unlink. Stale upload sessions (older than ``upload_age``) go too.

``delete_untagged`` (distribution's ``--delete-untagged``) first drops each repository's
manifests that no tag reaches: not tagged, not an entry of a kept index, not a referrer (OCI
``subject``) of a kept manifest. The same grace period applies to them (by the time the manifest
was pushed), so a multi-platform push, whose platform manifests arrive by digest before the
tagged index, is never cut in half.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import RegistryError
from .manifests import Manifest, parse
from .storage import Storage

log = logging.getLogger("dockyard.registry.gc")


@dataclass
class GcResult:
    marked: int = 0
    removed: list[str] = field(default_factory=list)
    kept_recent: int = 0
    freed_bytes: int = 0
    stale_uploads: int = 0
    untagged: list[str] = field(default_factory=list)  # "repo@digest" of manifests dropped


def _parsed(storage: Storage, repo: str, digest: str) -> Manifest | None:
    try:
        stored = storage.get_manifest(repo, digest)
        return parse(stored.body, stored.media_type)
    except (RegistryError, OSError) as exc:
        log.warning("%s@%s: cannot read manifest (%s); kept", repo, digest, exc)
        return None


def mark(storage: Storage, excluded: frozenset[str] = frozenset()) -> set[str]:
    """Digests of every manifest in every repository and every blob they reference
    (manifests named ``repo@digest`` in ``excluded`` are being dropped and count for nothing)."""
    marked: set[str] = set()
    for repo in storage.repositories():
        for digest in storage.revisions(repo):
            if f"{repo}@{digest}" in excluded:
                continue
            marked.add(digest)
            manifest = _parsed(storage, repo, digest)
            if manifest is not None:
                marked.update(d.digest for d in manifest.blobs)
                marked.update(d.digest for d in manifest.children)
    return marked


def _reachable(manifests: dict[str, Manifest | None], roots: set[str]) -> set[str]:
    """Tagged manifests, the entries of kept indexes, and referrers of kept manifests."""
    keep = {d for d in roots if d in manifests}
    keep.update(d for d, m in manifests.items() if m is None)  # unreadable: never dropped
    changed = True
    while changed:
        changed = False
        for digest, manifest in manifests.items():
            if manifest is None:
                continue
            if digest not in keep and manifest.subject is not None and manifest.subject.digest in keep:
                keep.add(digest)
                changed = True
            if digest in keep:
                new = {c.digest for c in manifest.children if c.digest in manifests} - keep
                changed |= bool(new)
                keep |= new
    return keep


def untagged(storage: Storage, repo: str, cutoff: float) -> list[str]:
    """Manifests of ``repo`` no tag reaches, last pushed before ``cutoff``."""
    manifests = {digest: _parsed(storage, repo, digest) for digest in storage.revisions(repo)}
    keep = _reachable(manifests, storage.tag_targets(repo))
    found = []
    for digest in sorted(set(manifests) - keep):
        with contextlib.suppress(FileNotFoundError):
            if storage.revision_mtime(repo, digest) < cutoff:
                found.append(digest)
    return found


def drop_untagged(storage: Storage, cutoff: float, dry_run: bool, result: GcResult) -> None:
    for repo in storage.repositories():
        for digest in untagged(storage, repo, cutoff):
            if not dry_run:
                try:
                    storage.delete_manifest(repo, digest)
                except RegistryError:
                    continue  # deleted meanwhile
            result.untagged.append(f"{repo}@{digest}")


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
            upload_age: float = 86400.0, delete_untagged: bool = False) -> GcResult:
    started = time.time()
    result = GcResult()
    if delete_untagged:
        drop_untagged(storage, started - grace, dry_run, result)
    marked = mark(storage, frozenset(result.untagged))
    result.marked = len(marked)
    sweep(storage, marked, started - grace, dry_run, result)
    for upload_dir in list(storage.stale_uploads(started - upload_age)):
        result.stale_uploads += 1
        if not dry_run:
            shutil.rmtree(upload_dir, ignore_errors=True)
    return result
