"""A real Engine API server on a unix socket over a minimal engine: a stand-in for the container
manager (``get`` only, with the record fields exec/stats/archive read) in front of containers
started with the low-level Runtime — so these endpoints are tested without the lifecycle code."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tornado.netutil import bind_unix_socket

from dockyard.api.app import make_app
from dockyard.containers.execs import ExecManager
from dockyard.containers.runtime import Container, Runtime
from dockyard.containers.spec import ContainerSpec
from dockyard.errors import NotFound
from dockyard.testing.apiserver import ThreadedServer


@dataclass
class ContainerRecord:
    """The fields of H1's record that exec reads."""

    id: str
    name: str
    config: dict[str, Any]
    host_config: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    lower_dirs: list[str] = field(default_factory=list)
    upper_dir: str = ""
    work_dir: str = ""


class Containers:
    """Stand-in for ``engine.containers``: records by id; the shared runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.records: dict[str, ContainerRecord] = {}
        self.daemon_seccomp = ("", "")  # a daemon without --seccomp-profile
        self.default_ulimits: dict[str, dict[str, Any]] = {}  # nor --default-ulimit

    def get(self, name: str) -> ContainerRecord:
        for record in self.records.values():
            if record.id.startswith(name) or record.name.lstrip("/") == name.lstrip("/"):
                return record
        raise NotFound(f"No such container: {name}")


class EngineStandIn:
    def __init__(self, runtime: Runtime) -> None:
        self.containers = Containers(runtime)
        self.execs = ExecManager(self)


class Server:
    def __init__(self, engine: Any, path: Path) -> None:
        self.path = str(path)
        self.served = ThreadedServer(make_app(engine), [bind_unix_socket(self.path)])

    def close(self) -> None:
        self.served.close()


def start_box(engine: EngineStandIn, base: Path, rootfs: Path, name: str,
              config: dict[str, Any] | None = None, **spec: Any) -> tuple[ContainerRecord, Container]:
    """Start a container from ``rootfs`` and register its record under ``name``."""
    cid = os.urandom(32).hex()
    spec.setdefault("args", ["sleep", "1000"])
    container = engine.containers.runtime.start(ContainerSpec(
        id=cid, lower_dirs=[str(rootfs)], upper_dir=str(base / name / "upper"),
        work_dir=str(base / name / "work"), **spec))
    record = ContainerRecord(id=cid, name=f"/{name}", config=config or {},
                             state={"Running": True, "Pid": container.pid, "Status": "running"})
    record.lower_dirs = [str(rootfs)]
    record.upper_dir, record.work_dir = str(base / name / "upper"), str(base / name / "work")
    engine.containers.records[cid] = record
    return record, container
