"""``docker rename`` refused side by side with a private dockerd 20.10, whose ContainerRename
checks the names are not empty before the container is looked up, puts ``/`` before the new
name, compares it with the current one, and wraps what reserving it refuses (a bad name, shown
with its ``/``; a name in use) in 'Error when allocating new name: '."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.slow

RENAMES = [("dyren-a", "dyren-a"), ("dyren-a", "/dyren-a"), ("dyren-a", "dyren-b"),
           ("dyren-a", "/dyren-b"), ("dyren-a", "bad!name"), ("dyren-a", "x"), ("dyren-a", "/"),
           ("dyren-a", "//dyren-c"), ("dyren-a", "_x"), ("dyren-nosuch", "dyren-c"),
           ("dyren-nosuch", ""), ("dyren-a", "")]


def test_rename_refusals_as_dockerd(both: dict[str, tuple[DockerCLI, Any]]) -> None:
    seen = {}
    for side, (cli, client) in both.items():
        for name in ("dyren-a", "dyren-b"):
            made = cli("create", "--pull", "never", "--name", name, "busybox", "true")
            assert made.returncode == 0, made.stderr
        ids = {c: client.api.inspect_container(c)["Id"] for c in ("dyren-a", "dyren-b")}
        seen[side] = []
        try:
            for old, new in RENAMES:
                answer = client.api._post(client.api._url("/containers/{0}/rename", old),
                                          params={"name": new})
                body = answer.json() if answer.content else None
                text = answer.text
                for cid in ids.values():
                    text = text.replace(cid, "ID")
                seen[side].append([old, new, answer.status_code, body and text])
            ran = cli("rename", "dyren-a", "dyren-b")
            seen[side].append([ran.returncode, ran.stderr.replace(ids["dyren-b"], "ID")])
        finally:
            cli("rm", "-f", *ids.values())
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][-1] == [1, (
        'Error response from daemon: Error when allocating new name: '
        'Conflict. The container name "/dyren-b" is already in use by '
        'container "ID". You have to remove (or rename) that container '
        'to be able to reuse that name.\n'
        'Error: failed to rename container named dyren-a\n')]
