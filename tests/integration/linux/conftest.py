"""Fixtures for the runtime's integration tests: a busybox rootfs (the shared
``dockyard.testing.busybox`` image), one launcher per module, and a ``run`` helper that starts
a container, collects its stdout/stderr and exit status, and cleans up."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dockyard.containers.runtime import ExitStatus, Runtime
from dockyard.containers.spec import ContainerSpec
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


@dataclass
class Result:
    status: ExitStatus
    out: str
    err: str

    @property
    def code(self) -> int:
        return self.status.exit_code


def _drain(fd: int, sink: list[bytes]) -> None:
    while chunk := os.read(fd, 65536):
        sink.append(chunk)
    os.close(fd)


def collect(rt: Runtime, spec: ContainerSpec, timeout: float = 20) -> Result:
    """Start ``spec``, read its output to EOF, return exit status and output."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sinks: tuple[list[bytes], list[bytes]] = ([], [])
    readers = [threading.Thread(target=_drain, args=(fd, sink))
               for fd, sink in ((out_r, sinks[0]), (err_r, sinks[1]))]
    for t in readers:
        t.start()
    try:
        container = rt.start(spec, stdout=out_w, stderr=err_w)
    finally:
        os.close(out_w)
        os.close(err_w)
        for t in readers:
            t.join(timeout)
    status = container.cleanup(timeout)
    return Result(status, b"".join(sinks[0]).decode(), b"".join(sinks[1]).decode())


@pytest.fixture
def run(runtime: Runtime, make_spec: Callable[..., ContainerSpec]) -> Callable[..., Result]:
    def go(script: str, **kw: Any) -> Result:
        return collect(runtime, make_spec(["sh", "-c", script], **kw))
    return go
