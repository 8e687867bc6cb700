"""``engine.volumes``: the volume API (create, list, inspect, remove, prune, disk usage) and the
two container hooks the lifecycle calls.

- :meth:`VolumeManager.resolve` at container create: parses and validates the container's
  mounts (:mod:`.parse`), creates the named and anonymous volumes it names, copies the image's
  content into a new empty volume (:mod:`.copyup`), fills ``record.mounts`` with Engine API
  ``MountPoint`` dicts and returns the runtime :class:`~dockyard.containers.spec.Mount` list
  (a volume is a bind of its ``_data`` dir). On any error the volumes it made are removed.
- :meth:`VolumeManager.release` at container rm: ``-v`` removes the container's anonymous
  volumes (never named ones), as dockerd.
- :meth:`VolumeManager.told_mounts` at each start and exit: dockerd's volume ``mount`` and
  ``unmount`` events (only containers with volumes get to it: the start path stays as it was).

A volume's users are the containers whose ``record.mounts`` name it, read from
``engine.containers`` (so they survive a daemon restart with the records), plus the
containers being created right now (their record is not listed yet).
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import secrets
import stat
import threading
from pathlib import Path
from typing import Any

from ..containers.events import bus_of
from ..containers.spec import Mount
from ..errors import Conflict, DockyardError, InvalidArgument, NotFound
from ..filters import bool_filter, check_keys
from ..linux.mounts import open_beneath
from . import parse, subpath
from .copyup import copy_up, image_path_kind, is_empty
from .local import LocalDriver, Volume, mounted

log = logging.getLogger("dockyard.volumes")

ANONYMOUS_LABEL = "com.docker.volume.anonymous"
LIST_FILTERS = ("dangling", "name", "driver", "label")
PRUNE_FILTERS = ("label", "label!", "all")  # all: API 1.42's (the handler's, before it)


class VolumeInUse(Conflict):
    pass


class VolumeManager:
    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.events = bus_of(engine)
        store = getattr(engine, "store", None)  # --userns-remap: volumes are the remapped root's
        self.driver = LocalDriver(Path(engine.data_root) / "volumes",
                                  store.id_map.root_owner() if store is not None else None)
        self._lock = threading.Condition()
        self._pending: dict[str, set[str]] = {}   # volume name → ids of containers being made
        self._removing: set[str] = set()

    # ---- the API ------------------------------------------------------------------------

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /volumes/create``; an existing name answers with that volume (dockerd)."""
        name = str(body.get("Name") or "")
        _check_driver(str(body.get("Driver") or ""), name)
        if not name:
            name = secrets.token_hex(32)
        labels, opts = body.get("Labels"), body.get("DriverOpts")
        volume, _new = self.driver.create(name, _str_map(opts, "DriverOpts"), _str_map(labels, "Labels"))
        self._told(volume.name, "create")  # an existing one's too, as dockerd
        return volume.view()

    def inspect(self, name: str) -> dict[str, Any]:
        return self.driver.get(name).view()

    def list_volumes(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        filters = filters or {}
        check_keys(filters, LIST_FILTERS)
        dangling = bool_filter(filters, "dangling")
        used = self._used_names() if dangling is not None else set()
        out = []
        for volume in self.driver.all():
            if dangling is not None and (volume.name in used) == dangling:
                continue
            if _matches(volume, filters):
                out.append(volume.view())
        return {"Volumes": out, "Warnings": []}

    def remove(self, name: str, force: bool = False) -> None:
        """``DELETE /volumes/{name}``; ``force`` ignores a missing volume, never one in use."""
        try:
            with self._claim(name):
                self._remove(self.driver.get(name))
        except NotFound:
            if not force:
                raise

    def prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """``POST /volumes/prune``: unused anonymous volumes (all unused ones with all=true)."""
        filters = filters or {}
        check_keys(filters, PRUNE_FILTERS)
        every = bool(bool_filter(filters, "all"))
        deleted, reclaimed = [], 0
        for volume in self.driver.all():
            if not every and not volume.anonymous or not _label_match(volume, filters):
                continue
            try:
                with self._claim(volume.name):
                    size = self.driver.size(volume)
                    self._remove(volume)
            except (VolumeInUse, NotFound):
                continue
            deleted.append(volume.name)
            reclaimed += size
        return {"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}

    def _remove(self, volume: Volume) -> None:
        self.driver.remove(volume)
        self._told(volume.name, "destroy")

    def _told(self, name: str, action: str) -> None:
        """dockerd's volume events create and destroy (mount and unmount: :meth:`told_mounts`)."""
        self.events.emit("volume", action, name, {"driver": "local"})

    def told_mounts(self, record: Any, action: str) -> None:
        """dockerd's ``mount`` of each volume a container has, at every start (after the
        network's connect, before the container's start), and ``unmount`` when it stops
        (after the network's disconnect); binds and tmpfs have none, nor has a ``mount`` a
        volume under a ``Tmpfs`` one, which is not mounted (its ``unmount`` is told). Attributes
        as dockerd's."""
        tmpfs = {str(d) for d in record.host_config.get("Tmpfs") or {}}  # as sent: dockerd's
        for point in record.mounts:
            if point.get("Type") != "volume" or action == "mount" and point.get("Destination") in tmpfs:
                continue
            attrs = {"container": record.id}
            if action == "mount":
                attrs.update({"destination": str(point.get("Destination") or ""),
                              "driver": str(point.get("Driver") or "local"),
                              "propagation": str(point.get("Propagation") or ""),
                              "read/write": "true" if point.get("RW") else "false"})
            else:
                attrs["driver"] = str(point.get("Driver") or "local")
            self.events.emit("volume", action, str(point.get("Name")), attrs)

    def disk_usage(self) -> list[dict[str, Any]]:
        """``/system/df``'s Volumes: each with ``UsageData`` (Size, RefCount)."""
        counts: dict[str, int] = {}
        for names in self._users_by_volume().values():
            for name in names:
                counts[name] = counts.get(name, 0) + 1
        return [{**v.view(), "UsageData": {"Size": self.driver.size(v), "RefCount": counts.get(v.name, 0)}}
                for v in self.driver.all()]

    def close(self) -> None:
        """Unmount the device volumes no container refers to (used ones stay for restarts)."""
        devices = [v for v in self.driver.all() if (v.options or {}).get("device") and mounted(v.data)]
        used = self._used_names() if devices else set()
        for volume in devices:
            if volume.name not in used:
                try:
                    self.driver.unmount(volume)
                except Exception:
                    log.exception("unmount volume %s", volume.name)

    # ---- users ----------------------------------------------------------------------------

    def _users_by_volume(self) -> dict[str, list[str]]:
        """container id → names of the volumes it uses."""
        out: dict[str, list[str]] = {}
        containers = getattr(self.engine, "containers", None)
        for record in containers.all() if containers is not None else []:
            out[record.id] = [str(m.get("Name")) for m in record.mounts if m.get("Type") == "volume"]
        root = Path(self.engine.data_root) / "containers"
        with self._lock:
            for name, ids in list(self._pending.items()):
                ids -= set(out)  # listed now: its record speaks for it
                ids -= {i for i in ids if not (root / i).is_dir()}  # a create that failed
                for cid in ids:
                    out.setdefault(cid, []).append(name)
                if not ids:
                    del self._pending[name]
        return out

    def users(self, name: str) -> list[str]:
        return sorted(cid for cid, names in self._users_by_volume().items() if name in names)

    def _used_names(self) -> set[str]:
        return {n for names in self._users_by_volume().values() for n in names}

    def _claim(self, name: str) -> _Claim:
        return _Claim(self, name)

    # ---- container hooks ------------------------------------------------------------------

    def resolve(self, record: Any, checked: bool = False) -> list[Mount]:
        """The container's runtime mounts; fills ``record.mounts`` (see the module doc).
        ``checked``: its ``Mounts`` and ``Tmpfs`` were checked before the image was looked up
        (``containers.create.validate_host_config``), not to be checked again."""
        inherited = self._from_volumes_from(record)
        own = parse.requests(record.config, record.host_config, checked, str(self.engine.data_root),
                             inherited={req.destination for req in inherited})
        requests = _dedupe(inherited, own, {str(d) for d in record.host_config.get("Tmpfs") or {}})
        made: list[Volume] = []
        mounts: list[Mount] = []
        points: list[dict[str, Any]] = []
        try:
            for req in requests:
                mount, point = self._resolve_one(record, req, made)
                if req.mounted:
                    mounts.append(mount)
                if point is not None:
                    points.append(point)
        except BaseException:
            for volume in made:  # unless another container took it up meanwhile
                try:
                    with _Claim(self, volume.name, ignore=record.id):
                        self._remove(volume)
                except (NotFound, VolumeInUse):
                    pass
            self._forget(record.id)
            raise
        record.mounts = points
        return mounts

    def _resolve_one(self, record: Any, req: parse.MountRequest,
                     made: list[Volume]) -> tuple[Mount, dict[str, Any] | None]:
        if req.type == "tmpfs":
            mount = Mount("tmpfs", req.destination, "", req.read_only, list(req.tmpfs_data))
            return mount, _point(req, "") if req.listed else None
        if req.type == "bind":  # a -v directory missing is made by the start (remake_sources)
            options = [req.propagation] + ([] if req.recursive else ["norbind"])
            mount = Mount("bind", req.destination, req.source, req.read_only, options,
                          implied=req.implied)
            return mount, _point(req, req.source)
        volume = self._volume(record, req, made)
        source = self.driver.mountpoint(volume)
        if req.copy_data:
            _populate(record, req, source)
        # a relative Config.Volumes key is a path below the container's root (shown as given)
        target = posixpath.join("/", req.destination)
        mount = Mount("bind", target, source, req.read_only, [], req.subpath)
        return mount, _point(req, source)

    def _volume(self, record: Any, req: parse.MountRequest, made: list[Volume]) -> Volume:
        _check_driver(req.driver, req.name)
        labels = dict(req.labels) or None
        if not req.name:
            if image_path_kind(_created_root(record), req.destination) == "file":
                raise InvalidArgument("cannot mount volume over existing file, file exists "
                                      f"{Path(record.rootfs) / req.destination.lstrip('/')}")
            req.name = secrets.token_hex(32)
            labels = {**(labels or {}), ANONYMOUS_LABEL: ""}
        with self._lock:
            while req.name in self._removing:  # being deleted: wait, then make it anew
                self._lock.wait()
            self._pending.setdefault(req.name, set()).add(record.id)
        volume, new = self.driver.create(req.name, req.driver_opts or None, labels)
        if new:
            made.append(volume)
        if new or not req.inherited:  # dockerd tells of each container's use of a named volume
            self._told(volume.name, "create")
        req.driver = "local"
        if not req.mode and req.registered:
            req.mode = "z"  # dockerd's default for a local volume named in Binds or Mounts
        return volume

    def _forget(self, cid: str) -> None:
        with self._lock:
            for ids in self._pending.values():
                ids.discard(cid)

    def _from_volumes_from(self, record: Any) -> list[parse.MountRequest]:
        """``HostConfig.VolumesFrom`` (``container[:ro|:rw]``): the other container's mounts;
        a refusal is dockerd's 400, a container not found too."""
        out = []
        for spec in record.host_config.get("VolumesFrom") or []:
            if not spec:
                raise InvalidArgument("volumes-from specification cannot be an empty string")
            name, _, mode = str(spec).partition(":")
            if mode not in ("", "ro", "rw"):
                raise InvalidArgument(f"invalid mode: {mode}")
            if not name:
                raise InvalidArgument('invalid name or ID supplied: ""')
            try:
                other = self.engine.containers.get(name)
            except NotFound as exc:
                raise InvalidArgument(str(exc)) from None
            implied = {str(m.get("target")) for m in other.spec_mounts or [] if m.get("implied")}
            for m in other.mounts:
                if m.get("Type") not in ("bind", "volume"):
                    continue
                rw = bool(m.get("RW")) and mode != "ro"  # dockerd's m.RW && ReadWrite(mode)
                out.append(parse.MountRequest(
                    type=str(m["Type"]), destination=str(m["Destination"]), source=str(m.get("Source") or ""),
                    name=str(m.get("Name") or ""), read_only=not rw,  # no Mode: dockerd copies none
                    propagation=str(m.get("Propagation") or ""), copy_data=False, inherited=True,
                    implied=m.get("Type") == "bind" and str(m["Destination"]) in implied))
        return out

    def release(self, record: Any, remove_anonymous: bool) -> None:
        """Container rm: with ``-v`` its anonymous volumes go too, when no one else uses them."""
        self._forget(record.id)
        if not remove_anonymous:
            return
        for point in record.mounts:
            if point.get("Type") != "volume":
                continue
            try:
                volume = self.driver.get(str(point.get("Name")))
                if volume.anonymous:
                    with _Claim(self, volume.name, ignore=record.id):
                        self._remove(volume)
            except (NotFound, VolumeInUse):
                continue


class _Claim:
    """Holds a volume as "being removed" while it is deleted.

    Lock order: a container create holds the container manager's lock and then wants ours, so
    the users are read (which takes the manager's lock) *before* the mark is set; creates that
    started since show up in ``_pending``, checked under our lock with the mark. A create that
    comes after the mark waits for the deletion to end and then makes the volume anew."""

    def __init__(self, manager: VolumeManager, name: str, ignore: str = "") -> None:
        self.manager, self.name, self.ignore = manager, name, ignore

    def __enter__(self) -> None:
        m = self.manager
        users = set(m.users(self.name))
        root = Path(m.engine.data_root) / "containers"
        with m._lock:
            while self.name in m._removing:
                m._lock.wait()
            users |= {i for i in m._pending.get(self.name, ()) if (root / i).is_dir()}
            users.discard(self.ignore)
            if users:
                raise VolumeInUse(f"remove {self.name}: volume is in use - [{', '.join(sorted(users))}]")
            m._removing.add(self.name)

    def __exit__(self, *_exc: object) -> None:
        with self.manager._lock:
            self.manager._removing.discard(self.name)
            self.manager._lock.notify_all()


def _dedupe(inherited: list[parse.MountRequest], own: list[parse.MountRequest],
            tmpfs: set[str]) -> list[parse.MountRequest]:
    """The container's own mount points win over ``--volumes-from`` ones at the same
    destination, and a later of these over an earlier; a ``Tmpfs`` one does not (it is no
    mount point of dockerd's): the inherited one stays in ``Mounts``, not mounted where a
    ``Tmpfs`` key as sent (``tmpfs``) is its destination, under the tmpfs where the key only
    cleans to it (``/data/``), as dockerd's ``setupMounts``."""
    kept = {req.destination: req for req in inherited}
    for req in own:
        if req.type != "tmpfs" or req.listed:
            kept.pop(req.destination, None)
    for req in kept.values():
        req.mounted = req.destination not in tmpfs
    return sorted([*kept.values(), *own], key=parse.mount_order)


def _created_root(record: Any) -> list[str]:
    """The layers of a container's root at its create, bottom first: the image's, with the
    init layer's files over them (``/.dockerenv``, ``/etc/mtab``, the mountpoints of the /etc
    files and ``/dev/console``, ``/dev/pts``, ``/dev/shm``) — what dockerd looks at in the
    container's mounted root for a volume's copy-up and an anonymous volume over a file."""
    return [*record.lower_dirs, record.upper_dir]


def _populate(record: Any, req: parse.MountRequest, source: str) -> None:
    """The image's content copied into a new volume; with a subpath, into that directory when
    it is there and empty (dockerd's ``populateVolume`` mounts the subpath as a start would,
    only where the image has the destination, and copies nothing when the subpath is missing).
    The content is the container's root at its create (:func:`_created_root`)."""
    layers = _created_root(record)
    if not req.subpath:
        if is_empty(source):
            copy_up(layers, req.destination, source)
        return
    if not image_path_kind(layers, req.destination):
        return
    rel = subpath.copy_target(source, req.subpath)
    if rel is None:
        return
    if os.geteuid() != 0:  # the user's own rights bound what a swapped-in link could reach
        target = os.path.join(source, rel)
        if os.path.isdir(target) and not os.path.islink(target) and is_empty(target):
            copy_up(layers, req.destination, target)
        return
    fd = open_beneath(source, rel)  # root copies through the fd: a link put there meanwhile
    try:                            # is refused, not followed out of the volume
        target = f"/proc/self/fd/{fd}"
        if stat.S_ISDIR(os.fstat(fd).st_mode) and is_empty(target):
            copy_up(layers, req.destination, target)
    finally:
        os.close(fd)


def verify_sources(record: Any) -> list[parse.MountRequest]:
    """A ``docker start``'s check, dockerd's ``verifyContainerSettings``: a ``--mount`` bind
    whose source went away since the create is refused (400) before the start begins, so
    nothing is recorded in the State (a restart does not check: :func:`remake_sources`).
    Returns the requests it parsed, for that start's :func:`remake_sources`."""
    return parse.requests(record.config, record.host_config)


def remake_sources(record: Any, owner: tuple[int, int] | None = None,
                   asked: list[parse.MountRequest] | None = None) -> None:
    """Every start (never the create): a ``-v`` bind's host directory (or a ``CreateMountpoint``
    one's) that is missing is made, as dockerd's ``MountPoint.Setup`` makes each bind source
    (``MkdirAllAndChownNew``: 0755, each directory it makes given to ``owner``, the remapped
    root under ``--userns-remap``). Another ``--mount`` source gone is left to the runtime's
    mount (``mounts.BindSourceError``, runc's words): a restart does not check the settings,
    so its requests (``asked`` None) are only those that may be made, parsed here; a
    ``docker start`` gives those :func:`verify_sources` parsed."""
    if asked is None:
        hc = record.host_config
        asked = [*(parse.parse_bind(str(b)) for b in hc.get("Binds") or []),
                 *(parse.parse_mount(m) for m in hc.get("Mounts") or []
                   if (m.get("BindOptions") or {}).get("CreateMountpoint"))]
    for req in asked:
        if req.type == "bind" and req.create_source:
            _make_bind_source(req.source, owner)


def _make_bind_source(source: str, owner: tuple[int, int] | None) -> None:
    """``MkdirAllAndChownNew(source, 0755, owner)``: the missing directories made from the top
    down, each chowned when ``owner`` is given; a path through a file (ENOTDIR) is left to the
    mount, which refuses it in runc's words, as dockerd leaves it; any other refusal fails the
    start with dockerd's 500 naming the directory it could not make (a link to nowhere is
    missing to Go's ``Stat`` and there to its ``Mkdir``: ``file exists``)."""
    missing = []
    path = source
    while not os.path.exists(path) and path != "/":  # Go's Stat: a link to nowhere is missing
        missing.append(path)
        path = os.path.dirname(path)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o755)
        except NotADirectoryError:
            return
        except OSError as exc:
            if isinstance(exc, FileExistsError) and os.path.isdir(directory):
                continue  # made meanwhile (another start): not ours to chown
            raise DockyardError(f"error while creating mount source path '{source}': mkdir "
                                f"{directory}: {(exc.strerror or str(exc)).lower()}") from None
        if owner is not None:
            os.chown(directory, *owner)


def _point(req: parse.MountRequest, source: str) -> dict[str, Any]:
    """The Engine API ``MountPoint`` for one mount."""
    point: dict[str, Any] = {"Type": req.type}
    if req.type == "volume":
        point.update(Name=req.name, Source=source, Destination=req.destination, Driver="local")
    else:
        point.update(Source=source, Destination=req.destination)
    point.update(Mode=req.mode, RW=not req.read_only, Propagation=req.propagation)
    return point


def _check_driver(driver: str, name: str) -> None:
    if driver and driver != "local":
        raise NotFound(f"create {name}: error looking up volume plugin {driver}: "
                       f'plugin "{driver}" not found')


def _str_map(value: Any, field: str) -> dict[str, str] | None:
    """An empty map is stored as none, so inspect shows ``null`` as dockerd does."""
    if value is not None and not isinstance(value, dict):
        raise InvalidArgument(f"invalid {field}: expected an object")
    return {str(k): str(v) for k, v in value.items()} if value else None


def _matches(volume: Volume, filters: dict[str, list[str]]) -> bool:
    names = filters.get("name")
    if names and not any(n in volume.name or _search(n, volume.name) for n in names):
        return False
    drivers = filters.get("driver")
    if drivers and "local" not in drivers:
        return False
    return _label_match(volume, filters)


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def _label_match(volume: Volume, filters: dict[str, list[str]]) -> bool:
    labels = volume.labels or {}

    def has(spec: str) -> bool:
        key, eq, value = spec.partition("=")
        return key in labels and (not eq or labels[key] == value)

    return (all(has(s) for s in filters.get("label", []))
            and not any(has(s) for s in filters.get("label!", [])))


__all__ = ["ANONYMOUS_LABEL", "VolumeInUse", "VolumeManager"]
