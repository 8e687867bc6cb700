"""``POST /containers/{id}/update`` side by side with a private real dockerd 20.10: its
``Warnings`` is null when there is none (a list when there is one, as the blkio module
checks), and the docker CLI and docker-py take either."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow


def test_an_update_without_warnings_answers_null(both: dict[str, Any]) -> None:
    seen = {}
    for name, (cli, client) in both.items():
        c = client.containers.run("busybox", ["sleep", "60"], detach=True, network_mode="none",
                                  name="updatecheck")
        try:
            answers = [client.api.update_container(c.id, cpu_shares=512),
                       client.api.update_container(c.id, restart_policy={"Name": "no"})]
            done = cli("update", "--cpu-shares", "256", "updatecheck")
            seen[name] = (answers, done.returncode, done.stdout, done.stderr)
        finally:
            c.remove(force=True)
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"] == ([{"Warnings": None}] * 2, 0, "updatecheck\n", "")
