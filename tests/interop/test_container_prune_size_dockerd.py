"""``docker container prune``'s SpaceReclaimed side by side with a private dockerd 20.10: the
sum of each removed container's SizeRw (GetContainerLayerSize, what ``docker ps -s`` shows) —
its own files, a hard-linked file once, nothing of the init layer (/etc/mtab's link)."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.slow

MADE = {"dyprune-none": "true", "dyprune-file": "echo hi > /a && ln /a /b && mkdir /d"}


def test_prune_reclaims_the_containers_sizerw(both: dict[str, tuple[DockerCLI, Any]]) -> None:
    seen = {}
    for side, (cli, _client) in both.items():
        for name, script in MADE.items():
            ran = cli("run", "--pull", "never", "--name", name, "--label", "dyprune=1",
                      "busybox", "sh", "-c", script)
            assert ran.returncode == 0, ran.stderr
        sizes = cli("ps", "-a", "-s", "--filter", "label=dyprune=1", "--format", "{{.Names}} {{.Size}}")
        pruned = cli("container", "prune", "-f", "--filter", "label=dyprune=1")
        left = cli("ps", "-aq", "--filter", "label=dyprune=1")
        seen[side] = [sorted(sizes.stdout.splitlines()), pruned.returncode,
                      pruned.stdout.count("\n"), pruned.stdout.splitlines()[-1], left.stdout]
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][3] == "Total reclaimed space: 3B"
