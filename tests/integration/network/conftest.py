"""Fixtures for the network package's integration tests: a NetworkManager on a private data
root and bridge name (so it never touches a running daemon's ``dockyard0``), container records
shaped like H1's, and busybox containers started by the real launcher in the netns ``setup``
returns. Everything made here is removed at the end: bridges, NAT rules, netns, proxies."""

from __future__ import annotations

import itertools
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from nettestkit import Record, Running, destroy, drain

from dockyard.containers.runtime import Runtime
from dockyard.containers.spec import ContainerSpec
from dockyard.network.manager import NetworkManager
from dockyard.testing.busybox import busybox_rootfs

_n = itertools.count()


@pytest.fixture(scope="session")
def busybox_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_rootfs(tmp_path_factory.mktemp("nbusybox") / "rootfs")


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    if os.geteuid() != 0:
        pytest.skip("bridge networking tests run as root")
    rt = Runtime()
    yield rt
    rt.close()



@pytest.fixture
def manager(tmp_path: Path) -> Iterator[NetworkManager]:
    mgr = NetworkManager(tmp_path / "data", bridge=f"dyt{os.getpid() % 100000}x{next(_n)}")
    yield mgr
    destroy(mgr)


@pytest.fixture
def record(tmp_path: Path) -> Callable[..., Record]:
    def make(name: str = "", **host_config: Any) -> Record:
        cid = secrets.token_hex(32)
        config = host_config.pop("config", {})
        if host_config.get("PortBindings") and "ExposedPorts" not in config:  # as the CLI's -p
            config["ExposedPorts"] = {key: {} for key in host_config["PortBindings"]}
        networks = host_config.pop("networks", None)
        rec = Record(cid, "/" + (name or f"c{next(_n)}"), tmp_path / "containers" / cid,
                     config=config, host_config=host_config)
        if networks:
            rec.network_settings = {"Networks": networks}
        return rec
    return make



@pytest.fixture
def start(runtime: Runtime, busybox_dir: Path, tmp_path: Path,
          manager: NetworkManager) -> Iterator[Callable[..., Running]]:
    """Start ``sh -c script`` for a record whose network ``manager.setup`` prepared."""
    started: list[tuple[Running, Record]] = []

    def go(rec: Record, script: str) -> Running:
        setup = manager.setup(rec)
        box = tmp_path / "boxes" / rec.id
        spec = ContainerSpec(id=f"dynet-{os.getpid()}-{next(_n)}", lower_dirs=[str(busybox_dir)],
                             upper_dir=str(box / "upper"), work_dir=str(box / "work"),
                             args=["sh", "-c", script], network=setup.netns, mounts=setup.mounts,
                             hostname=setup.hostname)
        r, w = os.pipe()
        sink: list[bytes] = []
        threading.Thread(target=drain, args=(r, sink), daemon=True).start()
        try:
            container = runtime.start(spec, stdout=w, stderr=w)
        finally:
            os.close(w)
        run = Running(container, sink)
        started.append((run, rec))
        return run

    yield go
    for run, rec in started:
        if run.container.running:
            run.container.kill()
        run.container.cleanup(10)
        manager.teardown(rec)
