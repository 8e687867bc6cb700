"""``docker ps --filter before=… / since=…`` side by side with a private dockerd 20.10, which
walks its list newest first: ``before`` skips the containers up to its own (that one too),
``since`` stops at its own — met only once before's is passed, so ``before=B since=B`` and
``before=B since=<newer than B>`` list what is older than B (dockyard compared creation times:
nothing). One value of each: dockerd keeps any one of several (its map's order)."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.slow

NAMES = ["dybs-1", "dybs-2", "dybs-3", "dybs-4"]  # oldest first
CASES = [["before=dybs-3"], ["since=dybs-2"], ["before=dybs-4", "since=dybs-1"],
         ["before=dybs-3", "since=dybs-3"], ["before=dybs-3", "since=dybs-4"],
         ["before=dybs-2", "since=dybs-3"], ["before=dybs-1"], ["since=dybs-4"]]


def test_before_and_since_walk_the_list(both: dict[str, tuple[DockerCLI, Any]]) -> None:
    seen = {}
    for side, (cli, _client) in both.items():
        for name in NAMES:
            made = cli("create", "--pull", "never", "--network", "none", "--name", name,
                       "busybox", "true")
            assert made.returncode == 0, made.stderr
        try:
            seen[side] = []
            for case in CASES:
                args = [arg for f in case for arg in ("--filter", f)]
                ps = cli("ps", "-a", "--filter", "name=dybs-", *args, "--format", "{{.Names}}")
                seen[side].append([case, ps.returncode, ps.stdout.split(), ps.stderr])
        finally:
            cli("rm", "-f", *NAMES)
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][4][2] == ["dybs-2", "dybs-1"]
