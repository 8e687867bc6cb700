"""Image objects shaped as the Engine API returns them (ImageSummary, ImageInspect, history)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgument
from ..filters import bool_filter, check_keys
from ..gomatch import glob
from .metadata import ImageRow, RefRow
from .removal import familiar, labels_match
from .timefmt import parse_ns

if TYPE_CHECKING:
    from .images import ImageStore

LIST_FILTERS = ("dangling", "reference", "label", "before", "since")  # no until: a prune's alone

EMPTY_CONFIG: dict[str, Any] = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
    "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None,
    "Cmd": None, "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None,
    "OnBuild": None, "Labels": None,
}


def container_config(value: dict[str, Any] | None) -> dict[str, Any]:
    """Docker's Go struct always serialises these keys; clients index them without checking."""
    return {**EMPTY_CONFIG, **(value or {})}


def _refs_by_image(store: ImageStore) -> dict[str, list[RefRow]]:
    out: dict[str, list[RefRow]] = defaultdict(list)
    for row in store.meta.refs():
        out[row.image_id].append(row)
    return out


def _tags(refs: list[RefRow]) -> list[str]:
    return [familiar(r) for r in refs if r.digest is None]


def _digests(refs: list[RefRow]) -> list[str]:
    return [familiar(r) for r in refs if r.digest is not None]


def _matching_refs(patterns: list[str], refs: dict[str, list[RefRow]]) -> dict[str, list[RefRow]]:
    """Each image's references a ``reference`` filter keeps — as dockerd's image list, which
    shows only those (``docker images busybox`` lists busybox's tags, not another repository's
    tag of the same image): a pattern matches a reference's familiar string or its repository.
    The patterns are read once, and only when some image has a reference (dockerd reads none
    without: a bad one is not refused then)."""
    if not any(refs.values()):
        return {}
    rxs = [glob(pattern) for pattern in patterns]
    out: dict[str, list[RefRow]] = {}
    for image_id, mine in refs.items():
        for r in mine:
            name = familiar(r)
            repo = name.split("@")[0].rsplit(":", 1)[0] if r.digest is None else name.split("@")[0]
            if any(rx.match(name) or rx.match(repo) for rx in rxs):
                out.setdefault(image_id, []).append(r)
    return out


def list_images(store: ImageStore, all: bool, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
    check_keys(filters, LIST_FILTERS)
    refs = _refs_by_image(store)
    if "reference" in filters:  # an image keeps the references that match, and is kept for them
        refs = _matching_refs(filters["reference"], refs)
    images = store.meta.images("ORDER BY created_unix DESC, seq DESC")
    parents = {i.parent for i in images if i.parent}
    keep = _filter(store, images, refs, filters)
    out = []
    for image in images:
        if image.id not in keep:
            continue
        mine = refs.get(image.id, [])
        if not all and not mine and image.id in parents:
            continue  # an intermediate image of a build, shown only with --all
        out.append(_summary(image, mine))
    return out


def _filter(store: ImageStore, images: list[ImageRow], refs: dict[str, list[RefRow]],
            filters: dict[str, list[str]]) -> set[str]:
    keep = set()
    want_dangling = bool_filter(filters, "dangling", ("true",), ("false",))
    before = [parse_ns(store.get(n).created) for n in filters.get("before", [])]
    since = [parse_ns(store.get(n).created) for n in filters.get("since", [])]
    for image in images:
        mine = refs.get(image.id, [])
        if want_dangling is not None and (not mine) != want_dangling:
            continue
        if "reference" in filters and not mine:  # refs: the matching ones (list_images)
            continue
        if "label" in filters and not labels_match(image.label_dict, filters["label"]):
            continue
        created = parse_ns(image.created)  # dockerd compares the times themselves, not seconds
        if any(created >= b for b in before) or any(created <= s for s in since):
            continue
        keep.add(image.id)
    return keep


def _summary(image: ImageRow, refs: list[RefRow]) -> dict[str, Any]:
    return {
        "Id": image.id, "ParentId": image.parent, "RepoTags": _tags(refs),
        "RepoDigests": _digests(refs), "Created": image.created_unix, "Size": image.size,
        "SharedSize": -1, "VirtualSize": image.size, "Labels": image.label_dict, "Containers": -1,
    }


def inspect(store: ImageStore, image: ImageRow) -> dict[str, Any]:
    config = store.config(image.id)
    refs = store.meta.refs(image.id)
    layers = store.meta.layers(image.id)
    out = {
        "Id": image.id, "RepoTags": _tags(refs), "RepoDigests": _digests(refs),
        "Parent": image.parent, "Comment": config.get("comment", ""), "Created": image.created,
        "Container": config.get("container", ""),
        "ContainerConfig": container_config(config.get("container_config")),
        "DockerVersion": config.get("docker_version", ""), "Author": config.get("author", ""),
        "Config": container_config(config.get("config")),
        "Architecture": image.architecture, "Os": image.os, "Size": image.size,
        "VirtualSize": image.size, "GraphDriver": _graph_driver(store, [x.chain_id for x in layers]),
        "RootFS": {"Type": "layers", "Layers": [x.diff_id for x in layers]},
        "Metadata": {"LastTagTime": image.last_tag_time},
    }
    if image.variant:
        out["Variant"] = image.variant
    if config.get("os.version"):
        out["OsVersion"] = config["os.version"]
    return out


def _graph_driver(store: ImageStore, chains: list[str]) -> dict[str, Any]:
    if not chains:
        return {"Name": "overlay2", "Data": None}
    top = store.snapshots.dir(chains[-1])
    data = {"MergedDir": str(top / "merged"), "UpperDir": str(top / "fs"), "WorkDir": str(top / "work")}
    if len(chains) > 1:
        data["LowerDir"] = ":".join(str(store.snapshots.path(c)) for c in reversed(chains[:-1]))
    return {"Name": "overlay2", "Data": data}


def history(store: ImageStore, image: ImageRow) -> list[dict[str, Any]]:
    """config.history newest first; IDs and tags filled down the parent chain, as dockerd does."""
    from .timefmt import parse_unix

    layers = store.meta.layers(image.id)
    sizes = [s.size if (s := store.meta.snapshot(x.chain_id)) else 0 for x in layers]
    items: list[dict[str, Any]] = []
    n = 0
    for h in store.config(image.id).get("history") or []:
        size = 0
        if not h.get("empty_layer"):
            if n >= len(sizes):
                raise InvalidArgument("too many non-empty layers in History section")
            size, n = sizes[n], n + 1
        items.insert(0, {"Id": "<missing>", "Created": parse_unix(h.get("created")),
                         "CreatedBy": h.get("created_by", ""), "Tags": None, "Size": size,
                         "Comment": h.get("comment", "")})
    current: ImageRow | None = image
    for item in items:
        if current is None:
            break
        item["Id"] = current.id
        item["Tags"] = _tags(store.meta.refs(current.id)) or None
        current = store.meta.image(current.parent) if current.parent else None
    return items


def disk_usage(store: ImageStore, containers_per_image: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """``/system/df`` images: those ``docker images`` lists (a build's intermediate images are
    left out, as dockerd 20.10 leaves them), each with the Containers using it and SharedSize —
    the bytes of its layers another listed image also has, counted among the listed ones only
    (a layer shared with an intermediate image alone is the image's own) — which ``docker system
    df`` needs for UNIQUE SIZE and RECLAIMABLE."""
    counts = containers_per_image or {}
    out = list_images(store, all=False, filters={})
    listed = {summary["Id"] for summary in out}
    layers: dict[str, list[tuple[str, int]]] = {}
    for image_id, chain_id, size in store.meta.query(
            "SELECT l.image_id, l.chain_id, s.size FROM layers l "
            "JOIN snapshots s ON s.chain_id = l.chain_id"):
        if image_id in listed:
            layers.setdefault(image_id, []).append((chain_id, int(size)))
    users = Counter(chain_id for held in layers.values() for chain_id, _size in held)
    for summary in out:
        held = layers.get(summary["Id"], [])
        summary["SharedSize"] = sum(size for chain_id, size in held if users[chain_id] > 1)
        summary["Containers"] = counts.get(summary["Id"], 0)
    return out
