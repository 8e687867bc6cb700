"""``docker diff`` and ``docker commit``: a container's writable layer as changes, or as a new
image on top of its image.

Commit, as dockerd does it: the container is paused while its upper dir is read (unless
``pause=false``); the layer tar is streamed into the content store (:mod:`dockyard.store.diff`)
and unpacked as the new snapshot; the image config is the parent's with the container's
``Config`` (overridden by the request's ``Config`` and ``changes``), a history entry (author,
comment, the container's command) and the new diff_id. An empty upper dir adds no layer (an
``empty_layer`` history entry), as dockerd.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .. import __version__
from ..oci import mediatypes as mt
from ..store import diff
from ..store.images import LayerInput, tag_reference
from ..store.importer import apply_changes
from ..store.timefmt import rfc3339_now
from . import health
from .create import go_config

# dockerd's init layer (the skeleton's, fitted to the image at create: containers/skeleton.py):
# it keeps them in a hidden "-init" layer, so they never show in docker diff nor in a commit
INIT_PATHS = frozenset({"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/.dockerenv",
                        "/etc/mtab", "/dev/console", "/dev/pts", "/dev/shm", "/proc", "/sys"})
INIT_DIRS = ("etc", "dev")  # which hold init entries: in a layer only for what else they hold


def changes(containers: Any, name: str) -> list[dict[str, Any]] | None:
    """GET /containers/{id}/changes: [{"Path", "Kind"}] (0 modified, 1 added, 2 deleted); None
    when there are none, as dockerd 20.10 answers (Go's nil slice: ``null``, docker-py's
    ``diff()`` None), created, running or stopped alike."""
    record = containers.get(name)
    return without_init_paths(diff.changes(record.lower_dirs, record.upper_dir)) or None


def without_init_paths(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the init layer's entries, and a parent shown as modified (or added, ``/dev`` for an
    image without one) only because of them. An init directory holding what the container made
    (``-w /proc/foo``: dockerd's create makes it) is modified, as the init layer's copied up
    under dockerd."""
    kept = [c for c in found if c["Path"] not in INIT_PATHS]

    def holds(path: str) -> bool:
        return any(o["Path"].startswith(path + "/") for o in kept)

    parents = {os.path.dirname(c["Path"]) for c in found if c["Path"] in INIT_PATHS}
    out = []
    for c in found:
        path = c["Path"]
        if path in INIT_PATHS:
            if holds(path):
                out.append({"Path": path, "Kind": diff.MODIFIED})
        elif not (path in parents and c["Kind"] != diff.DELETED and not holds(path)):
            out.append(c)
    return out


def layer_exclusions(upper_dir: str) -> list[str]:
    """What a commit's layer leaves out: the init layer's entries, and ``etc/`` or ``dev/``
    when the upper dir holds nothing else there (dockerd's layer has them only when a change
    was made inside)."""
    out = [p.lstrip("/") for p in INIT_PATHS if not _holds_entries(upper_dir, p)]
    for name in INIT_DIRS:
        try:
            entries = os.listdir(os.path.join(upper_dir, name))
        except OSError:
            continue
        if all(f"/{name}/{entry}" in INIT_PATHS for entry in entries):
            out.append(name)
    return out


def _holds_entries(upper_dir: str, path: str) -> bool:
    """Whether the init directory ``path`` (``/proc``, ``/dev/shm``…) holds anything in the
    upper dir: a commit's layer has it then, as dockerd's (a file of the init layer, none)."""
    try:
        return bool(os.listdir(upper_dir + path))
    except OSError:
        return False


def commit(engine: Any, name: str, repo: str | None = None, tag: str | None = None,
           comment: str = "", author: str = "", change_list: list[str] | None = None,
           pause: bool = True, config: dict[str, Any] | None = None) -> str:
    """POST /commit: the new image's ID (``sha256:…``), tagged ``repo:tag`` when given."""
    containers, store = engine.containers, engine.store
    record = containers.get(name)
    ref = tag_reference(repo, tag) if repo else None
    new_config = apply_changes(_merged_config(record.config, config or {}), change_list or [])
    checks = health.merge(new_config.get("Healthcheck"), record.config.get("Healthcheck"))
    if checks is not None:  # a HEALTHCHECK change takes what it leaves unset from the container's
        new_config["Healthcheck"] = checks
    paused = pause and record.state.get("Running") and not record.state.get("Paused")
    if paused:
        containers.pause(record.id)
    try:
        with store.adding() as session:
            layers = [LayerInput(x.blob_digest, x.media_type) for x in store.meta.layers(record.image_id)]
            diff_id = None
            if without_init_paths(diff.changes(record.lower_dirs, record.upper_dir)):
                layer = diff.write_layer(store.content, record.upper_dir,
                                         layer_exclusions(record.upper_dir), store.snapshots.id_map)
                session.blob(layer.blob_digest)
                layers.append(LayerInput(layer.blob_digest, mt.OCI_LAYER))
                diff_id = layer.diff_id
            parent = store.config(record.image_id)
            image_config = _image_config(parent, record, new_config, diff_id, comment, author)
            return str(store.add(image_config, layers, refs=[ref] if ref else [],
                                 parent=record.image_id, session=session))
    finally:
        if paused:
            containers.unpause(record.id)


def _merged_config(container: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """dockerd's merge: the request's non-empty fields win over the container's."""
    merged = dict(container)
    for key, value in override.items():
        if value not in (None, "", [], {}):
            merged[key] = value
    return merged


def _image_config(parent: dict[str, Any], record: Any, config: dict[str, Any],
                  diff_id: str | None, comment: str, author: str) -> bytes:
    created = rfc3339_now()
    cmd = [*(record.config.get("Entrypoint") or []), *(record.config.get("Cmd") or [])]
    entry: dict[str, Any] = {"created": created, "created_by": " ".join(cmd)}
    if author:
        entry["author"] = author
    if comment:
        entry["comment"] = comment
    diff_ids = list((parent.get("rootfs") or {}).get("diff_ids") or [])
    if diff_id is None:
        entry["empty_layer"] = True
    else:
        diff_ids.append(diff_id)
    out: dict[str, Any] = {
        "architecture": parent.get("architecture", ""), "os": parent.get("os", "linux"),
        "author": author, "comment": comment, "config": go_config(config),  # Image as the container's
        "container": record.id, "container_config": go_config(record.config), "created": created,
        "docker_version": __version__,
        "history": [*(parent.get("history") or []), entry],
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    if parent.get("variant"):
        out["variant"] = parent["variant"]
    return json.dumps(out, separators=(",", ":")).encode()
