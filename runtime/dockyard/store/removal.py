"""``docker rmi`` and ``docker image prune`` with dockerd's rules and conflict messages.

The rules (from the classic image service): a *reference* given by name is untagged first and
the image deleted only when no reference remains; an *ID* deletes the image, untagging its
references only if they are all in one repository with at most one tag (else it must be
forced). Running containers and child images are hard conflicts; stopped containers are soft
ones that ``force`` overrides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import Conflict, NotFound
from ..filters import bool_filter, check_keys, prune_until
from ..oci import reference as _ref
from .metadata import RefRow
from .timefmt import parse_ns

if TYPE_CHECKING:
    from .images import ImageStore


class ImageNotFound(NotFound):
    def __init__(self, shown: str) -> None:
        super().__init__(f"No such image: {shown}")


def short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def familiar(row: RefRow) -> str:
    return _ref.Reference(*_ref.split_domain(row.repository), row.tag, row.digest).familiar()


def is_id_prefix(image_id: str, text: str) -> bool:
    return image_id.startswith(text) or image_id.removeprefix("sha256:").startswith(text)


def is_single_reference(refs: list[RefRow]) -> bool:
    """At most one tag, and every reference in one repository."""
    tags = [r for r in refs if r.digest is None]
    return len(tags) <= 1 and len({r.repository for r in refs}) <= 1


class ImageConflict(Conflict):
    def __init__(self, image_id: str, message: str, hard: bool) -> None:
        forced = "cannot be forced" if hard else "must be forced"
        super().__init__(f"conflict: unable to delete {short_id(image_id)} ({forced}) - {message}")
        self.hard = hard


def remove_image(store: ImageStore, name: str, force: bool = False,
                 prune: bool = True) -> list[dict[str, Any]]:
    image_id = store.resolve(name)
    refs = store.meta.refs(image_id)
    records: list[dict[str, Any]] = []
    if not is_id_prefix(image_id, name):
        ref = _ref.parse(name)
        if store.meta.ref(str(ref)) is None:  # found through its manifest digest only
            raise ImageNotFound(ref.familiar())
        if not force and is_single_reference(refs):
            users = store.containers_using(image_id)
            if users:
                raise Conflict(
                    f'conflict: unable to remove repository reference "{name}" (must force) - '
                    f"container {users[0][0][:12]} is using its referenced image {short_id(image_id)}"
                )
        _untag(store, image_id, ref, records)
        refs = [r for r in refs if r.name != str(ref)]
        if ref.digest is None and not any(r.digest is None and r.repository == ref.repository for r in refs):
            for r in [r for r in refs if r.digest is not None and r.repository == ref.repository]:
                store.untag(_row_ref(r))  # dockerd 20.10 tidies these with no untag event
                records.append({"Untagged": familiar(r)})
                refs.remove(r)
        if refs:
            return records
    elif is_single_reference(refs):
        _check_conflicts(store, image_id, force, active_reference=False)
        for r in refs:
            _untag(store, image_id, _row_ref(r), records)
    _delete_helper(store, image_id, records, force, prune)
    return records


def _untag(store: ImageStore, image_id: str, ref: _ref.Reference, records: list[dict[str, Any]]) -> None:
    """One reference removed: its record, and dockerd 20.10's ``untag`` event — named by the
    image's ID, not the reference, with the image's labels."""
    store.untag(ref)
    records.append({"Untagged": ref.familiar()})
    store.log_event("untag", image_id, image_id)


def _row_ref(row: RefRow) -> _ref.Reference:
    domain, path = _ref.split_domain(row.repository)
    return _ref.Reference(domain, path, row.tag, row.digest)


def _check_conflicts(store: ImageStore, image_id: str, force: bool, active_reference: bool) -> None:
    if store.meta.children(image_id):
        raise ImageConflict(image_id, "image has dependent child images", hard=True)
    users = store.containers_using(image_id)
    running = [c for c, up in users if up]
    if running:
        raise ImageConflict(image_id, f"image is being used by running container {running[0][:12]}", True)
    if force:
        return
    if active_reference and store.meta.refs(image_id):
        raise ImageConflict(image_id, "image is referenced in multiple repositories", hard=False)
    if users:
        raise ImageConflict(image_id, f"image is being used by stopped container {users[0][0][:12]}", False)


def _delete_helper(store: ImageStore, image_id: str, records: list[dict[str, Any]], force: bool,
                   prune: bool, quiet: bool = False) -> int:
    try:
        _check_conflicts(store, image_id, force, active_reference=True)
    except ImageConflict:
        if quiet:
            return 0
        raise
    image = store.meta.image(image_id)
    parent = image.parent if image else ""
    for r in store.meta.refs(image_id):
        _untag(store, image_id, _row_ref(r), records)
    removed, reclaimed = store.delete_image(image_id)
    records.append({"Deleted": image_id})
    store.log_event("delete", image_id, image_id)
    records.extend({"Deleted": chain} for chain in removed)
    if prune and parent and store.meta.image(parent) and not store.meta.refs(parent):
        reclaimed += _delete_helper(store, parent, records, False, True, quiet=True)
    return reclaimed


PRUNE_FILTERS = {"dangling", "until", "label", "label!"}


def prune_images(store: ImageStore, filters: dict[str, list[str]]) -> dict[str, Any]:
    """Remove dangling images (``dangling=false``: every image no container uses)."""
    check_keys(filters, PRUNE_FILTERS)
    dangling_only = bool_filter(filters, "dangling", false_first=True) is not False
    until = prune_until(filters)
    records: list[dict[str, Any]] = []
    reclaimed = 0
    for image in store.meta.images("ORDER BY seq DESC"):
        refs = store.meta.refs(image.id)
        if (dangling_only and refs) or store.meta.children(image.id) or store.containers_using(image.id):
            continue
        if until is not None and parse_ns(image.created) / 1e9 > until:  # dockerd: created after it
            continue
        if not _labels_match(image.label_dict, filters):
            continue
        for r in refs:
            _untag(store, image.id, _row_ref(r), records)
        reclaimed += _delete_helper(store, image.id, records, False, True, quiet=True)
    store.emit("image", "prune", "", {"reclaimed": str(reclaimed)})  # dockerd's, after the deletes
    return {"ImagesDeleted": records or None, "SpaceReclaimed": reclaimed}



def labels_match(labels: dict[str, str], wanted: list[str]) -> bool:
    """Every ``k`` present and every ``k=v`` equal."""
    for item in wanted:
        key, eq, value = item.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    return True


def _labels_match(labels: dict[str, str], filters: dict[str, list[str]]) -> bool:
    if not labels_match(labels, filters.get("label", [])):
        return False
    return not any(labels_match(labels, [x]) for x in filters.get("label!", []))
