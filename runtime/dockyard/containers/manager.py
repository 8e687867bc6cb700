"""The container lifecycle (``engine.containers``): create, start, stop, kill, wait, remove,
rename, pause, restart policies, re-adoption after a daemon restart.

State machine (``State.Status``)::

    created ──start──▶ running ──exit──▶ exited ──start──▶ running …
                        │  ▲ pause/unpause (paused)            │
                        └──┴────────────── rm -f ──────────────┴──▶ removing ──▶ (gone)

An illegal transition is a named error (:class:`NotRunning`, :class:`AlreadyPaused`…) with
dockerd's status and wording. Each running container has a shim (:mod:`.shim`); the daemon
reads every shim through one :class:`~.monitor.Monitor` thread and learns exits from it.

Networking and volumes come from ``engine.networks`` / ``engine.volumes`` when those exist
(other packages); without a network manager every container gets only a loopback interface
("none"), whatever NetworkMode it reports, except ``host``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import json
import logging
import os
import queue
import secrets
import shutil
import signal
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

from .. import gosignal
from ..config import DaemonConfig
from ..errors import (
    Conflict,
    DockyardError,
    ExitTimeout,
    InvalidArgument,
    NotFound,
    NotModified,
)
from ..linux import sysctls, userns
from ..linux.idmap import UserNamespace
from ..oci.platform import Platform
from ..store.timefmt import rfc3339_now, rfc3339_ns
from ..volumes.manager import remake_sources, verify_sources
from ..volumes.parse import MountRequest
from ..volumes.propagation import rootfs_propagation
from ..volumes.subpath import resolve_mounts
from . import create as _create
from . import links, nsmodes, skeleton, unsupported, workdir
from .events import EventBus, bus_of
from .health import HealthMonitor
from .monitor import Monitor
from .record import CONFIG_FILE, ContainerRecord, Saver
from .spec import Mount
from .trace import mark

log = logging.getLogger("dockyard.containers")

SHIM_DONE_TIMEOUT = 10.0
KILL_WAIT = 10.0
KILL_LAST_WAIT = 2.0
"""dockerd 20.10's Kill: seconds a SIGKILL's exit is waited for before its direct SIGKILL, and
after that; a stop whose kill failed waits the last ones once more."""
KILL_FAILED = "tried to kill container, but did not receive an exit event"
EXIT_UNKNOWN = 128  # dockerd's exitUnknown: a failed start's code when nothing says another
"""Seconds a start waits for the container's previous shim to finish: it releases the previous
run's overlay after reporting the exit (``shim.Shim._finish``), and two overlays must not share
an upper dir."""

Listener = Callable[[str, bytes], None]
"""Attach/log-follow callback: ("stdout"|"stderr", data), ("exit", b"") — on the monitor thread."""


class NotRunning(Conflict):
    pass


class AlreadyPaused(Conflict):
    pass


class NotPaused(DockyardError):
    """An unpause of a container that is not paused: dockerd 20.10's is a plain error (500),
    running, created or stopped alike, where a pause of a stopped one is its 409."""


class Live:
    """What the daemon holds for a running container: its shim connection and listeners."""

    def __init__(self, sock: Any, pid: int) -> None:
        self.sock = sock
        self.pid = pid


class ContainerManager:
    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.root = Path(engine.data_root) / "containers"
        self.root.mkdir(parents=True, exist_ok=True)
        self.events: EventBus = bus_of(engine)
        self.daemon: DaemonConfig | None = getattr(engine, "config", None)  # its container defaults
        self._lock = threading.RLock()
        self._records: dict[str, ContainerRecord] = {}
        self._names: dict[str, str] = {}
        self._live: dict[str, Live] = {}
        self._guards: dict[str, threading.Lock] = {}
        self._images: dict[str, tuple[dict[str, Any], list[str]]] = {}
        self._listeners: dict[str, list[Listener]] = {}
        self._pending_stdin: dict[str, list[bytes]] = {}
        self._exit_waiters: dict[str, list[concurrent.futures.Future[dict[str, Any]]]] = {}
        self._remove_waiters: dict[str, list[concurrent.futures.Future[dict[str, Any]]]] = {}
        self._shims: dict[str, threading.Event] = {}  # set when a shim is done (socket closed)
        self._runtime: Any = None
        self._closing = False
        self.monitor = Monitor()
        self._saver = Saver()
        # --userns-remap: the store's id map (layers and containers' files hold shifted ids)
        self.remap: UserNamespace | None = engine.store.remap
        self.root_owner = engine.store.id_map.root_owner()
        self._skeletons = skeleton.Skeletons(self.root, self.root_owner)
        self.health = HealthMonitor(self, self._saver.save)  # no thread until a probe runs
        engine.store.containers_using = self.containers_using
        self._restore()

    # ---- lookup --------------------------------------------------------------------------

    def get(self, name_or_id: str) -> ContainerRecord:
        """By full id, unique id prefix, or name (with or without "/"). Single dict reads
        need no lock (the GIL makes them atomic); only the prefix scan copies under it."""
        record = self._records.get(name_or_id)
        if record is not None:
            return record
        by_name = self._names.get("/" + name_or_id.lstrip("/"))
        if by_name is not None and (record := self._records.get(by_name)) is not None:
            return record
        if "/" in name_or_id.strip("/") and (record := self._link_child(name_or_id)) is not None:
            return record
        with self._lock:
            found = [r for i, r in self._records.items() if i.startswith(name_or_id)] \
                if name_or_id else []
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise InvalidArgument(f"multiple IDs found with provided prefix: {name_or_id}")
        raise NotFound(f"No such container: {name_or_id}")

    def _link_child(self, name: str) -> ContainerRecord | None:
        """A link's name (``/parent/alias``) names its child, as dockerd reserves it."""
        parent_name, alias = links.split_name(name)
        parent = self._records.get(self._names.get(parent_name) or "")
        link = next((lk for lk in parent.links if lk[0] == alias), None) if parent else None
        return self._records.get(link[1]) if link is not None else None

    def inspect(self, name_or_id: str, size: bool = False) -> dict[str, Any]:
        from .views import inspect
        record = self.get(name_or_id)
        body = inspect(record, size)
        if record.links or body["HostConfig"].get("Links"):  # dockerd shows the registered ones
            body["HostConfig"] = {**body["HostConfig"], "Links": links.shown(record, self.get)}
        if self.daemon is not None and self.daemon.default_ulimits:  # as dockerd: merged, not kept
            body["HostConfig"] = {**body["HostConfig"], "Ulimits": _create.merged_ulimits(
                body["HostConfig"].get("Ulimits"), self.daemon.default_ulimits)}
        execs = getattr(self.engine, "execs", None)
        if execs is not None:
            body["ExecIDs"] = execs.pending_ids(record.id) or None  # dockerd: null when none
        return body

    def listing(self, all: bool = False, limit: int = -1, size: bool = False,
             filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        from .views import listing
        return listing(self.all(), all, limit, size, filters or {}, self.engine.store.lineage)

    def top(self, name: str, ps_args: str = "") -> dict[str, Any]:
        from .views import top
        record = self.get(name)
        if not record.running:
            raise NotRunning(f"Container {record.id} is not running")
        return top(record, ps_args, self._cgroup(record))

    def counts(self) -> dict[str, int]:
        """``/info``'s container figures."""
        records = self.all()
        running = sum(1 for r in records if r.running and not r.state["Paused"])
        paused = sum(1 for r in records if r.state["Paused"])
        return {"Containers": len(records), "ContainersRunning": running,
                "ContainersPaused": paused, "ContainersStopped": len(records) - running - paused}

    def all(self) -> list[ContainerRecord]:
        with self._lock:
            return list(self._records.values())

    def containers_using(self, image_id: str) -> list[tuple[str, bool]]:
        return [(r.id, r.running) for r in self.all() if r.image_id == image_id]

    @property
    def runtime(self) -> Any:
        if self._runtime is None:
            from .runtime import Runtime
            with self._lock:
                if self._runtime is None:
                    self._runtime = Runtime()
        return self._runtime

    @property
    def default_ulimits(self) -> dict[str, dict[str, Any]]:
        """``--default-ulimit``: applied at each start and exec, never recorded (dockerd's)."""
        return self.daemon.default_ulimits if self.daemon is not None else {}

    @property
    def daemon_seccomp(self) -> tuple[str, str]:
        """``--seccomp-profile`` as given and its file's content (for each start and exec)."""
        return (self.daemon.seccomp_profile, self.daemon.seccomp_text) if self.daemon is not None else ("", "")

    def emit(self, record: ContainerRecord, action: str, **extra: str) -> None:
        """A container event with dockerd's attributes (labels, image, name, then ``extra``)."""
        attrs = {**(record.config.get("Labels") or {}), "image": record.image,
                 "name": record.name.lstrip("/"), **extra}
        self.events.emit("container", action, record.id, attrs)

    # ---- create --------------------------------------------------------------------------

    def create(self, body: dict[str, Any], name: str | None = None,
               platform: Platform | None = None) -> dict[str, Any]:
        """``POST /containers/create``: nothing is written unless every check passes;
        ``platform`` (``?platform=``) must be one the image serves."""
        _create.check_blkio_types(body.get("HostConfig") or {})  # dockerd's decoder: first
        nsmodes.check_decoded(body, body.get("HostConfig") or {})
        unsupported.check_decoded(body.get("HostConfig") or {})
        image_name = body.get("Image") or ""
        if not image_name:
            raise InvalidArgument("No image specified")  # dockerd: "config cannot be empty"…
        # what dockerd verifies before it looks the image up: a bad option is refused at once,
        # not after the docker CLI, told "No such image", has pulled it
        request = {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
        _create.check_config(request)
        host_config = _create.host_config_defaults(body.get("HostConfig") or {}, self.daemon)
        discarded = _create.discard_unsupported(host_config)
        _create.validate_host_config(host_config, self.remap)
        nsmodes.check_create(host_config, lambda other: self.get(other).id)
        image_id = self.engine.store.resolve(image_name)
        if platform is not None:
            _create.check_platform(image_name, self.engine.store.config(image_id), platform)
        image_cfg, layers = self._image(image_id)
        config = _create.merge_config(request, image_cfg, image_name)
        _create.check_after_image(host_config)
        unsupported.check_storage_opts(host_config)
        cid = secrets.token_hex(32)
        with self._lock:
            full = self._claim_name(name, cid)
            record = ContainerRecord(id=cid, name=full, image=image_name, image_id=image_id,
                                     config=config, host_config=host_config,
                                     created=rfc3339_now(), dir=self.root / cid,
                                     lower_dirs=list(layers))
            record.config["Hostname"] = record.config.get("Hostname") or cid[:12]
            if body.get("NetworkingConfig"):
                networks = getattr(self.engine, "networks", None)
                record.network_settings["_requested"] = _endpoints(
                    body["NetworkingConfig"], getattr(networks, "default_network", "bridge"))
            mark(cid, "create.claimed")
            try:
                links.register(record, self.get)
                self._prepare(record)
            except BaseException:
                self._names.pop(full, None)
                shutil.rmtree(record.dir, ignore_errors=True)
                raise
            self._records[cid] = record
        mark(cid, "create.prepared")
        self.emit(record, "create")
        return {"Id": cid, "Warnings": [*discarded, *_create.warnings(host_config)]}

    def _image(self, image_id: str) -> tuple[dict[str, Any], list[str]]:
        """An image's config and layer dirs; cached, since an image ID names immutable content."""
        cached = self._images.get(image_id)
        if cached is None:
            config = self.engine.store.config(image_id).get("config") or {}
            layers = [str(p) for p in self.engine.image_rootfs_layers(image_id)]
            cached = self._images[image_id] = (config, layers)
        return cached

    def _claim_name(self, name: str | None, cid: str) -> str:
        if not name:
            full = _create.generate_name(set(self._names))
        else:
            full = _create.check_name(name)
            if full in self._names:
                raise Conflict(f'Conflict. The container name "{full}" is already in use by '
                               f'container "{self._names[full]}". You have to remove (or rename) '
                               "that container to be able to reuse that name.")
        self._names[full] = cid
        return full

    def _prepare(self, record: ContainerRecord) -> None:
        networks = getattr(self.engine, "networks", None)
        if networks is not None:
            networks.validate(record)
        if not self._skeletons.take(record.dir):
            skeleton.make(record.dir, self.root_owner)
        _fit_init_layer(record, self.root_owner)
        workdir.setup(record, self.root_owner)  # dockerd's SetupWorkingDirectory
        volumes = getattr(self.engine, "volumes", None)
        if volumes is not None:
            record.spec_mounts = [asdict(m) for m in volumes.resolve(record, checked=True)]
        self._saver.save(record, wait=True)

    # ---- start ---------------------------------------------------------------------------

    def start(self, name: str) -> None:
        record = self.get(name)
        with self._guard(record):
            if record.state["Paused"]:
                raise Conflict("cannot start a paused container, try unpause instead")
            if record.running:
                raise NotModified("container already started")
            if record.state["Status"] in ("removing", "dead"):
                raise Conflict("container is marked for removal and cannot be started")
            self._start(record, verify_sources(record))

    def _guard(self, record: ContainerRecord) -> threading.Lock:
        """The container's own lock: start, restart and exit handling (network teardown) of
        one container never interleave, while other containers go on."""
        with self._lock:
            return self._guards.setdefault(record.id, threading.Lock())

    def _start(self, record: ContainerRecord,
               asked: list[MountRequest] | None = None) -> None:
        """Start ``record``; ``asked``: its mount requests when a ``docker start`` has checked
        them (``verify_sources``), else (a restart) ``remake_sources`` parses what it needs."""
        from ..linux.launcher import StartFailed
        from .runtime import dockerd_start_error, start_exit_code
        mark(record.id, "start.begin")
        try:
            spec, network_ready = self._spec(record, asked)
        except Exception as exc:  # an unknown --user, a network to join that is gone…
            self._start_failed(record, EXIT_UNKNOWN, str(exc))  # --rm honoured
            raise
        mark(record.id, "start.spec")
        try:
            os.unlink(record.dir / "exit.json")
        except FileNotFoundError:
            pass
        previous = self._shims.get(record.id)
        if previous is not None:  # the last run's shim still holds its overlay (releasing it)
            previous.wait(SHIM_DONE_TIMEOUT)
        before = dict(record.state), record.has_been_started, record.manually_stopped

        def started(pid: int) -> None:
            """The init exists and is exec'ing the command: the record says running meanwhile
            (its save, ~1 ms, overlaps the exec instead of following it). After any queued
            exit's save: never overwritten by one."""
            record.state.update(Status="running", Running=True, Paused=False, Restarting=False,
                                OOMKilled=False, Dead=False, Pid=pid, ExitCode=0, Error="",
                                StartedAt=rfc3339_now())
            record.has_been_started = True
            record.manually_stopped = False
            self._saver.save(record, wait=True)
            mark(record.id, "start.saved")

        try:
            pid, sock = self.runtime.start_shim(spec, str(record.dir), record.log_path,
                                                open_stdin=bool(record.config.get("OpenStdin")),
                                                on_started=started, network_ready=network_ready)
        except StartFailed as exc:
            _unstart(record, before)
            self._teardown(record)
            self._start_failed(record, exc.exit_code, dockerd_start_error(str(exc)))
            raise StartFailed(dockerd_start_error(str(exc)), exc.kind, exc.exit_code) from None
        except Exception as exc:  # refused before the clone (a rootless limit, a missing map…)
            _unstart(record, before)
            self._teardown(record)
            self._start_failed(record, start_exit_code(str(exc)), str(exc))
            raise
        except BaseException:
            _unstart(record, before)
            self._teardown(record)
            raise
        mark(record.id, "start.shim-replied")
        self._adopt(record, sock, pid)
        if record.config.get("Healthcheck"):
            self.health.start(record)
        self.emit(record, "start")
        mark(record.id, "start.done")

    def _start_failed(self, record: ContainerRecord, code: int, error: str) -> None:
        """As dockerd: the exit code and error recorded, and ``--rm`` honoured (the docker
        CLI's ``run --rm`` waits for the removal after a failed start). A ``next-exit`` wait
        is not told (no run has exited: the CLI's ``run`` would print "Error waiting for
        container" besides the start's error); a restart's failure tells every waiter, as the
        container stops restarting. ``EXIT_UNKNOWN`` (a failure dockerd's
        ``translateContainerdStartErr`` gives no code of its own) keeps the exit code of an
        earlier run, as dockerd's containerStart sets 128 only over a 0."""
        if code == EXIT_UNKNOWN:
            code = int(record.state.get("ExitCode") or EXIT_UNKNOWN)
        record.state.update(ExitCode=code, Error=error)
        self._saver.save(record, wait=True)
        if record.state["Restarting"]:
            self._resolve(self._exit_waiters, record.id, code, error)
        if record.host_config.get("AutoRemove"):
            threading.Thread(target=self._auto_remove, args=(record,), daemon=True).start()

    def _spec(self, record: ContainerRecord, asked: list[MountRequest] | None = None
              ) -> tuple[Any, Callable[[], None] | None]:
        """The container's spec, and what is left of its network's set-up: the runtime runs
        that while the init makes its mounts (``NetworkManager.setup``'s ``defer``)."""
        hc = record.host_config
        unsupported.check_device_requests(hc)  # dockerd's is in the spec's making: here before it
        _create.check_cwd_start(record.config)
        remapped = _create.remapped(hc, self.remap)  # --userns-remap; "host" opts out
        if remapped:
            _create.check_userns_start(hc)
        linked = links.resolve(record, self.get)
        remake_sources(record, self.root_owner, asked)
        mounts = resolve_mounts([Mount(**m) for m in record.spec_mounts])
        hostname = record.config.get("Hostname") or record.short_id
        mode = str(hc.get("NetworkMode") or "default")  # "default" is never host nor joined
        netns = "host" if mode == "host" else "none"
        # --pid, --ipc, --uts; userns: the user namespace of x, a --pid/--ipc container:x
        shared = nsmodes.resolve(record, self.get, self.root_owner if remapped else None)
        join = ""  # the user namespace of the container whose network this one shares
        if mode.startswith("container:") and not record.config.get("NetworkDisabled"):
            try:
                netns, join = self._network_donor(record, mode.split(":", 1)[1], remapped,
                                                  shared)
            except BaseException:
                nsmodes.release(record)  # a shareable /dev/shm resolve mounted
                raise
        networks = getattr(self.engine, "networks", None)
        network_ready = None
        pin = ""
        if networks is not None:
            setup = networks.setup(record, defer=True, userns=remapped, links=linked.hosts)
            netns, hostname = setup.netns, setup.hostname or hostname
            mounts += list(setup.mounts)
            network_ready = setup.finish if setup.pending is not None else None
            if setup.pin:  # the clone makes it, in the container's user namespace
                netns, pin = "none", setup.netns
        self._volume_events(record, "mount")
        try:
            spec = _create.build_spec(record, netns, mounts, hostname, self.default_ulimits,
                                      self.daemon_seccomp,
                                      _create.cgroup_parent(record, self.daemon, start=True),
                                      linked.env)
            nsmodes.apply(spec, shared, _create.shm_mounts(hc.get("ShmSize") or 0))
            if spec.sysctls:
                sysctls.check(spec)
            # dockerd's setMounts: a propagating bind's source must be able to (a 500 here)
            spec.rootfs_propagation = rootfs_propagation(
                spec.mounts, str(self.engine.data_root), record.id)
            if remapped:
                spec.userns, spec.netns_pin = self.remap, pin
                spec.userns_join = spec.userns_join or join
            return spec, network_ready
        except BaseException:
            self._teardown(record)
            raise

    def _network_donor(self, record: ContainerRecord, name: str, remapped: bool,
                       shared: nsmodes.Namespaces) -> tuple[str, str]:
        """(netns, userns to join) of a ``--network container:x`` start: a remapped joiner
        joins x's user namespace, never the daemon's (x ``--userns host``)."""
        other = self.get(name)
        if not other.running:
            raise Conflict(f"cannot join network of a non running container: {other.id}")
        adopt_donors_files(record, other)
        join = ""
        if remapped:
            join = nsmodes.one_userns([nsmodes.donor_userns("network", other), shared.userns],
                                      "the network and the PID or IPC namespace")
        return f"/proc/{other.state['Pid']}/ns/net", join

    def _teardown(self, record: ContainerRecord) -> None:
        """A run ends (or a start fails once its network is up): the network's disconnect,
        then the volumes' unmount, in dockerd's order."""
        self._network_teardown(record)
        self._volume_events(record, "unmount")
        nsmodes.release(record)

    def _volume_events(self, record: ContainerRecord, action: str) -> None:
        """dockerd's volume mount/unmount events: a container without mounts pays one test."""
        if record.mounts:
            volumes = getattr(self.engine, "volumes", None)
            if volumes is not None:
                volumes.told_mounts(record, action)

    def _network_teardown(self, record: ContainerRecord) -> None:
        networks = getattr(self.engine, "networks", None)
        if networks is not None:
            try:
                networks.teardown(record)
            except Exception:
                log.exception("network teardown of %s", record.id)

    def _adopt(self, record: ContainerRecord, sock: Any, pid: int) -> None:
        with self._lock:  # input queued before the start goes first, whoever sends next
            self._live[record.id] = Live(sock, pid)
            for data in self._pending_stdin.pop(record.id, []):
                sock.send(data)
        done = self._shims[record.id] = threading.Event()
        self.monitor.watch(record.id, sock, lambda k, b: self._on_packet(record, k, b),
                           lambda: self._on_lost(record), lambda: self._shim_done(record, done))

    def _shim_done(self, record: ContainerRecord, done: threading.Event) -> None:
        """The shim's connection closed: it exited. The container's cgroup should be gone by
        now (the shim removes it after reporting the exit); one it left — a removal the
        kernel refused until after the shim gave up, or a shim killed after its report — is
        removed here, else nothing would ever remove it. A next start of the container waits
        for ``done`` (``SHIM_DONE_TIMEOUT``): set after that removal, which must not take the
        next run's cgroup of the same name."""
        cid = record.id
        cg = self._cgroup(record) if os.geteuid() == 0 and not self._closing else None
        if cg is not None and _cgroup_left(cg):
            log.warning("the shim of %s left its cgroup: removing it", cid)
            threading.Thread(target=self._sweep_cgroup, args=(cid, cg, done), daemon=True).start()
            return
        self._shim_gone(cid, done)

    def _sweep_cgroup(self, cid: str, cg: Any, done: threading.Event) -> None:
        try:
            _remove_cgroup(cid, cg, attempts=1)  # one try's patience (5 s) < SHIM_DONE_TIMEOUT
        finally:
            self._shim_gone(cid, done)

    def _cgroup(self, record: ContainerRecord) -> Any:
        """The container's cgroup (a ``cgroups.Cgroup``; ``None`` where none is usable), below
        its parent (``--cgroup-parent``, else the daemon's), where its last start put it
        (``create.cgroup_parent``)."""
        from ..linux import cgroups
        return cgroups.for_container(record.id, parent=_create.cgroup_parent(record, self.daemon))

    def _shim_gone(self, cid: str, done: threading.Event) -> None:
        done.set()
        with self._lock:
            if self._shims.get(cid) is done:
                del self._shims[cid]

    # ---- shim messages (monitor thread) ----------------------------------------------------

    def _on_packet(self, record: ContainerRecord, kind: bytes, body: bytes) -> None:
        if kind == b"x":
            self._on_exit(record, json.loads(body))
            return
        stream = "stdout" if kind == b"1" else "stderr"
        for listener in list(self._listeners.get(record.id, [])):
            listener(stream, body)

    def _on_lost(self, record: ContainerRecord) -> None:
        """The shim's socket closed without an exit report: the shim died (or we close)."""
        if self._closing:
            return
        self._on_exit(record, self._exit_file(record))

    def _exit_file(self, record: ContainerRecord) -> dict[str, Any]:
        try:
            with open(record.dir / "exit.json", encoding="utf-8") as f:
                status: dict[str, Any] = json.load(f)
                return status
        except (OSError, ValueError):
            threading.Thread(target=_remove_cgroup, args=(record.id, self._cgroup(record)),
                             daemon=True).start()
            return {"exit_code": 255, "oom_killed": False, "finished_at": time.time_ns(),
                    "error": "the container's shim exited unexpectedly"}

    def _on_exit(self, record: ContainerRecord, status: dict[str, Any]) -> None:
        """Take the network down, record the exit, tell waiters, save: dockerd's wait returns
        once the container's network is gone, so an inspect right after shows no address.
        All under the container's lock, so a restart cannot slip in between and lose its
        fresh sandbox, and a remove (which takes it too) cannot move the directory away
        under the save."""
        code = int(status["exit_code"])
        mark(record.id, "exit.packet")
        with self._guard(record):
            self._live.pop(record.id, None)
            if "Health" in record.state:
                self.health.stop(record)
            if status.get("oom_killed"):
                self.emit(record, "oom")
            self.emit(record, "die", exitCode=str(code))  # before the network's disconnect, as dockerd
            self._teardown(record)  # still "running": a wait now waits for the end
            mark(record.id, "exit.teardown")
            record.state.update(Status="exited", Running=False, Paused=False, Pid=0,
                                ExitCode=code, OOMKilled=bool(status.get("oom_killed")),
                                Error=status.get("error", ""),
                                FinishedAt=rfc3339_ns(int(status["finished_at"])))
            for listener in list(self._listeners.get(record.id, [])):
                listener("exit", b"")
            self._resolve(self._exit_waiters, record.id, code, record.state["Error"])
            mark(record.id, "exit.waiters-told")
            if record.id in self._records:
                self._saver.save(record)
            mark(record.id, "exit.saved")
        if record.host_config.get("AutoRemove"):
            threading.Thread(target=self._auto_remove, args=(record,), daemon=True).start()
        elif self._should_restart(record, code):
            self._schedule_restart(record)

    def _auto_remove(self, record: ContainerRecord) -> None:
        try:
            self.remove(record.id, force=True, volumes=True)
        except (NotFound, Conflict):
            pass  # removed meanwhile, or being removed by a client

    def _resolve(self, table: dict[str, list[concurrent.futures.Future[dict[str, Any]]]],
                 cid: str, code: int, error: str) -> None:
        with self._lock:
            waiters = table.pop(cid, [])
        body = _wait_body(code, error)
        for future in waiters:
            if not future.done():
                future.set_result(body)

    # ---- restart policies ------------------------------------------------------------------

    def _should_restart(self, record: ContainerRecord, code: int) -> bool:
        policy = record.host_config.get("RestartPolicy") or {}
        name = policy.get("Name") or "no"
        if self._closing or record.manually_stopped or record.id not in self._records:
            return False
        if name == "on-failure":
            limit = int(policy.get("MaximumRetryCount") or 0)
            return code != 0 and (limit == 0 or record.restart_count < limit)
        return name in ("always", "unless-stopped")

    def _schedule_restart(self, record: ContainerRecord) -> None:
        delay = min(0.1 * (2 ** min(record.restart_count, 10)), 60.0)
        record.state.update(Restarting=True, Status="restarting")
        self._saver.save(record, wait=True)
        timer = threading.Timer(delay, self._restart_now, args=(record,))
        timer.daemon = True
        timer.start()

    def _restart_now(self, record: ContainerRecord) -> None:
        with self._guard(record):
            if record.id not in self._records or record.running or not record.state["Restarting"]:
                return
            record.restart_count += 1
            try:
                self._start(record)
            except Exception as exc:  # noqa: BLE001 — a failed restart ends the policy, logged
                log.warning("restarting %s failed: %s", record.id, exc)
                record.state.update(Restarting=False, Status="exited")
                self._saver.save(record, wait=True)

    # ---- stop / kill / wait ----------------------------------------------------------------

    def exit_future(self, name: str, condition: str = "not-running"
                    ) -> concurrent.futures.Future[dict[str, Any]]:
        """A future of the wait body; ``condition`` as dockerd 20.10's postContainersWait:
        next-exit, removed, and not-running for any other (its switch has no refusal)."""
        record = self.get(name)
        future: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        with self._lock:
            if condition not in ("next-exit", "removed") and not record.running \
                    and not record.state["Restarting"]:
                future.set_result(_wait_body(record.state["ExitCode"],
                                             record.state.get("Error") or ""))
            else:
                table = self._remove_waiters if condition == "removed" else self._exit_waiters
                table.setdefault(record.id, []).append(future)
        return future

    def signal(self, record: ContainerRecord, signo: int) -> None:
        live = self._live.get(record.id)
        if live is None:
            raise NotRunning(f"Container {record.id} is not running")
        try:
            live.sock.send(b"k%d" % signo)
        except OSError:
            raise NotRunning(f"Container {record.id} is not running") from None

    def kill(self, name: str, sig: str | None = None) -> None:
        signo = _create.parse_kill_signal(sig)  # dockerd checks it first
        try:
            record = self.get(name)
        except NotFound as exc:
            raise NotFound(f"Cannot kill container: {name}: {exc}") from None
        unsupported = _create.unsupported_signal(signo)
        if unsupported:  # a plain error of dockerd's: 500
            raise DockyardError(f"Cannot kill container: {name}: {unsupported}")
        if not record.running:
            raise Conflict(f"Cannot kill container: {name}: Container {record.id} is not running")
        if signo in (signal.SIGKILL, signal.SIGTERM):
            record.manually_stopped = True
        if signo == signal.SIGKILL:  # dockerd's Kill: answered once the container is gone
            try:
                self._kill(record)
            except ExitTimeout as exc:
                raise DockyardError(f"Cannot kill container: {name}: {exc}") from exc
            return
        self.emit(record, "kill", signal=str(signo))
        self.signal(record, signo)

    def stop(self, name: str, timeout: int | None = None, sig: str | None = None) -> None:
        record = self.get(name)
        if not record.running:
            raise NotModified("container already stopped")
        record.manually_stopped = True
        try:
            self._stop(record, timeout, sig)
        except ExitTimeout as exc:
            raise DockyardError(f"cannot stop container: {name}: {exc}") from exc
        self.emit(record, "stop")

    def _stop(self, record: ContainerRecord, timeout: int | None, sig: str | None) -> None:
        if timeout is None:
            stop_timeout = record.config.get("StopTimeout")
            timeout = 10 if stop_timeout is None else int(stop_timeout)
        signo = _create.parse_signal(sig) if sig else _stop_signal(record)
        future = self.exit_future(record.id, "not-running")
        if record.state["Paused"]:
            self._freeze(record, False)
        try:
            if not gosignal.deliverable(signo):  # runc's EINVAL: dockerd waits 2 s, then kills
                log.error("Error sending stop (signal %d) to container %s: unable to signal init: "
                          "invalid argument", signo, record.id)
                future.result(2)
                return
            self.emit(record, "kill", signal=str(signo))  # dockerd tells each signal of a stop
            self.signal(record, signo)
            if timeout < 0:
                future.result()
                return
            future.result(timeout)
        except (concurrent.futures.TimeoutError, NotRunning):
            pass
        if record.running:
            try:
                self._kill(record)
            except ExitTimeout:  # dockerd gives the container two more seconds, then fails
                with contextlib.suppress(concurrent.futures.TimeoutError):
                    future.result(KILL_LAST_WAIT)
                    return
                raise

    def _kill(self, record: ContainerRecord) -> None:
        """dockerd 20.10's Kill: SIGKILL and its kill event (a paused container thawed after
        it), :data:`KILL_WAIT` seconds for the exit, SIGKILL again (its direct kill(2), no
        event), :data:`KILL_LAST_WAIT` more. Still running then, the kernel holds it (a frozen
        v1 parent cgroup keeps SIGKILL pending): :class:`ExitTimeout` in dockerd's words, the
        container left as it is."""
        future = self.exit_future(record.id, "not-running")
        self.emit(record, "kill", signal=str(int(signal.SIGKILL)))
        try:
            self.signal(record, signal.SIGKILL)
            if record.state["Paused"]:
                self._freeze(record, False)
            future.result(KILL_WAIT)
            return
        except NotRunning:
            return
        except concurrent.futures.TimeoutError:
            log.error("Container %s failed to exit within %ss of kill - trying direct SIGKILL",
                      record.id, KILL_WAIT)
        try:
            self.signal(record, signal.SIGKILL)
            future.result(KILL_LAST_WAIT)
        except NotRunning:
            return
        except concurrent.futures.TimeoutError:
            raise ExitTimeout(KILL_FAILED) from None

    def restart(self, name: str, timeout: int | None = None, sig: str | None = None) -> None:
        """dockerd's restart: a stop and its start *without* the settings check of ``docker
        start`` (a ``--mount`` source gone is runc's error at the mount, a ``container:`` donor
        gone the start's); what fails is 500 "Cannot restart container NAME: …", whatever the
        failure's own status (dockerd wraps it and loses its kind)."""
        record = self.get(name)
        try:
            if record.running:
                record.manually_stopped = True
                self._stop(record, timeout, sig)
            with self._guard(record):
                record.state["Restarting"] = False
                self._start(record)
        except DockyardError as exc:
            raise DockyardError(f"Cannot restart container {name}: {exc}") from exc
        self.emit(record, "restart")

    # ---- pause ---------------------------------------------------------------------------

    def _freeze(self, record: ContainerRecord, frozen: bool) -> None:
        cg = self._cgroup(record)
        if cg is None:
            raise Conflict("pause needs the freezer cgroup, which this daemon cannot use "
                           "(rootless on cgroup v1)")
        cg.freeze(frozen)
        record.state.update(Paused=frozen, Status="paused" if frozen else "running")
        self._saver.save(record, wait=True)

    def pause(self, name: str) -> None:
        record = self.get(name)
        if not record.running:
            raise NotRunning(f"Container {record.id} is not running")
        if record.state["Paused"]:
            raise AlreadyPaused(f"Container {record.id} is already paused")
        self._freeze(record, True)
        if "Health" in record.state:
            self.health.stop(record)
        self.emit(record, "pause")

    def unpause(self, name: str) -> None:
        record = self.get(name)
        if not record.state["Paused"]:
            raise NotPaused(f"Container {record.id} is not paused")
        self._freeze(record, False)
        if record.config.get("Healthcheck"):
            self.health.resume(record)
        self.emit(record, "unpause")

    # ---- remove / rename / prune -----------------------------------------------------------

    def remove(self, name: str, force: bool = False, volumes: bool = False) -> None:
        record = self.get(name)
        if record.running and not force:
            what = "paused" if record.state["Paused"] else "running"
            raise Conflict(f"You cannot remove a {what} container {record.id}. Stop the "
                           "container before attempting removal or force remove")
        with self._lock:
            if record.state["Status"] == "removing":
                raise Conflict(f"removal of container {name} is already in progress")
            previous = record.state["Status"]
            record.state["Status"] = "removing"
        if record.running:
            record.manually_stopped = True
            try:
                self._kill(record)  # dockerd's rm -f: its Kill, no stop
            except BaseException as exc:
                record.state["Status"] = previous
                if isinstance(exc, ExitTimeout):
                    raise DockyardError(f"Could not kill running container {record.id}, "
                                        f"cannot remove - {exc}") from exc
                raise
        self._destroy(record, volumes)

    def remove_link(self, name: str) -> None:
        """``DELETE /containers/{parent/alias}?link=1`` (``docker rm --link``): the link goes
        and a running parent's /etc/hosts loses its line, as dockerd's rmLink. ``name`` must
        name a container (a link's name names its child): a plain name is dockerd's 500."""
        self.get(name)
        parent_name, alias = links.split_name(name)
        if not parent_name:
            raise DockyardError(links.DEFAULT_LINK)
        with self._lock:
            parent = self._records.get(self._names.get(parent_name) or "")
            if parent is None or not links.unlink(parent, alias):
                return
        self._saver.save(parent, wait=True)
        networks = getattr(self.engine, "networks", None)
        if networks is not None:
            networks.unlink(parent.id, alias)

    def _destroy(self, record: ContainerRecord, volumes: bool) -> None:
        mark(record.id, "rm.begin")
        self._last_seen_as(record)
        vol = getattr(self.engine, "volumes", None)
        if vol is not None:
            vol.release(record, remove_anonymous=volumes)
        mark(record.id, "rm.volumes")
        self._network_teardown(record)
        mark(record.id, "rm.network")
        execs = getattr(self.engine, "execs", None)
        if execs is not None:
            execs.forget_container(record.id)
        with self._guard(record):  # an exit being recorded saves first
            nsmodes.release(record)  # a start that failed before its teardown may leave it
            _discard(record.dir)
        mark(record.id, "rm.discarded")
        with self._lock:
            self._records.pop(record.id, None)
            if self._names.get(record.name) == record.id:
                del self._names[record.name]
            listeners = self._listeners.pop(record.id, [])
            self._guards.pop(record.id, None)
            self._pending_stdin.pop(record.id, None)
        for listener in listeners:
            listener("exit", b"")
        self.emit(record, "destroy")
        error = record.state.get("Error") or ""
        self._resolve(self._remove_waiters, record.id, record.state["ExitCode"], "")
        self._resolve(self._exit_waiters, record.id, record.state["ExitCode"], error)

    def _last_seen_as(self, record: ContainerRecord) -> None:
        """Its parents' links keep a removed child, by the name it had (dockerd's link index
        keeps the container itself: their starts and execs are refused naming it)."""
        for parent in self.all():
            for link in parent.links:
                if link[1] == record.id and link[2] != record.name:
                    link[2] = record.name
                    self._saver.save(parent)

    def rename(self, name: str, new_name: str) -> None:
        """dockerd 20.10's ContainerRename: the names checked, ``/`` put before the new one,
        the container looked up, then the new name reserved — its refusals (a bad name shown
        with its ``/``, one in use) wrapped in 'Error when allocating new name: '."""
        if not name or not new_name:
            raise InvalidArgument("Neither old nor new names may be empty")
        new_name = new_name if new_name.startswith("/") else "/" + new_name
        record = self.get(name)
        with self._lock:
            old = record.name
            if new_name == old:
                raise InvalidArgument("Renaming a container with the same name as its current "
                                      "name")
            self._names.pop(old, None)
            try:
                record.name = self._claim_name(new_name, record.id)
            except (InvalidArgument, Conflict) as exc:
                self._names[old] = record.id
                raise type(exc)(f"Error when allocating new name: {exc}") from None
            except BaseException:
                self._names[old] = record.id
                raise
            self._saver.save(record, wait=True)
        self.emit(record, "rename", oldName=old)

    def update(self, name: str, request: dict[str, Any]) -> dict[str, Any]:
        """``POST /containers/{id}/update`` (``docker update``): resources and the restart
        policy; a running container's cgroup gets the new limits first, so a refused value
        leaves the record as it was."""
        record = self.get(name)
        request = dict(request)
        discarded = _create.discard_unsupported(request)
        with self._lock:
            try:
                host_config = _create.update_host_config(record.host_config, request)
            except Conflict as exc:
                raise Conflict(f"Cannot update container {record.id}: {exc}") from None
            resources = any(request.get(k) for k in _create.UPDATABLE) or \
                request.get("PidsLimit") is not None
            if resources and record.running and not record.state["Restarting"]:
                self._update_cgroup(record, request)
            record.host_config = host_config
            self._saver.save(record, wait=True)
        self.emit(record, "update")
        return {"Warnings": discarded or None}  # dockerd 20.10: null when there is none

    def _update_cgroup(self, record: ContainerRecord, request: dict[str, Any]) -> None:
        """The request's limits to the cgroup (:func:`create.update_limits`): those it does
        not name stay as they are."""
        limits = _create.update_limits(request)
        cg = self._cgroup(record)
        try:  # any one of its own: a container an older daemon started has no devices cgroup
            if cg is None or not any(os.path.isdir(p) for p in cg.paths):
                raise OSError("the container has no cgroup of its own (rootless)")
            cg.update(limits)
        except OSError as exc:  # a value the kernel refused: in the words dockerd relays from runc
            detail = str(exc) if exc.strerror is None else \
                f"runc did not terminate successfully: exit status 1: {exc.strerror}\n: unknown"
            raise DockyardError(f"Cannot update container {record.id}: {detail}") from None

    def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        from .views import check_prune_filters, matches_prune, newest_first, size_rw
        check_prune_filters(filters)
        deleted, reclaimed = [], 0
        for record in newest_first(self.all()):
            if record.running or not matches_prune(record, filters):
                continue
            reclaimed += size_rw(record)
            try:
                self.remove(record.id)
            except (Conflict, NotFound):
                continue
            deleted.append(record.id)
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # ---- streams -------------------------------------------------------------------------

    def listen(self, name: str, listener: Listener) -> Callable[[], None]:
        """Receive live output and the exit of ``name``; returns the unsubscribe function."""
        record = self.get(name)
        with self._lock:
            self._listeners.setdefault(record.id, []).append(listener)

        def unsubscribe() -> None:
            with self._lock:
                listeners = self._listeners.get(record.id, [])
                if listener in listeners:
                    listeners.remove(listener)
        return unsubscribe

    def to_attach(self, name: str) -> ContainerRecord:
        """The container an attach joins, refused as dockerd 20.10's ContainerAttach refuses it
        (named as the request named it): paused or restarting, a conflict."""
        record = self.get(name)
        if record.state.get("Paused"):
            raise Conflict(f"container {name} is paused, unpause the container before attach")
        if record.state.get("Restarting"):
            raise Conflict(f"container {name} is restarting, wait until the container is running")
        return record

    def attached(self, name: str) -> None:
        """An attach began (dockerd logs it as an event)."""
        self.emit(self.get(name), "attach")

    def detached(self, name: str) -> None:
        """An attach ended by its detach keys (dockerd's "detach" event)."""
        self.emit(self.get(name), "detach")

    def write_stdin(self, name: str, data: bytes) -> None:
        self._to_shim(self.get(name), b"0" + data)

    def close_stdin(self, name: str) -> None:
        self._to_shim(self.get(name), b"c")

    def resize(self, name: str, height: int, width: int) -> None:
        """A running container's terminal size (409 otherwise, as dockerd 20.10), told as its
        ``resize`` event with the sizes given (a container without a terminal too); the shim
        takes them as Go's ``uint16`` conversions of them (runc's winsize)."""
        record = self.get(name)
        if not record.running:
            raise NotRunning(f"Container {record.id} is not running")
        self._to_shim(record, f"r{height & 0xFFFF} {width & 0xFFFF}".encode())
        self.emit(record, "resize", height=str(height), width=str(width))

    def _to_shim(self, record: ContainerRecord, packet: bytes) -> None:
        """To the shim — or queued until the start when a client attached before it."""
        with self._lock:
            live = self._live.get(record.id)
            if live is None:
                self._pending_stdin.setdefault(record.id, []).append(packet)
                return
        try:
            live.sock.send(packet)
        except OSError:
            pass  # the shim is gone; the monitor reports the exit

    # ---- daemon restart ----------------------------------------------------------------------

    def _restore(self) -> None:
        """Re-adopt what a previous daemon left: running shims, exits that happened meanwhile."""
        for directory in sorted(self.root.iterdir()):
            if directory.name.startswith(".removing-"):
                userns.remove_tree(directory)  # a removal cut short
                continue
            if directory.name == skeleton.POOL:
                continue
            try:
                record = ContainerRecord.load(directory)
            except (OSError, ValueError, TypeError):
                if not (directory / CONFIG_FILE).exists():
                    shutil.rmtree(directory, ignore_errors=True)  # a create that never finished
                continue
            self._records[record.id] = record
            self._names[record.name] = record.id
            if record.running:
                self._reconnect(record)
        self._restore_links()
        for record in list(self._records.values()):
            policy = (record.host_config.get("RestartPolicy") or {}).get("Name")
            if not record.running and (policy == "always" or (
                    policy == "unless-stopped" and not record.manually_stopped)):
                try:
                    self._start(record)
                except Exception as exc:  # noqa: BLE001 — one bad container must not stop the daemon
                    log.warning("could not restart %s: %s", record.id, exc)

    def _restore_links(self) -> None:
        """Every container's links registered anew by name, before any start, as dockerd's
        restore does (:func:`links.reregister`); one it cannot link is logged as dockerd's."""
        for record in list(self._records.values()):
            before = [list(link) for link in record.links]
            error = links.reregister(record, self.get)
            if error is not None:
                log.error("failed to register link for container %s: %s", record.id, error)
            if record.links != before:
                self._saver.save(record)

    def _reconnect(self, record: ContainerRecord) -> None:
        from .shim import connect
        for attempt in range(100):  # a shim binds its socket LISTEN_AFTER (10 ms) into a start
            try:
                sock = connect(str(record.dir / "shim.sock"))
            except OSError:
                shim_gone = attempt > 10 and not (record.dir / "shim.pid").exists()
                if shim_gone or (record.dir / "exit.json").exists():
                    break
                time.sleep(0.01)
                continue
            self._adopt(record, sock, int(record.state["Pid"]))
            if record.config.get("Healthcheck") and not record.state["Paused"]:
                self.health.resume(record)
            return
        self._on_exit(record, self._exit_file(record))

    def close(self) -> None:
        """Let go of the shims (containers keep running, as with dockerd's live-restore)."""
        self._closing = True
        self.health.close()
        self._skeletons.close()
        self.monitor.close()
        self._saver.flush()
        if self._runtime is not None:
            self._runtime.close()


def _stop_signal(record: ContainerRecord) -> int:
    """The signal a stop sends, as dockerd's ``Container.StopSignal``: the config's, one it
    cannot read (a record from before a check) SIGTERM, as none."""
    try:
        return _create.parse_signal(record.config.get("StopSignal"), signal.SIGTERM)
    except InvalidArgument:
        return int(signal.SIGTERM)


def _fit_init_layer(record: ContainerRecord, owner: tuple[int, int] | None = None) -> None:
    """What dockerd's init layer gives every container, made with the directory
    (:func:`.skeleton.make`), fitted to the image as dockerd's init layer would be made over it:
    an empty ``/.dockerenv`` (scripts look for it to know they run in Docker), the /etc files'
    mountpoints and ``/etc/mtab`` → ``/proc/mounts``, ``/dev/console``, ``/dev/pts/`` and
    ``/dev/shm/``. ``/etc`` and ``/dev`` in the upper dir take the image's owner and mode (a
    copy-up under dockerd); ``/dev/pts`` and ``/dev/shm`` go where the image has those
    directories (dockerd makes only what is missing; ``/dev/console`` and the mtab link it
    makes again in any case: an image's own mtab, a file or a link, is shadowed), and ``/proc``
    and ``/sys`` are made for an image without them. What the image holds
    is looked up once per image (:func:`_image_init`), so a create of a usual image makes no
    call here. ``docker diff`` and commit leave all of it out
    (:data:`~dockyard.containers.commit.INIT_PATHS`)."""
    image = _image_init(tuple(record.lower_dirs))
    upper = record.upper_dir
    if image.etc is not None:
        _fit_dir(os.path.join(upper, "etc"), image.etc)
    if image.dev is not None:
        _fit_dir(os.path.join(upper, "dev"), image.dev)
    for rel in image.own_dirs:
        os.rmdir(os.path.join(upper, rel))
    for rel in image.missing:
        skeleton.mkdir(os.path.join(upper, rel))
        if owner is not None:  # the remapped root's, as the rest of the init layer
            os.chown(os.path.join(upper, rel), *owner)


class _ImageInit(NamedTuple):
    """What of dockerd's init layer an image holds already (its top-most entry of each)."""

    etc: os.stat_result | None        # /etc, a directory
    dev: os.stat_result | None        # /dev, a directory
    own_dirs: tuple[str, ...]         # dev/pts, dev/shm: directories of the image's
    missing: tuple[str, ...]          # proc, sys: absent


@functools.lru_cache(maxsize=64)
def _image_init(lower_dirs: tuple[str, ...]) -> _ImageInit:
    """:class:`_ImageInit` of the image whose layers (bottom first) are ``lower_dirs``: their
    content never changes, so one look per image."""
    def entry(rel: str) -> os.stat_result | None:
        for layer in reversed(lower_dirs):
            try:
                return os.lstat(os.path.join(layer, rel))
            except OSError:
                continue
        return None

    def directory(rel: str) -> os.stat_result | None:
        st = entry(rel)
        return st if st is not None and stat.S_ISDIR(st.st_mode) else None

    return _ImageInit(directory("etc"), directory("dev"),
                      tuple(rel for rel in ("dev/pts", "dev/shm") if directory(rel)),
                      tuple(rel for rel in ("proc", "sys") if entry(rel) is None))


def _fit_dir(path: str, image: os.stat_result) -> None:
    """An init-layer directory takes the image's mode and owner (the skeleton made it 0755, the
    daemon's)."""
    if stat.S_IMODE(image.st_mode) != 0o755:
        os.chmod(path, stat.S_IMODE(image.st_mode))
    if (image.st_uid, image.st_gid) != (os.geteuid(), os.getegid()):
        with contextlib.suppress(PermissionError):  # rootless: already the daemon's own
            os.chown(path, image.st_uid, image.st_gid)


def adopt_donors_files(record: ContainerRecord, donor: ContainerRecord) -> None:
    """A ``--network container:x`` start: the joiner names x's /etc files and takes x's
    Hostname and Domainname into its Config, as dockerd 20.10's ``initializeNetworking`` —
    its inspect shows them from then on, x gone or not."""
    record.etc_dir = donor.etc_dir or str(donor.dir)
    for key in ("Hostname", "Domainname"):
        record.config[key] = donor.config.get(key) or ""


def _unstart(record: ContainerRecord, before: tuple[dict[str, Any], bool, bool]) -> None:
    """A start that failed after its init was reported leaves the record as it was."""
    state, record.has_been_started, record.manually_stopped = before
    record.state.clear()
    record.state.update(state)


def _cgroup_left(cg: Any) -> bool:
    """Whether any directory of a container's cgroup ``cg`` exists (a stat per hierarchy: a
    shim's exit pays that; a removal that failed half-way leaves the later ones)."""
    return any(os.path.isdir(path) for path in cg.paths)


def _remove_cgroup(container_id: str, cg: Any, attempts: int = 6) -> None:
    """After a shim died: its container's processes die with it (PDEATHSIG), but may take a
    moment to leave the cgroup (each ``remove`` waits some seconds for that)."""
    for attempt in range(attempts):
        try:
            if cg is not None:
                cg.remove()
            return
        except OSError as exc:
            if attempt == attempts - 1:
                log.warning("could not remove the cgroup of %s: %s", container_id, exc)


def _wait_body(code: int, error: str) -> dict[str, Any]:
    """A wait's answer, its keys in dockerd's order (ContainerWaitOKBody: Error first)."""
    return {"Error": {"Message": error} if error else None, "StatusCode": code}


def _discard(directory: Path) -> None:
    """Rename away (instant, so the name and id are free at once), delete in the background."""
    trash = directory.with_name(f".removing-{directory.name}")
    try:
        os.rename(directory, trash)
    except FileNotFoundError:
        return
    global _reaper
    _trash.put(trash)
    with _reaper_lock:
        if _reaper is None:
            _reaper = threading.Thread(target=_reap, name="container-trash", daemon=True)
            _reaper.start()


_trash: queue.SimpleQueue[Path] = queue.SimpleQueue()
_reaper: threading.Thread | None = None
_reaper_lock = threading.Lock()
_LAYOUT = ("config.v2.json", "exit.json", "hosts", "resolv.conf", "hostname",
           "upper/.dockerenv", "upper/etc/mtab",
           "upper/etc/hosts", "upper/etc/resolv.conf", "upper/etc/hostname", "upper/dev/console")
_LAYOUT_DIRS = ("upper/etc", "upper/dev/pts", "upper/dev/shm", "upper/dev", "upper/proc", "upper/sys",
                "upper", "merged", "work/work", "work")


def _reap() -> None:
    """One thread deletes removed containers' directories, one after the other."""
    while True:
        _remove_dir(_trash.get())


def _remove_dir(path: Path) -> None:
    """What a container usually leaves, entry by entry (rmtree's scans and stats cost ~2 ms of
    a busy daemon per container); anything else it finds, rmtree takes."""
    cid = path.name.removeprefix(".removing-")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:  # names relative to the directory's fd: no path objects, no lookups from /
            for name in (*_LAYOUT, f"{cid}-json.log"):
                _gone(os.unlink, name, fd)
            for name in _LAYOUT_DIRS:
                _gone(os.rmdir, name, fd)
        finally:
            os.close(fd)
        os.rmdir(path)
    except OSError:
        userns.remove_tree(path)


def _gone(remove: Callable[..., None], name: str, dir_fd: int) -> None:
    try:
        remove(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def _endpoints(networking: dict[str, Any], default_network: str = "bridge") -> dict[str, Any]:
    """The docker CLI names the default network "default", which is "bridge" (as dockerd;
    "none" for a rootless daemon)."""
    endpoints = dict(networking.get("EndpointsConfig") or {})
    if "default" in endpoints:
        endpoints[default_network] = endpoints.pop("default")
    return {**networking, "EndpointsConfig": endpoints}
