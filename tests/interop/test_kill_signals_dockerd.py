"""``docker kill -s`` / ``POST /containers/{id}/kill?signal=`` as a private dockerd 20.10 reads
the signal: a name or any nonzero integer is taken (400 ``Invalid signal`` otherwise, before
the container is looked up); a number Linux has no signal for (32, 33, above 64, negative —
shown as the unsigned 64-bit number) is dockerd's plain 500 once the container is found,
running or not."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SIGNALS = ["99", "32", "-1", "+9", "0", "x", "RTMIN+15", "RTMIN+16", "RTMIN+0", "RTMAX-15", "CLD", " 9", " KILL",
           "UNUSED"]


@pytest.fixture
def sleepers(both: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A running container "kill-run" and a created one "kill-made" in each daemon."""
    for docker, _client in both.values():
        assert docker("run", "-d", "--name", "kill-run", "--network", "none", "busybox",
                      "sleep", "300").returncode == 0
        assert docker("create", "--name", "kill-made", "--network", "none", "busybox",
                      "true").returncode == 0
    yield both
    for docker, _client in both.values():
        docker("rm", "-f", "kill-run", "kill-made")


def _kill(client: Any, name: str, value: str) -> tuple[int, str]:
    api = client.api
    response = api._post(api._url("/containers/{0}/kill", name), params={"signal": value})
    message = json.loads(response.text)["message"] if response.text else ""
    return response.status_code, re.sub("[0-9a-f]{64}", "<id>", message)


@pytest.mark.parametrize("value", SIGNALS)
def test_kill_signals_read_as_dockerd(sleepers: dict[str, Any], value: str) -> None:
    answers = {side: [_kill(client, name, value) for name in ("kill-made", "nosuch-kill", "kill-run")]
               for side, (_docker, client) in sleepers.items()}
    assert answers["dockyard"] == answers["dockerd"]


def test_the_docker_cli_says_what_dockerd_says(sleepers: dict[str, Any]) -> None:
    answers = {side: [(d.returncode, d.stderr) for d in
                      (docker("kill", "-s", s, "kill-run") for s in ("99", "-1", "32"))]
               for side, (docker, _client) in sleepers.items()}
    assert answers["dockyard"] == answers["dockerd"]
    words = "The linux daemon does not support signal 18446744073709551615"
    assert answers["dockerd"][1] == (1, f"Error response from daemon: Cannot kill container: kill-run: {words}\n")
