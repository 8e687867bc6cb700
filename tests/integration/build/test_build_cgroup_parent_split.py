"""A relative ``--cgroup-parent`` on cgroup v1 goes below the daemon's own cgroup *in each
hierarchy*, as runc places it for dockerd 20.10's cgroupfs driver: on this host dockerd's
memory cgroup is ``/process_api/<x>`` and its others ``/``, and ``--cgroup-parent rel`` put a
container in ``memory:/process_api/<x>/rel/<id>`` and ``pids:/rel/<id>`` (2026-11-30). Here
the daemon is started in a memory cgroup and a pids cgroup of different paths, and a build's
RUN step must make its parent below each (dockerd leaves the parents; so does dockyard)."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from buildhelp import write_context

from dockyard.linux import cgroups
from dockyard.testing.daemon import DockerCLI, PlacedDaemonProcess


def _rmdir_all(paths: list[Path]) -> None:
    """Remove ``paths`` (deepest first), waiting a little for the daemon's processes to go."""
    for path in paths:
        for _ in range(100):
            try:
                path.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)


@contextlib.contextmanager
def _split_cgroups(name: str) -> Iterator[tuple[Path, Path]]:
    hier = cgroups.detected()
    memory, pids = Path(hier.v1["memory"], f"{name}-m"), Path(hier.v1["pids"], f"{name}-p")
    memory.mkdir()
    pids.mkdir()
    try:
        yield memory, pids
    finally:
        mounts = set(hier.v1.values())  # a wrong placement makes them in other hierarchies too
        _rmdir_all([Path(m, d.name, *sub) for sub in (["rel"], []) for d in (memory, pids)
                    for m in mounts])


def test_a_relative_parent_is_below_the_daemons_path_in_each_hierarchy(
        busybox_archive: Path, tmp_path: Path) -> None:
    hier = cgroups.detected()
    if hier.mode != "v1" or not {"memory", "pids"} <= hier.v1.keys() or \
            hier.v1["memory"] == hier.v1["pids"]:
        pytest.skip("needs cgroup v1 with memory and pids in hierarchies of their own")
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN true\n"})
    with _split_cgroups(f"dytest-split-{uuid.uuid4().hex[:8]}") as (memory, pids), \
            PlacedDaemonProcess([memory / "cgroup.procs", pids / "cgroup.procs"]) as daemon:
        daemon.load(busybox_archive)
        docker = DockerCLI(daemon.host)
        docker.env["DOCKER_BUILDKIT"] = "0"
        done = docker("build", "--no-cache", "--cgroup-parent", "rel", str(ctx))
        assert done.returncode == 0, done.stderr
        assert (memory / "rel").is_dir() and (pids / "rel").is_dir()
        assert not os.path.exists(Path(hier.v1["pids"], memory.name, "rel"))
