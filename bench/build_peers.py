"""Peers of ``bench/build.py``: the same scenarios on a private dockerd (Debian's docker.io
20.10), with its classic builder (``DOCKER_BUILDKIT=0``: docker-py's ``POST /build``, as the
dockyard side is driven) and with BuildKit (Debian's docker 20.10 CLI, ``DOCKER_BUILDKIT=1``;
the CLI's own start-up is part of its figure, as for a user). buildah and podman get a row
when installed (``buildah bud`` / ``podman build``, their own storage under a temp root).

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


def dockerd_figures(app: Path, big: Path, repeats: int) -> dict[str, dict[str, Figure]]:
    """Classic and BuildKit rows from one private dockerd."""
    from dockyard.testing.dockerd import load_busybox, start_dockerd, stop_dockerd

    from .build import TAG, run_scenarios

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
            env = {**os.environ, "DOCKER_HOST": daemon.host, "DOCKER_BUILDKIT": "1",
                   "DOCKER_CONFIG": str(daemon.root / "cli")}
            side = CliSide("BuildKit", [DOCKER_2010, "build", "-q", "--network", "none"], env,
                           [[DOCKER_2010, "rmi", "-f", TAG], [DOCKER_2010, "builder", "prune", "-af"]])
            peers["BuildKit"] = run_scenarios(side, app, big, repeats)
        return peers
    finally:
        stop_dockerd(daemon)


def tool_figures(tool: str, app: Path, big: Path, repeats: int) -> dict[str, Figure]:
    """buildah or podman, with storage in a temp root (never the system's)."""
    from .build import TAG, run_scenarios

    binary = shutil.which(tool)
    if binary is None:
        raise Unsupported(f"{tool} not installed")
    with tempfile.TemporaryDirectory(prefix=f"bench-{tool}-") as root:
        storage = ["--root", f"{root}/storage", "--runroot", f"{root}/run"]
        verb = "bud" if tool == "buildah" else "build"
        side = CliSide(tool, [binary, *storage, verb, "--network", "none", "-q"], dict(os.environ),
                       [[binary, *storage, "rmi", "-f", TAG]])
        return run_scenarios(side, app, big, repeats)


def peer_figures(app: Path, big: Path, repeats: int) -> dict[str, dict[str, Figure]]:
    """Every peer found on the machine; a missing one is a row that says why."""
    peers: dict[str, dict[str, Figure]] = {}
    try:
        peers.update(dockerd_figures(app, big, repeats))
    except Unsupported as exc:
        peers["dockerd classic"] = {"cold": str(exc)}
    for tool in ("buildah", "podman"):
        try:
            peers[tool] = tool_figures(tool, app, big, repeats)
        except Unsupported:
            continue  # not installed: no column
    return peers
