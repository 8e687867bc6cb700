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
        path = self.dir / CONFIG_FILE
        tmp = path.with_name(CONFIG_FILE + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, directory: Path) -> ContainerRecord:
        with open(directory / CONFIG_FILE, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))
