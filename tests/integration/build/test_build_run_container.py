"""The container a RUN step runs in, as dockerd's classic builder makes it — an ordinary
container, so it has what every container has — and what of it reaches the step's layer.

What dockerd 20.10 (``DOCKER_BUILDKIT=0``, the docker 28 CLI) did on this machine
(2026-11-30): ``docker build --cgroup-parent /P`` ran each RUN in ``/P/<id>`` of every
hierarchy (``--cgroup-parent P``: below the daemon's own cgroup), so a memory limit on the
parent bounds the step (``hierarchical_memory_limit`` in the step's ``memory.stat``). A RUN
sees its init layer's ``/.dockerenv`` (empty, 0755) and ``/etc/mtab`` → ``/proc/mounts``; its
layer has neither — unless it removed them (the whiteouts ``.wh..dockerenv`` and
``etc/.wh.mtab``; the next step sees both again) or changed one (``touch /.dockerenv``: the
file) — and in an image made ``FROM scratch`` no ``dev``, ``proc``, ``sys`` or ``etc`` either;
a step writing in ``/etc`` gives ``etc/`` the image's mode."""

from __future__ import annotations

import os
import platform
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from buildhelp import Built, write_context

from dockyard.linux import cgroups
from dockyard.testing import runprobes
from dockyard.testing.buildcompare import layer_entries
from dockyard.testing.daemon import DaemonProcess, DockerCLI

LIMIT = 96 << 20


def _limit_seen(daemon: DaemonProcess, ctx: Path, *args: str) -> int:
    docker = DockerCLI(daemon.host)
    docker.env["DOCKER_BUILDKIT"] = "0"
    done = docker("build", "--no-cache", *args, str(ctx))
    assert done.returncode == 0, done.stderr
    return runprobes.memory_limit_seen(done.stdout)


def test_each_run_goes_under_the_builds_cgroup_parent(daemon: DaemonProcess, tmp_path: Path) -> None:
    if cgroups.detected().mode != "v1":
        pytest.skip("the parent's limit is read through v1's hierarchical_memory_limit")
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": runprobes.PROBE})
    name = f"dytest-parent-{uuid.uuid4().hex[:8]}"
    with runprobes.limited_parent(f"/{name}", LIMIT):
        assert _limit_seen(daemon, ctx, "--cgroup-parent", f"/{name}") == LIMIT
        assert _limit_seen(daemon, ctx) != LIMIT  # without it: the daemon's own parent
    assert daemon.pid is not None  # a relative parent: below the daemon's own cgroup (runc's rule)
    relative = os.path.join(runprobes.own_cgroup(daemon.pid, "memory"), name)
    with runprobes.limited_parent(relative, LIMIT):
        assert _limit_seen(daemon, ctx, "--cgroup-parent", name) == LIMIT


def _names(layer: list[tuple[str, int]]) -> list[str]:
    return [name for name, _mode in layer]


def test_a_run_sees_the_init_layer_which_stays_out_of_its_layer(build: Callable[..., Built],
                                                                 client: Any) -> None:
    got = build({"Dockerfile": runprobes.INIT_FILES}, nocache=True)
    assert got.error is None, got.text
    assert "/.dockerenv\n/proc/mounts\n" in got.text
    assert got.text.split("/.dockerenv\n")[0].rsplit("\n", 1)[-1].startswith("-rwxr-xr-x ")
    x, removed, again, touched = layer_entries(client.api, str(got.image_id))[-4:]
    assert x == [("x", 0o644)]
    assert _names(removed) == [".wh..dockerenv", "etc", "etc/.wh.mtab"]
    assert again == [("again", 0o644)]
    assert touched == [(".dockerenv", 0o755)]


def test_a_run_from_scratch_leaves_no_mountpoints(build: Callable[..., Built], client: Any) -> None:
    got = build({"Dockerfile": runprobes.SCRATCH}, nocache=True)
    assert got.error is None, got.text
    x, etc = layer_entries(client.api, str(got.image_id))[-2:]
    assert x == [("x", 0o644)]
    assert etc == [("etc", 0o755), ("etc/y", 0o644)]


def test_a_run_writing_in_etc_keeps_the_images_mode(build: Callable[..., Built], client: Any) -> None:
    got = build({"Dockerfile": runprobes.ETC_MODE}, nocache=True)
    assert got.error is None, got.text
    assert layer_entries(client.api, str(got.image_id))[-1] == [("etc", 0o750), ("etc/z", 0o644)]


def test_a_mount_under_a_missing_etc_leaves_no_etc(build: Callable[..., Built], client: Any) -> None:
    """BuildKit's stub rule (a RUN --mount's target and missing parents go again when empty)
    holds over the init layer: the /etc the target needs is the image's to lack."""
    got = build({"Dockerfile": "FROM scratch\nCOPY --from=busybox /bin/busybox /bin/busybox\n"
                 "RUN --mount=type=tmpfs,target=/etc/cache/d [\"/bin/busybox\", \"true\"]\n"},
                nocache=True)
    assert got.error is None, got.text
    assert _names(layer_entries(client.api, str(got.image_id))[-1]) == ["bin", "bin/busybox"]


def test_a_run_with_the_hosts_network_has_the_hosts_name(build: Callable[..., Built]) -> None:
    """dockerd names a host-network container after the host, a build's RUN too (its
    ``hostname``, /etc/hostname and ``HOSTNAME``); with its own network, the short id."""
    dockerfile = "FROM busybox\nRUN echo \"<$(hostname) $(cat /etc/hostname) $HOSTNAME>\"\n"
    host = platform.node()
    got = build({"Dockerfile": dockerfile}, nocache=True, network_mode="host")
    assert got.error is None, got.text
    assert f"<{host} {host} {host}>" in got.text
    own = build({"Dockerfile": dockerfile}, nocache=True)
    cid = own.text.split(" ---> Running in ")[1][:12]
    assert f"<{cid} {cid} {cid}>" in own.text
