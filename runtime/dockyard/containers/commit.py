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
import stat
from typing import Any

from .. import __version__
from ..oci import mediatypes as mt
from ..store import diff
from ..store.images import LayerInput, asked_reference, new_tag
from ..store.importer import apply_changes
from ..store.timefmt import rfc3339_now
from . import health, skeleton
from .create import go_config

# dockerd's init layer (the skeleton's, fitted to the image at create: containers/skeleton.py):
# it keeps them in a hidden "-init" layer, so they never show in docker diff nor in a commit
INIT_PATHS = frozenset({"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/.dockerenv",
                        "/etc/mtab", "/dev/console", "/dev/pts", "/dev/shm", "/proc", "/sys"})
INIT_DIRS = ("etc", "dev")  # which hold init entries: in a layer only for what else they hold
_INIT_FILES = frozenset("/" + name for name in skeleton.PLACEHOLDERS)


def changes(containers: Any, name: str) -> list[dict[str, Any]] | None:
    """GET /containers/{id}/changes: [{"Path", "Kind"}] (0 modified, 1 added, 2 deleted); None
    when there are none, as dockerd 20.10 answers (Go's nil slice: ``null``, docker-py's
    ``diff()`` None), created, running or stopped alike."""
    record = containers.get(name)
    found = diff.changes(record.lower_dirs, record.upper_dir)
    return without_init_paths(found, record.upper_dir) or None


def without_init_paths(found: list[dict[str, Any]], upper_dir: str) -> list[dict[str, Any]]:
    """Drop the init layer's entries as made (``upper_dir`` tells), and ``/etc`` or ``/dev``
    when nothing else changed in them. An init entry the container changed (``docker cp`` onto
    ``/etc/hosts`` of a container never started) or that holds what it made (``-w /proc/foo``:
    dockerd's create makes it) is modified, as the init layer's copied up under dockerd; so is
    ``/etc`` or ``/dev`` holding a change, even for an image without it (dockerd's init layer
    has it: ``C /dev``, never ``A``)."""
    kept = [c["Path"] for c in found if c["Path"] not in INIT_PATHS]
    shown = [c["Path"] for c in found if c["Path"] in INIT_PATHS
             and (_holds(c["Path"], kept) or _changed(upper_dir, c["Path"]))]
    out = []
    for c in found:
        path = c["Path"]
        if path in INIT_PATHS or path.lstrip("/") in INIT_DIRS and c["Kind"] != diff.DELETED:
            if path in shown or _holds(path, kept) or _holds(path, shown):
                out.append({"Path": path, "Kind": diff.MODIFIED})
        else:
            out.append(c)
    return out


def _holds(directory: str, paths: list[str]) -> bool:
    return any(p.startswith(directory + "/") for p in paths)


def layer_exclusions(upper_dir: str) -> list[str]:
    """What a commit's layer leaves out: the init layer's entries as made, and ``etc/`` or
    ``dev/`` when the upper dir holds nothing else there (dockerd's layer has them only when a
    change was made inside)."""
    out = [p.lstrip("/") for p in INIT_PATHS if not _in_layer(upper_dir, p)]
    for name in INIT_DIRS:
        try:
            entries = os.listdir(os.path.join(upper_dir, name))
        except OSError:
            continue
        if all(p.lstrip("/") in out for p in (f"/{name}/{entry}" for entry in entries)):
            out.append(name)
    return out


def _in_layer(upper_dir: str, path: str) -> bool:
    """Whether the init entry ``path`` is in a commit's layer, as dockerd's copy-up puts it
    there: a directory (``/proc``, ``/dev/shm``…) holding anything, a file changed."""
    try:
        return bool(os.listdir(upper_dir + path)) or _changed(upper_dir, path)
    except OSError:
        return _changed(upper_dir, path)


def _changed(upper_dir: str, path: str) -> bool:
    """Whether the init file ``path`` is no longer as the init layer made it: an empty regular
    file of mode 0755, ``/etc/mtab`` a link to ``/proc/mounts`` (its time is not looked at: a
    ``touch`` alone is missed)."""
    full = upper_dir + path
    try:
        st = os.lstat(full)
        if path == "/etc/mtab":
            return not stat.S_ISLNK(st.st_mode) or os.readlink(full) != skeleton.MTAB_TARGET
    except OSError:
        return False
    return path in _INIT_FILES and (not stat.S_ISREG(st.st_mode) or st.st_size != 0
                                    or stat.S_IMODE(st.st_mode) != 0o755)


def commit(engine: Any, name: str, repo: str | None = None, tag: str | None = None,
           comment: str = "", author: str = "", change_list: list[str] | None = None,
           pause: bool = True, config: dict[str, Any] | None = None) -> str:
    """POST /commit: the new image's ID (``sha256:…``), tagged ``repo:tag`` when given."""
    containers, store = engine.containers, engine.store
    record = containers.get(name)
    ref = new_tag(repo, tag) if repo else None
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
            if without_init_paths(diff.changes(record.lower_dirs, record.upper_dir), record.upper_dir):
                layer = diff.write_layer(store.content, record.upper_dir,
                                         layer_exclusions(record.upper_dir), store.snapshots.id_map)
                session.blob(layer.blob_digest)
                layers.append(LayerInput(layer.blob_digest, mt.OCI_LAYER))
                diff_id = layer.diff_id
            parent = store.config(record.image_id)
            image_config = _image_config(parent, record, new_config, diff_id, comment, author)
            image_id = str(store.add(image_config, layers, refs=[ref] if ref else [],
                                     parent=record.image_id, session=session))
    finally:
        if paused:
            containers.unpause(record.id)
    asked = asked_reference(repo, tag).familiar() if repo else ""
    if asked:  # dockerd 20.10: the image's tag event, then the container's commit
        store.log_event("tag", image_id, asked)
    containers.emit(record, "commit", comment=comment, imageID=image_id, imageRef=asked)
    return image_id


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
