"""Peers of ``bench/build.py``: the same scenarios on a private dockerd (Debian's docker.io
20.10), with its classic builder (``DOCKER_BUILDKIT=0``: docker-py's ``POST /build``, as the
dockyard side is driven) and with BuildKit (Debian's docker 20.10 CLI, ``DOCKER_BUILDKIT=1``;
the CLI's own start-up is part of its figure, as for a user); with ``DOCKYARD_BENCH_DOCKERD``
naming a newer dockerd (sid's 28.5.2 unpacked as docs/fidelity.md shows), its BuildKit too; then
``buildah bud`` and ``podman build`` when installed (Debian's buildah 1.28, podman 4.3).

buildah and podman run offline on private storage under a temp root (``--root``, ``--runroot``,
podman's ``--tmpdir``, events in a file there, never the system's storage): the busybox base is
the same locally made image, loaded from its ``docker save`` archive (``buildah pull
docker-archive:…``, ``podman load``), and builds never pull (``--pull=never``). Both use runc
(Debian's crun refuses this kernel's hybrid cgroup layout) and cache layers (``--layers``:
buildah's default is off, podman's on), so "full cache" means the same for every peer. A cold
build starts from an empty store plus busybox (every image removed, busybox loaded again,
untimed). Afterwards every container and image is removed, anything still mounted under the
root unmounted, and the root deleted.

RUN steps use ``--network none`` everywhere: the private dockerd has no bridge.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .harness import Figure, Unsupported

DOCKER_2010 = "/usr/bin/docker"


@dataclass
class DockerdClassicSide:
    client: Any
    label: str = "dockerd classic"

    def build(self, context: Path) -> None:
        from .build import TAG

        for message in self.client.api.build(path=str(context), tag=TAG, decode=True, rm=True,
                                             network_mode="none"):
            if "error" in message:
                raise RuntimeError(message["error"])

    def reset(self) -> None:
        """The classic cache is the tagged image's parent chain: removing the tag drops it."""
        import docker.errors

        from .build import TAG

        try:
            self.client.api.remove_image(TAG)
        except docker.errors.NotFound:
            pass
        self.client.api.prune_builds()


@dataclass
class CliSide:
    """A builder driven through its command line (BuildKit via docker, buildah, podman)."""

    label: str
    argv: list[str]
    env: dict[str, str]
    reset_argv: list[list[str]]

    def build(self, context: Path) -> None:
        from .build import TAG

        result = subprocess.run([*self.argv, "-t", TAG, str(context)], env=self.env,
                                capture_output=True, text=True, check=False)
        if result.returncode:
            raise RuntimeError(result.stderr.strip()[-300:])

    def reset(self) -> None:
        for argv in self.reset_argv:
            subprocess.run(argv, env=self.env, capture_output=True, check=False)


def buildkit_side(daemon: Any, label: str) -> CliSide:
    """dockerd's BuildKit through Debian's docker 20.10 CLI (it drives a newer dockerd too)."""
    from .build import TAG

    env = {**os.environ, "DOCKER_HOST": daemon.host, "DOCKER_BUILDKIT": "1",
           "DOCKER_CONFIG": str(daemon.root / "cli")}
    return CliSide(label, [DOCKER_2010, "build", "-q", "--network", "none"], env,
                   [[DOCKER_2010, "rmi", "-f", TAG], [DOCKER_2010, "builder", "prune", "-af"]])


def dockerd_figures(app: Path, big: Path, repeats: int) -> dict[str, dict[str, Figure]]:
    """Classic and BuildKit rows from one private dockerd."""
    from dockyard.testing.dockerd import load_busybox, start_dockerd, stop_dockerd

    from .build import run_scenarios

    if os.geteuid() != 0 or not shutil.which("dockerd"):
        raise Unsupported("dockerd needs root and Debian's docker.io")
    daemon = start_dockerd()
    try:
        load_busybox(daemon)
        client = daemon.client()
        try:
            peers = {"dockerd classic": run_scenarios(DockerdClassicSide(client), app, big, repeats)}
        finally:
            client.close()
        if os.path.exists(DOCKER_2010):
            peers["BuildKit"] = run_scenarios(buildkit_side(daemon, "BuildKit"), app, big, repeats)
        return peers
    finally:
        stop_dockerd(daemon)


def newer_buildkit_figures(binary: str, app: Path, big: Path, repeats: int) -> dict[str, dict[str, Figure]]:
    """A BuildKit row from another dockerd (``DOCKYARD_BENCH_DOCKERD``, e.g. sid's 28.5.2 unpacked
    as docs/fidelity.md shows; its directory first on ``PATH`` for its containerd)."""
    from dockyard.testing.dockerd import load_busybox, start_dockerd, stop_dockerd

    from .build import run_scenarios

    env = {**os.environ, "PATH": f"{Path(binary).parent}:{os.environ.get('PATH', '')}"}
    daemon = start_dockerd(binary=binary, env=env)
    try:
        load_busybox(daemon)
        client = daemon.client()
        try:
            version = str(client.version()["Version"]).split("+")[0]
        finally:
            client.close()
        label = f"BuildKit ({version})"
        return {label: run_scenarios(buildkit_side(daemon, label), app, big, repeats)}
    finally:
        stop_dockerd(daemon)


@dataclass
class ToolStore:
    """buildah's or podman's private storage under ``root``, with busybox loaded."""

    tool: str
    binary: str
    root: Path
    archive: Path

    @property
    def global_args(self) -> list[str]:
        args = ["--root", f"{self.root}/storage", "--runroot", f"{self.root}/run",
                "--storage-driver", "overlay"]
        if self.tool == "podman":
            args += ["--tmpdir", f"{self.root}/tmp", "--events-backend", "file",
                     "--cgroup-manager", "cgroupfs", "--runtime", RUNC,
                     "--network-config-dir", f"{self.root}/net"]
        return [self.binary, *args]

    def run(self, *argv: str) -> None:
        result = subprocess.run([*self.global_args, *argv], capture_output=True, text=True, check=False)
        if result.returncode:
            raise RuntimeError(f"{self.tool} {argv[0]}: {result.stderr.strip()[-300:]}")

    def load_busybox(self) -> None:
        if self.tool == "buildah":
            self.run("pull", "--quiet", f"docker-archive:{self.archive}")
        else:
            self.run("load", "--quiet", "-i", str(self.archive))

    def empty(self) -> None:
        """Every container and image gone (the cache with them), busybox back."""
        self.run("rm", "--all", *(["--force"] if self.tool == "podman" else []))
        self.run("rmi", "--all", "--force")
        self.load_busybox()

    def side(self) -> CliSide:
        verb = ["bud"] if self.tool == "buildah" else ["build"]
        runtime = ["--runtime", RUNC] if self.tool == "buildah" else []
        argv = [*self.global_args, *verb, *runtime, "--layers", "--pull=never", "--network", "none", "-q"]
        return ToolSide(self.tool, argv, dict(os.environ), [], self)


@dataclass
class ToolSide(CliSide):
    store: ToolStore | None = None

    def reset(self) -> None:
        assert self.store is not None
        self.store.empty()


RUNC = "/usr/sbin/runc"


def tool_figures(tool: str, app: Path, big: Path, repeats: int) -> dict[str, Figure]:
    """buildah or podman on private storage (see the module docstring), cleaned up after."""
    from dockyard.testing.busybox import build_busybox_archive
    from dockyard.testing.dockerd import unmount_under

    from .build import run_scenarios

    binary = shutil.which(tool)
    if binary is None:
        raise Unsupported(f"{tool} not installed")
    if os.geteuid() != 0 or not os.path.exists(RUNC):
        raise Unsupported(f"{tool}: needs root and runc")
    root = Path(tempfile.mkdtemp(prefix=f"bench-{tool}-", dir="/tmp"))
    (root / "archive").mkdir()
    store = ToolStore(tool, binary, root, build_busybox_archive(root / "archive", "busybox:latest"))
    try:
        store.load_busybox()
        return run_scenarios(store.side(), app, big, repeats)
    except RuntimeError as exc:
        raise Unsupported(str(exc)) from None
    finally:
        for argv in (["rm", "--all", *(["--force"] if tool == "podman" else [])], ["rmi", "--all", "--force"]):
            subprocess.run([*store.global_args, *argv], capture_output=True, check=False)
        unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)


def peer_figures(app: Path, big: Path, repeats: int) -> dict[str, dict[str, Figure]]:
    """Every peer found on the machine; a missing one is a row that says why."""
    peers: dict[str, dict[str, Figure]] = {}
    try:
        peers.update(dockerd_figures(app, big, repeats))
    except Unsupported as exc:
        peers["dockerd classic"] = {"cold": str(exc)}
    newer = os.environ.get("DOCKYARD_BENCH_DOCKERD")
    if newer and os.path.exists(DOCKER_2010):
        peers.update(newer_buildkit_figures(newer, app, big, repeats))
    for tool in ("buildah", "podman"):
        if shutil.which(tool) is None:
            continue  # not installed: no column
        try:
            peers[tool] = tool_figures(tool, app, big, repeats)
        except Unsupported as exc:
            peers[tool] = {"cold": str(exc)}
    return peers
