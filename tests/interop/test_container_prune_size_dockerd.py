"""``docker container prune`` side by side with a private dockerd 20.10: its SpaceReclaimed the
sum of each removed container's SizeRw (GetContainerLayerSize, what ``docker ps -s`` shows) —
its own files, a hard-linked file once, nothing of the init layer (/etc/mtab's link) —, and
the containers it deleted newest first (daemon.List's order)."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.slow

MADE = {"dyprune-none": "true", "dyprune-file": "echo hi > /a && ln /a /b && mkdir /d",
        "dyprune-last": "true"}


def test_prune_reclaims_the_containers_sizerw(both: dict[str, tuple[DockerCLI, Any]]) -> None:
    seen = {}
    for side, (cli, client) in both.items():
        for name, script in MADE.items():
            ran = cli("run", "--pull", "never", "--name", name, "--label", "dyprune=1",
                      "busybox", "sh", "-c", script)
            assert ran.returncode == 0, ran.stderr
        sizes = cli("ps", "-a", "-s", "--filter", "label=dyprune=1", "--format", "{{.Names}} {{.Size}}")
        ids = {client.api.inspect_container(name)["Id"]: name for name in MADE}
        pruned = cli("container", "prune", "-f", "--filter", "label=dyprune=1")
        left = cli("ps", "-aq", "--filter", "label=dyprune=1")
        seen[side] = [sorted(sizes.stdout.splitlines()), pruned.returncode,
                      [ids.get(line, line) for line in pruned.stdout.splitlines()], left.stdout]
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][2] == ["Deleted Containers:", "dyprune-last", "dyprune-file",
                                  "dyprune-none", "", "Total reclaimed space: 3B"]
