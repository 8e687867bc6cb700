"""Fixtures for the runtime's integration tests: a busybox rootfs (the shared
``dockyard.testing.busybox`` image), one launcher per module, and a ``run`` helper that starts
a container, collects its stdout/stderr and exit status, and cleans up."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from containerprobe import Result, collect

from dockyard.containers.runtime import Runtime
from dockyard.containers.spec import ContainerSpec
from dockyard.linux import cgroups
from dockyard.testing.busybox import busybox_rootfs

_ids = itertools.count()


@pytest.fixture(scope="session")
def busybox_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_rootfs(tmp_path_factory.mktemp("busybox") / "rootfs")


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    if os.geteuid() != 0:
        pytest.skip("the runtime integration tests run as root (rootless has its own test)")
    rt = Runtime()
    yield rt
    rt.close()


@pytest.fixture
def make_spec(tmp_path: Path, busybox_dir: Path) -> Callable[..., ContainerSpec]:
    def make(args: list[str], **kw: Any) -> ContainerSpec:
        n = next(_ids)
        box = tmp_path / f"c{n}"
        return ContainerSpec(id=f"dytest-{os.getpid()}-{n}", lower_dirs=[str(busybox_dir)],
                             upper_dir=str(box / "upper"), work_dir=str(box / "work"),
                             args=args, **kw)
    return make


@pytest.fixture
def run(runtime: Runtime, make_spec: Callable[..., ContainerSpec]) -> Callable[..., Result]:
    def go(script: str, **kw: Any) -> Result:
        return collect(runtime, make_spec(["sh", "-c", script], **kw))
    return go


@pytest.fixture(scope="session", autouse=True)
def no_cgroup_left_behind() -> Iterator[None]:
    """Every container these tests start has a ``dytest-<pid>-`` id; none may keep a cgroup —
    after a grace of five seconds, as the plugin's check gives: the last test's shim may still
    be removing its container's (a run ending with this directory's last test saw that)."""
    yield
    prefix = f"dytest-{os.getpid()}-"
    roots = {os.path.join(m, "dockyard") for m in cgroups.detect().v1.values()}

    def left() -> list[str]:
        return [os.path.join(r, d) for r in roots if os.path.isdir(r)
                for d in os.listdir(r) if d.startswith(prefix)]

    deadline = time.monotonic() + 5
    while left() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left(), f"cgroups left behind: {left()}"
