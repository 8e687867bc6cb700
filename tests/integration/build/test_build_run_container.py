"""The container a RUN step runs in, as dockerd's classic builder makes it — an ordinary
container, so it has what every container has — and what of it reaches the step's layer.

What dockerd 20.10 (``DOCKER_BUILDKIT=0``, the docker 28 CLI) did on this machine
(2026-11-30): ``docker build --cgroup-parent /P`` ran each RUN in ``/P/<id>`` of every
hierarchy (``--cgroup-parent P``: below the daemon's own cgroup), so a memory limit on the
parent bounds the step (``hierarchical_memory_limit`` in the step's ``memory.stat``)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from buildhelp import write_context

from dockyard.linux import cgroups
from dockyard.testing.daemon import DaemonProcess, DockerCLI

LIMIT = 96 << 20
PROBE = "FROM busybox\nRUN grep hierarchical_memory_limit /sys/fs/cgroup/memory/memory.stat\n"


def _own_cgroup(pid: int, controller: str) -> str:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _num, names, path = line.split(":", 2)
        if controller in names.split(","):
            return path
    return "/"


@contextlib.contextmanager
def _parent(path: str) -> Iterator[None]:
    """A v1 memory cgroup ``path`` (from the root) limited to LIMIT; it and what a build made of
    it in the other hierarchies removed after."""
    memory = Path(cgroups.detected().v1["memory"], path.lstrip("/"))
    memory.mkdir()
    try:
        (memory / "memory.limit_in_bytes").write_text(str(LIMIT))
        yield
    finally:
        for mount in {*cgroups.detected().v1.values()}:
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(os.path.join(mount, path.lstrip("/")))


def _limit_seen(daemon: DaemonProcess, ctx: Path, *args: str) -> int:
    docker = DockerCLI(daemon.host)
    docker.env["DOCKER_BUILDKIT"] = "0"
    done = docker("build", "--no-cache", *args, str(ctx))
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("hierarchical_memory_limit"))
    return int(line.split()[1])


def test_each_run_goes_under_the_builds_cgroup_parent(daemon: DaemonProcess, tmp_path: Path) -> None:
    if cgroups.detected().mode != "v1":
        pytest.skip("the parent's limit is read through v1's hierarchical_memory_limit")
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": PROBE})
    name = f"dytest-parent-{uuid.uuid4().hex[:8]}"
    with _parent(f"/{name}"):
        assert _limit_seen(daemon, ctx, "--cgroup-parent", f"/{name}") == LIMIT
        assert _limit_seen(daemon, ctx) != LIMIT  # without it: the daemon's own parent
    assert daemon.pid is not None  # a relative parent: below the daemon's own cgroup (runc's rule)
    relative = os.path.join(_own_cgroup(daemon.pid, "memory"), name)
    with _parent(relative):
        assert _limit_seen(daemon, ctx, "--cgroup-parent", name) == LIMIT
