"""ImageStore: blobs, metadata and snapshots combined into images with dockerd's semantics.

An image is its config blob (ID = config digest, as Docker's classic store), an ordered list of
layer blobs each unpacked once into a snapshot keyed by chain ID, and any number of references.
Adding is two-phase — :meth:`ImageStore.prepare` makes blobs and snapshots visible, then
:meth:`ImageStore.commit` writes the rows of one or many images in a single transaction — so a
load that fails half-way adds no reference at all. Opening the store collects what a crash
left: temp files, unreferenced snapshots and blobs.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Conflict, DockyardError, InvalidArgument
from ..linux.idmap import UserNamespace
from ..oci import digest as _digest
from ..oci import mediatypes as mt
from ..oci import reference as _ref
from ..oci.digest import of_bytes
from ..oci.reference import Reference
from .compression import Readable
from .content import ContentStore
from .metadata import ImageRow, LayerRow, MetadataStore, RefRow, SnapshotRow
from .owners import StoreIdMap
from .removal import ImageNotFound
from .snapshots import SnapshotStore, UnpackResult, chain_ids
from .timefmt import ZERO_TIME, parse_unix, rfc3339_now

ContainersUsing = Callable[[str], list[tuple[str, bool]]]
"""image ID → [(container ID, running)]; installed by the containers package."""
EmitEvent = Callable[[str, str, str, dict[str, str]], object]
"""``EventBus.emit``: (type, action, actor ID, attributes)."""


@dataclass
class LayerInput:
    """A layer blob already in the content store, as a manifest lists it."""

    blob_digest: str
    media_type: str = mt.OCI_LAYER


@dataclass
class Prepared:
    """An image whose blobs and snapshots exist, waiting for its rows to be committed."""

    image: ImageRow
    layers: list[LayerRow]
    snapshots: list[SnapshotRow]
    refs: list[Reference] = field(default_factory=list)


class AddSession:
    """What one load/import/pull touched before its commit: blobs it wrote or found, snapshots
    it made or adopted without a row. Everything it touched stays pinned — a concurrent add
    may not discard it — until the session ends; then whatever no row references and no other
    session pins goes. Every writer of content (load, import, pull, build) adds inside one."""

    def __init__(self, store: ImageStore) -> None:
        self.store = store
        self.blobs: set[str] = set()
        self.chains: list[str] = []
        self.pinned: list[str] = []
        self.notes: list[str] = []  # for the client: a rootless unpack's owners not kept

    def blob(self, digest: str) -> None:
        """Record (and pin) a blob this add writes or relies on."""
        self.store._pin(digest)
        self.pinned.append(digest)
        self.blobs.add(digest)

    def chain(self, chain_id: str) -> None:
        self.store._pin(chain_id)
        self.pinned.append(chain_id)
        self.chains.append(chain_id)

    def warnings(self) -> Iterator[dict[str, Any]]:
        """The notes as JSON-stream messages, the same for load, import and pull: the docker
        CLI prints a ``stream`` text as it is, progress or not."""
        for note in self.notes:
            yield {"stream": f"WARNING: {note}\n"}


class StoreFull(DockyardError):
    """The data root's filesystem ran out of space (or quota) while adding content."""


@contextmanager
def disk_errors(root: Path) -> Iterator[None]:
    """Turn ENOSPC/EDQUOT from deep inside a write into one typed error naming the cause."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = exc.filename or root
        raise StoreFull(f"write {where}: no space left on device") from None
    except sqlite3.OperationalError as exc:
        if "full" not in str(exc):
            raise
        raise StoreFull(f"write {root / 'metadata.db'}: no space left on device") from None


def shown_name(name: str) -> str:
    """How dockerd names a missing image: familiar, with ``:latest`` added to a bare name."""
    try:
        if _digest.is_hex_id(name, 64) and len(name.removeprefix("sha256:")) == 64:
            return name
        return _ref.parse(name).familiar()
    except InvalidArgument:
        return name


def config_labels(config: dict[str, Any]) -> dict[str, str]:
    return dict((config.get("config") or {}).get("Labels") or {})


class ImageStore:
    """The image store under one data root; safe to share between threads."""

    def __init__(self, root: Path, remap: UserNamespace | None = None) -> None:
        """``remap``: a root daemon's ``--userns-remap`` map; layers are unpacked with their
        owners shifted through it. :attr:`id_map` is the store's id map (a rootless daemon's too:
        :class:`~dockyard.store.owners.StoreIdMap`), which the snapshots share."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock_root(self.root)
        self.content = ContentStore(self.root)
        self.id_map = StoreIdMap.of_process(remap)
        self.snapshots = SnapshotStore(self.root, id_map=self.id_map)
        self.meta = MetadataStore(self.root / "metadata.db")
        self._lock = threading.RLock()
        self._chain_locks: dict[str, threading.Lock] = {}
        self._pins: Counter[str] = Counter()
        self.containers_using: ContainersUsing = lambda _image_id: []
        self.emit: EmitEvent = lambda *_event: None  # the engine's bus (engine.events.emit)
        self.recover()

    @property
    def remap(self) -> UserNamespace | None:
        """The ``--userns-remap`` map (:attr:`id_map`' own), or None: what a remapped daemon's
        containers, builds and volumes are given."""
        return self.id_map.remap

    def close(self) -> None:
        self.meta.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = -1

    # ---- crash recovery -------------------------------------------------------------------

    def recover(self) -> dict[str, int]:
        """Bring files and rows back in line after a crash; call only before serving."""
        with self._lock:
            stats = {"ingest": self.content.clean_ingest()}
            self._drop_images_missing_files()
            with self.meta.tx() as db:
                for chain_id in self.meta.unreferenced_snapshots(db):
                    db.execute("DELETE FROM snapshots WHERE chain_id = ?", (chain_id,))
            stats["snapshots"] = len(self.snapshots.clean(self.meta.snapshot_ids()))
            keep = self.meta.referenced_blobs()
            orphans = [d for d in self.content.digests() if d not in keep]
            for dgst in orphans:
                self.content.delete(dgst)
            stats["blobs"] = len(orphans)
            return stats

    def _drop_images_missing_files(self) -> None:
        """An image whose snapshot or config vanished (deleted by hand) cannot be used: drop it."""
        for image in self.meta.images():
            layers = self.meta.layers(image.id)
            if self.content.has(image.id) and all(self.snapshots.exists(x.chain_id) for x in layers):
                continue
            with self.meta.tx() as db:
                db.execute("DELETE FROM images WHERE id = ?", (image.id,))

    # ---- adding images ----------------------------------------------------------------------

    def _chain_lock(self, chain_id: str) -> threading.Lock:
        with self._lock:
            return self._chain_locks.setdefault(chain_id, threading.Lock())

    def ensure_snapshot(self, chain_id: str, parent: str, layer: LayerInput, diff_id: str,
                        session: AddSession | None = None) -> SnapshotRow:
        """The snapshot for ``chain_id``, unpacking the layer blob if no snapshot exists yet.

        A snapshot made (or found) without a row is recorded in ``session`` until committed.
        """
        with self._chain_lock(chain_id):
            row = self.meta.snapshot(chain_id)
            if row is not None and self.snapshots.exists(chain_id):
                return row
            info = self.snapshots.info(chain_id)
            if info is None:
                with self.content.open(layer.blob_digest) as blob:
                    info = self.unpack(chain_id, blob, diff_id, session)
            if session is not None:
                session.chain(chain_id)
            return SnapshotRow(chain_id, info.diff_id, parent, info.tar_size, info.size)

    def unpack(self, chain_id: str, src: Readable | Iterator[bytes], diff_id: str,
               session: AddSession | None) -> UnpackResult:
        """Unpack a layer as snapshot ``chain_id`` (every add's one way to make one): what a
        rootless unpack could not keep of its owners becomes a note of ``session``, which the
        client is shown (:meth:`AddSession.warnings`) as well as the daemon's log."""
        info = self.snapshots.create(chain_id, src, expected_diff_id=diff_id)
        if session is not None and info.unmapped:
            session.notes.append(info.unmapped)  # list.append: safe from pull's unpack threads
        return info

    def prepare(self, config_bytes: bytes, layers: list[LayerInput], refs: list[Reference] = (),  # type: ignore[assignment]
                manifest: tuple[str, str] | None = None, config_media_type: str = mt.DOCKER_CONFIG,
                parent: str = "", session: AddSession | None = None) -> Prepared:
        """Store the config, unpack every layer (verifying diff_ids) and describe the image."""
        config = parse_config(config_bytes)
        image_id = of_bytes(config_bytes)
        if session is not None:
            session.blob(image_id)  # pinned before it is written: no concurrent discard races
        self.content.write_bytes(config_bytes, image_id)
        diff_ids: list[str] = config["rootfs"]["diff_ids"]
        if len(diff_ids) != len(layers):
            raise InvalidArgument(
                f"image {image_id}: config lists {len(diff_ids)} layers, manifest {len(layers)}"
            )
        for layer in layers:
            if layer.media_type not in mt.LAYERS:
                raise InvalidArgument(f"unsupported layer media type: {layer.media_type}")
        chains = chain_ids(diff_ids)
        snaps, rows = [], []
        for i, (layer, diff_id, chain) in enumerate(zip(layers, diff_ids, chains, strict=True)):
            snaps.append(self.ensure_snapshot(chain, chains[i - 1] if i else "", layer, diff_id, session))
            size = self.content.size(layer.blob_digest)
            rows.append(LayerRow(image_id, i, chain, diff_id, layer.blob_digest, layer.media_type, size))
        image = ImageRow(
            id=image_id, manifest_digest=manifest[0] if manifest else None,
            manifest_media_type=manifest[1] if manifest else None,
            config_media_type=config_media_type, os=config.get("os") or "linux",
            architecture=config.get("architecture") or "", variant=config.get("variant") or "",
            created=config.get("created") or ZERO_TIME, created_unix=parse_unix(config.get("created")),
            size=sum(s.size for s in snaps), parent=parent,
            labels=json.dumps(config_labels(config)), last_tag_time=ZERO_TIME,
        )
        return Prepared(image, rows, snaps, list(refs))

    def add(self, config_bytes: bytes, layers: list[LayerInput], refs: list[Reference] = (),  # type: ignore[assignment]
            manifest: tuple[str, str] | None = None, parent: str = "",
            session: AddSession | None = None) -> str:
        """Prepare and commit one image whose layer blobs are stored; return its ID.

        For the builder and pull: write the layer blobs inside ``with store.adding() as s``
        (``s.blob(digest)`` for each), then ``store.add(..., session=s)``.
        """
        if session is None:
            with self.adding() as own:
                return self.add(config_bytes, layers, refs, manifest, parent, own)
        for layer in layers:
            session.blob(layer.blob_digest)
        prepared = self.prepare(config_bytes, layers, refs, manifest=manifest, parent=parent,
                                session=session)
        self.commit([prepared])
        return prepared.image.id

    def commit(self, prepared: list[Prepared]) -> list[tuple[str, str]]:
        """Write every prepared image and its references in one transaction.

        Returns ``(familiar reference, previous image ID)`` for each reference moved away from
        another image (``docker load`` reports those).
        """
        moved: list[tuple[str, str]] = []
        with self._lock:
            self._check_files(prepared)
            with self.meta.tx() as db:
                for p in prepared:
                    if not db.execute("SELECT 1 FROM images WHERE id = ?", (p.image.id,)).fetchone():
                        self.meta.insert_image(db, p.image, p.layers, p.snapshots)
                    for ref in p.refs:
                        old = self.meta.set_ref(db, _ref_row(ref, p.image.id))
                        if old:
                            moved.append((ref.familiar(), old))
                    if p.refs:
                        db.execute("UPDATE images SET last_tag_time = ? WHERE id = ?",
                                   (rfc3339_now(), p.image.id))
        return moved

    @contextmanager
    def adding(self) -> Iterator[AddSession]:
        """Scope of one add: on exit (success or not) unpin, and remove what it brought that
        nothing references — a failed add leaves the store as it was."""
        session = AddSession(self)
        try:
            yield session
        finally:
            with self._lock:
                for key in session.pinned:
                    self._pins[key] -= 1
                self._pins = +self._pins
            self.discard(session.blobs, session.chains)

    def _pin(self, key: str) -> None:
        with self._lock:
            self._pins[key] += 1

    def discard(self, blobs: set[str], chains: list[str]) -> None:
        """Remove the given blobs and snapshots unless a row or an add in flight uses them."""
        for chain_id in set(chains):
            with self._chain_lock(chain_id), self._lock:
                if not self._pins[chain_id] and self.meta.snapshot(chain_id) is None:
                    self.snapshots.remove(chain_id)
        with self._lock:
            with self.meta.tx() as db:
                unused = [b for b in blobs if not self._pins[b] and not self.meta.blob_in_use(db, b)]
            for dgst in unused:
                self.content.delete(dgst)

    def _check_files(self, prepared: list[Prepared]) -> None:
        for p in prepared:
            missing = [s.chain_id for s in p.snapshots if not self.snapshots.exists(s.chain_id)]
            missing += [x.blob_digest for x in p.layers if not self.content.has(x.blob_digest)]
            if missing or not self.content.has(p.image.id):
                raise Conflict(f"image {p.image.id} lost content while being added; retry")

    # ---- lookup -----------------------------------------------------------------------------

    def resolve(self, name: str) -> str:
        """Image ID for a reference, a full or unique short ID, or name@digest (dockerd's order)."""
        bare = name.removeprefix("sha256:")
        if len(bare) == 64 and _digest.is_hex_id(bare, 64):
            if self.meta.image("sha256:" + bare):
                return "sha256:" + bare
            raise ImageNotFound(f"sha256:{bare}")
        try:
            ref = _ref.parse(name)
        except InvalidArgument:
            ref = None
        if ref is not None:
            found = self.by_reference(ref)
            if found:
                return found
        if _digest.is_hex_id(name):
            ids = self.meta.ids_with_prefix(bare)
            if len(ids) == 1:
                return ids[0]
        if ref is None:
            _ref.parse(name)  # re-raise the reference error for input that is neither
        raise ImageNotFound(shown_name(name))

    def by_reference(self, ref: Reference) -> str | None:
        """The image a tag or digest reference names, None when none."""
        row = self.meta.ref(str(ref))
        if row:
            return row.image_id
        if ref.digest:  # name@digest of a manifest the image came with, in a repository it has
            rows = self.meta.query(
                "SELECT i.id FROM images i JOIN refs r ON r.image_id = i.id "
                "WHERE i.manifest_digest = ? AND r.repository = ? LIMIT 1",
                (ref.digest, ref.repository),
            )
            return rows[0][0] if rows else None
        return None

    def lineage(self, name: str) -> frozenset[str]:
        """The image ``name`` names and every image built on it (children, theirs…), as
        dockerd's ps ``ancestor`` filter finds them; none when it names no image (its
        lookup error is dropped, as dockerd drops it)."""
        try:
            found = [self.resolve(name)]
        except DockyardError:
            return frozenset()
        seen: set[str] = set()
        while found:
            image_id = found.pop()
            if image_id not in seen:
                seen.add(image_id)
                found.extend(self.meta.children(image_id))
        return frozenset(seen)

    def get(self, name: str) -> ImageRow:
        image = self.meta.image(self.resolve(name))
        if image is None:
            raise ImageNotFound(shown_name(name))
        return image

    def config(self, image_id: str) -> dict[str, Any]:
        config: dict[str, Any] = json.loads(self.content.read_bytes(image_id))
        return config

    def rootfs_layers(self, name: str) -> list[Path]:
        """Snapshot dirs of an image, lowest first: overlayfs wants them reversed in lowerdir."""
        return [self.snapshots.path(x.chain_id) for x in self.meta.layers(self.resolve(name))]

    def count_images(self) -> int:
        return int(self.meta.query("SELECT COUNT(*) FROM images")[0][0])

    def layers_size(self) -> int:
        return self.meta.layers_size()

    # ---- events -----------------------------------------------------------------------------

    def log_event(self, action: str, actor_id: str, name: str) -> None:
        """An image event as dockerd 20.10's ``LogImageEvent`` makes it: the labels of the image
        ``actor_id`` names while it is there (not a delete's), then ``name`` over them. The actor
        is the image's ID (its name too, but for a tag's reference), or for a pull or push the
        reference as given, named by its repository."""
        try:
            attributes = config_labels(self.config(self.resolve(actor_id)))
        except (DockyardError, OSError):  # gone (a delete), or no image by that name
            attributes = {}
        attributes["name"] = name
        self.emit("image", action, actor_id, dict(sorted(attributes.items())))  # Go's map order

    # ---- tagging ----------------------------------------------------------------------------

    def tag(self, name: str, repo: str, tag: str | None) -> None:
        """The image first; a ``repo`` or ``tag`` that does not parse is dockerd 20.10's plain
        500 (TagImage passes the reference package's error up untyped), its refusals 400s.
        ``docker tag`` and a build's ``-t`` log a ``tag`` event, as ``TagImageWithReference``."""
        image_id = self.resolve(name)
        ref = new_tag(repo, tag)
        with self.meta.tx() as db:
            self.meta.set_ref(db, _ref_row(ref, image_id))
            db.execute("UPDATE images SET last_tag_time = ? WHERE id = ?", (rfc3339_now(), image_id))
        self.log_event("tag", image_id, asked_reference(repo, tag).familiar())

    def untag(self, ref: Reference) -> None:
        with self.meta.tx() as db:
            db.execute("DELETE FROM refs WHERE name = ?", (str(ref),))

    # ---- deleting ---------------------------------------------------------------------------

    def delete_image(self, image_id: str) -> tuple[list[str], int]:
        """Remove an image, then whatever snapshots and blobs nothing references any more.

        Rows go first (one transaction), files after: a crash in between leaves only orphans.
        Returns (removed chain IDs, bytes reclaimed).
        """
        with self._lock:
            layers = self.meta.layers(image_id)
            image = self.meta.image(image_id)
            blobs = {image_id, *(x.blob_digest for x in layers)}
            if image and image.manifest_digest:
                blobs.add(image.manifest_digest)
            with self.meta.tx() as db:
                db.execute("DELETE FROM images WHERE id = ?", (image_id,))
                gone = self.meta.unreferenced_snapshots(db)
                reclaimed = sum(db.execute("SELECT size FROM snapshots WHERE chain_id = ?", (c,))
                                .fetchone()[0] for c in gone)
                db.executemany("DELETE FROM snapshots WHERE chain_id = ?", [(c,) for c in gone])
                unused = [b for b in blobs if not self.meta.blob_in_use(db, b)]
            for chain_id in gone:
                self.snapshots.remove(chain_id)
            for dgst in unused:
                self.content.delete(dgst)
        order = {x.chain_id: x.position for x in layers}
        return sorted(gone, key=lambda c: -order.get(c, 0)), reclaimed

    def remove(self, name: str, force: bool = False, prune: bool = True) -> list[dict[str, Any]]:
        from .removal import remove_image

        return remove_image(self, name, force=force, prune=prune)

    def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        from .removal import prune_images

        return prune_images(self, filters)

    # ---- views ------------------------------------------------------------------------------

    def list_images(self, all: bool = False, filters: dict[str, list[str]] | None = None,
                    digests: bool = False) -> list[dict[str, Any]]:
        from .views import list_images

        return list_images(self, all=all, filters=filters or {})

    def disk_usage(self) -> list[dict[str, Any]]:
        from .views import disk_usage

        counts = {i.id: len(self.containers_using(i.id)) for i in self.meta.images()}
        return disk_usage(self, counts)

    def inspect(self, name: str) -> dict[str, Any]:
        """dockerd 20.10's LookupImage: a lookup that fails says so before its own words,
        ``no such image: NAME: …``, and keeps its kind (404, or a bad reference's 400)."""
        from .views import inspect

        try:
            image = self.get(name)
        except DockyardError as exc:
            exc.args = (f"no such image: {name}: {exc}",)
            raise
        return inspect(self, image)

    def history(self, name: str) -> list[dict[str, Any]]:
        from .views import history

        return history(self, self.get(name))


def _lock_root(root: Path) -> int:
    """One open store per data root: opening collects orphans, which would delete the content
    another live store is still adding. The kernel drops the flock if the holder dies."""
    fd = os.open(root / "store.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise Conflict(f"image store {root} is in use by another process (pid {holder})") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def tag_reference(repo: str, tag: str | None) -> Reference:
    """The reference ``docker tag`` (a commit, an import) creates from its ``repo`` and ``tag``
    arguments, refused as dockerd 20.10's reference store refuses it: a ``tag`` replaces what
    ``repo`` carries (``TrimNamed``), a digest left is refused, and so is the name ``sha256``."""
    ref = asked_reference(repo, tag)
    if ref.digest:
        raise InvalidArgument("refusing to create a tag with a digest reference")
    if not ref.tag:
        ref = ref.with_tag(_ref.DEFAULT_TAG)
    if ref.familiar_repository == "sha256":
        raise InvalidArgument("refusing to create an ambiguous tag using digest algorithm as name")
    return ref


def asked_reference(repo: str, tag: str | None) -> Reference:
    """``repo`` and ``tag`` as asked, before the store's ``latest`` is added: what dockerd
    20.10's tag event names (a tag, commit or import of ``repo`` alone: ``name: repo``)."""
    ref = _ref.parse(repo, default_tag=False)
    return ref.with_tag(tag) if tag else ref


def new_tag(repo: str, tag: str | None) -> Reference:
    """``tag_reference`` for a tag or a commit: what does not parse is dockerd 20.10's plain 500
    (its TagImage and commit pass the reference package's error up untyped), its refusals
    400s (an import's parse errors are 400s: ``tag_reference``)."""
    try:
        return tag_reference(repo, tag)
    except _ref.InvalidReference as exc:
        raise DockyardError(str(exc)) from None


def parse_config(data: bytes) -> dict[str, Any]:
    """An image config, checked for what the store relies on (rootfs.diff_ids)."""
    try:
        config = json.loads(data)
        diff_ids = config["rootfs"]["diff_ids"]
        if not isinstance(diff_ids, list):
            raise TypeError
        for d in diff_ids:
            _digest.validate(d)
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument("invalid image config: missing or malformed rootfs.diff_ids") from None
    return config  # type: ignore[no-any-return]


def _ref_row(ref: Reference, image_id: str) -> RefRow:
    return RefRow(str(ref), ref.repository, ref.tag, ref.digest, image_id)
