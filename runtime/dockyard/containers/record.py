"""The container record: everything the daemon knows about one container, persisted so a
restarted daemon finds it again.

On disk (one directory per container, as dockerd's)::

    <data-root>/containers/<id>/
        config.v2.json     this record (temp → rename, no fsync: a crash loses at most the
                           last change; state is recomputed from the shim at re-adoption)
        <id>-json.log      Docker json-file log, written by the shim
        exit.json          the shim's exit report (atomic)
        shim.sock          the shim's socket while it runs
        upper/ work/ merged/   the writable overlay layer, its workdir, the mountpoint
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..store.timefmt import ZERO_TIME

CONFIG_FILE = "config.v2.json"


def initial_state() -> dict[str, Any]:
    return {"Status": "created", "Running": False, "Paused": False, "Restarting": False,
            "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "",
            "StartedAt": ZERO_TIME, "FinishedAt": ZERO_TIME}


@dataclass
class ContainerRecord:
    id: str
    name: str
    image: str
    image_id: str
    config: dict[str, Any]
    host_config: dict[str, Any]
    created: str
    dir: Path
    lower_dirs: list[str]
    state: dict[str, Any] = field(default_factory=initial_state)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    network_settings: dict[str, Any] = field(default_factory=dict)
    restart_count: int = 0
    has_been_started: bool = False
    manually_stopped: bool = False
    spec_mounts: list[dict[str, Any]] = field(default_factory=list)  # resolved runtime mounts
    upper_dir: str = ""
    work_dir: str = ""
    rootfs: str = ""
    log_path: str = ""
    cgroup_parent: dict[str, Any] | None = None
    """Where the last start put the container's cgroup: ``{"given": <--cgroup-parent, or the
    daemon's>, "resolved": <cgroups.Parent>}`` (``create.cgroup_parent``); ``None`` before
    a start, and in a record an older daemon wrote."""
    etc_dir: str = ""
    """Whose ``resolv.conf``, ``hostname`` and ``hosts`` the container has when they are not
    its own: a ``--network container:x`` joiner's are x's (x's own or, x a joiner too, the
    ones x has), set at each start as dockerd 20.10's ``initializeNetworkingPaths`` copies
    x's paths, and kept when x has gone; "" for a container with its own."""
    links: list[list[str]] = field(default_factory=list)
    """Its legacy links on the default bridge, in the order registered: ``[alias, child id,
    child name]`` (``containers.links.Link``; the name as last seen, for a removed child)."""

    def __post_init__(self) -> None:
        self.dir = Path(self.dir)
        self.upper_dir = self.upper_dir or str(self.dir / "upper")
        self.work_dir = self.work_dir or str(self.dir / "work")
        self.rootfs = self.rootfs or str(self.dir / "merged")
        self.log_path = self.log_path or str(self.dir / f"{self.id}-json.log")

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def running(self) -> bool:
        return bool(self.state["Running"])

    def to_dict(self) -> dict[str, Any]:
        """Shallow (json.dump copies anyway); asdict's deep copy costs ~1 ms per save."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["dir"] = str(self.dir)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContainerRecord:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, durable: bool = False) -> None:
        """Atomic replace of config.v2.json; ``durable`` also fsyncs (at create)."""
        _write(self.dir / CONFIG_FILE, json.dumps(self.to_dict()), durable)

    def snapshot(self) -> tuple[Path, str]:
        """What :class:`Saver` writes: the path and the record as it is now."""
        return self.dir / CONFIG_FILE, json.dumps(self.to_dict())

    @classmethod
    def load(cls, directory: Path) -> ContainerRecord:
        with open(directory / CONFIG_FILE, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))


def _write(path: Path, text: str, durable: bool = False) -> None:
    tmp = path.with_name(CONFIG_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_quietly(path: Path, text: str) -> None:
    try:
        _write(path, text)
    except FileNotFoundError:
        pass  # removed meanwhile


class Saver:
    """Saves in order on one thread, so that an exit need not wait for its save: a save costs
    ~0.3–1 ms of file system work (the rename over the old file), and an exit's state is also
    in the shim's ``exit.json``, which a restarted daemon reads. A start waits for its own
    save (``wait``): a daemon killed right after must find the container running — written
    on the caller's thread when nothing is queued (the order holds: the lock is held, so
    nothing queued meanwhile is written before it). ``flush`` (daemon stop) waits for every
    write."""

    def __init__(self) -> None:
        self._queue: list[tuple[int, Path, str]] = []
        self._cv = threading.Condition()
        self._queued = self._written = 0
        self._thread: threading.Thread | None = None

    def save(self, record: ContainerRecord, wait: bool = False) -> None:
        path, text = record.snapshot()
        with self._cv:
            if wait and self._written == self._queued:
                _write_quietly(path, text)  # nothing queued nor being written: no thread hop
                return
            self._queued += 1
            seq = self._queued
            self._queue.append((seq, path, text))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="container-records",
                                                daemon=True)
                self._thread.start()
            self._cv.notify_all()
            if wait:
                self._cv.wait_for(lambda: self._written >= seq)

    def _run(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: bool(self._queue))
                seq, path, text = self._queue.pop(0)
            try:
                _write_quietly(path, text)
            finally:
                with self._cv:
                    self._written = seq
                    self._cv.notify_all()

    def flush(self, timeout: float = 10.0) -> None:
        with self._cv:
            self._cv.wait_for(lambda: self._written >= self._queued, timeout)

