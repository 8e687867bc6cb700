"""``POST /build/prune``: dockyard's cache records pruned as BuildKit prunes its own for
dockerd 20.10 (moby's ``builder-next`` ``Prune``, BuildKit's ``cacheManager.prune``).

How a record maps (:mod:`.cache`): its ID is the key's first 25 hex digits, its type
``regular``; it is *in use* while a record made on top of it (whose parent is its image) is
still kept, as a BuildKit record's parent is held by its children; it is *shared* when
something beyond the cache needs its image — a tag or digest, a container, an image made on it
that is no record's (a commit) — as BuildKit calls a record shared whose layers an image of
dockerd's store holds. A record whose image has gone holds nothing and is simply forgotten.

The rules, in BuildKit's order, repeated until a round takes nothing (so a chain goes from its
tip down): a record in use is kept; without ``all`` a shared one is kept (the cache of a
tagged image; ``docker builder prune -a`` takes it too — its image stays, still tagged);
with ``until`` (or ``unused-for``) one used within that duration is kept; the rest must match
the filters (:mod:`.cachefilter`). With ``keep-storage`` the unshared records' total is
brought under that many bytes, one record a round, the least recently and least often used
first. ``CachesDeleted`` lists the IDs taken (null when none, as Go writes a nil slice) and
``SpaceReclaimed`` adds their sizes, as dockerd reports them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..errors import DockyardError, InvalidArgument
from ..filters import Filters
from . import cachefilter
from .cache import Entry

if TYPE_CHECKING:
    from .builder import Builder

# dockerd's cacheFields, in one fixed order (Go ranges over a map: its order varies)
FILTER_FIELDS = ("id", "parent", "type", "description", "inuse", "shared", "private")
RECORD_TYPE = "regular"


def filter_text(filters: Filters) -> str:
    """The one string ``toBuildkitPruneInfo`` hands BuildKit: ``id~=v``, ``key==v``, or the
    bare key for a key without values (values checked one per key before)."""
    parts = []
    for key in FILTER_FIELDS:
        if key in filters:
            values = filters[key]
            op = "~=" if key == "id" else "=="
            parts.append(f"{key}{op}{values[0]}" if values else key)
    return ",".join(parts)


def record_id(entry: Entry) -> str:
    return entry.key.removeprefix("sha256:")[:25]


def prune(builder: Builder, all: bool, filters: Filters, until_ns: int | None,
          keep_storage: int) -> dict[str, Any]:
    text = filter_text(filters)
    try:
        selectors = cachefilter.parse(text)
    except cachefilter.FilterSyntaxError as exc:
        raise InvalidArgument(f"failed to prune build cache: failed to parse prune filters "
                              f"[{text}]: {exc}: invalid argument") from None
    return _Pruning(builder, all, selectors, until_ns, keep_storage).run()


def shared_keys(builder: Builder, live: list[Entry]) -> set[str]:
    """The records something beyond the cache needs (see the module docstring)."""
    store = builder.store
    records = {e.image_id for e in live}

    def needed(image: str) -> bool:
        return bool(store.meta.refs(image) or store.containers_using(image)
                    or any(child not in records for child in store.meta.children(image)))

    return {e.key for e in live if needed(e.image_id)}


def marked_shared(live: list[Entry], shared: set[str]) -> set[str]:
    """BuildKit's disk usage view (its ``markShared``): a record below a shared one is shared
    too."""
    by_image = {e.image_id: e for e in live}
    marked = set(shared)
    for entry in live:
        if entry.key in shared:
            parent = by_image.get(entry.parent)
            while parent is not None and parent.key not in marked:
                marked.add(parent.key)
                parent = by_image.get(parent.parent)
    return marked


def disk_usage(builder: Builder) -> list[dict[str, Any]]:
    """``/system/df`` BuildCache records, ``Shared`` as BuildKit's disk usage shows it."""
    live = [e for e in builder.cache.entries() if builder.store.meta.image(e.image_id) is not None]
    marked = marked_shared(live, shared_keys(builder, live))
    ids = {record_id(e) for e in live if e.key in marked}
    return [{**row, "Shared": row["ID"] in ids} for row in builder.cache.disk_usage()]


class _Pruning:
    def __init__(self, builder: Builder, all: bool, selectors: list[cachefilter.Selector],
                 until_ns: int | None, keep_storage: int) -> None:
        self.builder, self.store, self.all = builder, builder.store, all
        self.selectors = selectors
        self.cutoff = time.time() - until_ns / 1e9 if until_ns else None
        self.keep = keep_storage
        entries = builder.cache.entries()
        gone = [e for e in entries if self.store.meta.image(e.image_id) is None]
        builder.cache.remove(e.key for e in gone)
        self.live = [e for e in entries if e not in gone]
        self.shared = shared_keys(builder, self.live)

    def run(self) -> dict[str, Any]:
        total = self._unshared_size() if self.keep else 0
        deleted: list[Entry] = []
        while not (self.keep and total < self.keep):
            chosen = self._round()
            if not chosen:
                break
            if self.keep:
                chosen = [_least_valuable(chosen)]
            for entry in chosen:
                self._delete(entry)
                total -= entry.size
            deleted += chosen
        return {"CachesDeleted": [record_id(e) for e in deleted] or None,
                "SpaceReclaimed": sum(e.size for e in deleted)}

    def _round(self) -> list[Entry]:
        held = {e.parent for e in self.live}  # images a kept record was made on
        return [e for e in self.live if e.image_id not in held and self._takes(e)]

    def _takes(self, entry: Entry) -> bool:
        shared = entry.key in self.shared
        if shared and not self.all:
            return False
        if self.cutoff is not None and entry.last_used > self.cutoff:
            return False
        return cachefilter.matches(self.selectors, record_id(entry), RECORD_TYPE, shared)

    def _unshared_size(self) -> int:
        """BuildKit's disk usage of what is not shared (:func:`marked_shared`)."""
        shared = marked_shared(self.live, self.shared)
        return sum(e.size for e in self.live if e.key not in shared)

    def _delete(self, entry: Entry) -> None:
        self.live.remove(entry)
        self.builder.cache.remove([entry.key])
        image = entry.image_id
        if any(e.image_id == image for e in self.live) or self.store.meta.refs(image):
            return
        if self.store.meta.children(image) or self.store.containers_using(image):
            return
        try:
            self.store.remove(image, force=False, prune=False)
        except DockyardError:
            pass


def _least_valuable(entries: list[Entry]) -> Entry:
    """BuildKit's ``sortDeleteRecords``: the record ranked lowest by last use and use count."""
    last_rank: dict[str, int] = {}
    rank, seen = 0, float("-inf")
    for entry in sorted(entries, key=lambda e: e.last_used):
        if entry.last_used > seen:
            seen, rank = entry.last_used, rank + 1
        last_rank[entry.key] = rank
    use_rank: dict[str, int] = {}
    urank, count = 0, 0
    for entry in sorted(entries, key=lambda e: e.usage):
        if entry.usage != count:
            count, urank = entry.usage, urank + 1
        use_rank[entry.key] = urank
    top_last, top_use = max(rank, 1), max(urank, 1)
    return min(entries, key=lambda e: last_rank[e.key] / top_last + use_rank[e.key] / top_use)
