"""``POST /containers/{id}/resize`` and ``/unpause`` by a container's state, side by side with
a private dockerd 20.10 (API 1.41; a link's name answers the same: test_links_dockerd.py).

dockerd 20.10's, recorded here: a resize reads ``h`` then ``w`` with Go's ``strconv.Atoi``
before it looks the container up (400 ``strconv.Atoi: parsing "x": invalid syntax``, ``""``
when one is missing), refuses a container that does not run (409 ``Container <id> is not
running``: created or stopped) and answers a running one — paused too, tty or not, a size
Go's uint16 wraps — 200 with no body and no Content-Type, told as a ``resize`` event with the
sizes given. An unpause of a container that is not paused (running, created,
stopped) is a plain error: 500 ``Container <id> is not paused``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest

NAMES = ("dyrs-plain", "dyrs-tty", "dyrs-paused", "dyrs-made", "dyrs-done")


@pytest.fixture
def made(both: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """On each side: running (tty or not), paused, created, stopped."""
    for cli, _client in both.values():
        for args in (("run", "-d", "--name", "dyrs-plain"), ("run", "-d", "-t", "--name", "dyrs-tty"),
                     ("run", "-d", "-t", "--name", "dyrs-paused"), ("create", "--name", "dyrs-made"),
                     ("run", "-d", "--name", "dyrs-done")):
            done = cli(*args, "--pull", "never", "busybox", "sleep", "300")
            assert done.returncode == 0, done.stderr
        for args in (("pause", "dyrs-paused"), ("stop", "-t", "0", "dyrs-done")):
            assert cli(*args).returncode == 0
    yield both
    for cli, _client in both.values():
        cli("unpause", "dyrs-paused")
        cli("rm", "-f", *NAMES)


def _answer(api: docker.APIClient, name: str, route: str, query: dict[str, Any] | None,
            ids: dict[str, str]) -> list[Any]:
    """Status, Content-Type and body (the message of a JSON one, containers' ids as names)."""
    done = api._post(api._url("/containers/{0}" + route, name), params=query)
    body = done.json()["message"] if done.text else ""
    for other, cid in ids.items():
        body = body.replace(cid, f"<{other}>")
    return [done.status_code, done.headers.get("Content-Type"), body]


def test_resize_and_unpause_by_state_as_dockerd(made: dict[str, Any]) -> None:
    seen = {}
    for side, (cli, _client) in made.items():
        api = docker.APIClient(base_url=cli.env["DOCKER_HOST"], version="1.41", timeout=30)
        ids = {name: api.inspect_container(name)["Id"] for name in NAMES}
        since = time.time()
        sized = {name: _answer(api, name, "/resize", {"h": 30, "w": 90}, ids) for name in NAMES}
        sized["wrapped"] = _answer(api, "dyrs-tty", "/resize", {"h": -1, "w": 70000}, ids)
        refused = [_answer(api, "dyrs-tty", "/resize", query, ids) for query in (
            {"h": "x", "w": 90}, {"h": 30, "w": "9.5"}, {"w": 90}, {"h": "x"})]
        refused.append(_answer(api, "nope", "/resize", {"h": "x", "w": 1}, ids))
        refused.append(_answer(api, "nope", "/resize", {"h": 1, "w": 1}, ids))
        unpaused = {name: _answer(api, name, "/unpause", None, ids) for name in NAMES}
        told = [[e["Actor"]["Attributes"][key] for key in ("name", "height", "width")]
                for e in api.events(since=since, until=time.time() + 0.5, decode=True,
                                    filters={"event": "resize"})]
        said = cli("unpause", "dyrs-plain")
        seen[side] = [sized, refused, unpaused,
                      [said.returncode, said.stderr.replace(ids["dyrs-plain"], "<id>")], told]
        api.close()
    assert seen["dockyard"] == seen["dockerd"]
    sized, refused, unpaused, said, told = seen["dockerd"]
    assert sized["dyrs-plain"] == sized["dyrs-paused"] == sized["wrapped"] == [200, None, ""]
    assert sized["dyrs-done"] == [409, "application/json", "Container <dyrs-done> is not running"]
    assert sized["dyrs-made"] == [409, "application/json", "Container <dyrs-made> is not running"]
    assert [answer[2] for answer in refused[:3]] == [
        'strconv.Atoi: parsing "x": invalid syntax', 'strconv.Atoi: parsing "9.5": invalid syntax',
        'strconv.Atoi: parsing "": invalid syntax']
    assert [answer[0] for answer in refused] == [400, 400, 400, 400, 400, 404]
    assert unpaused["dyrs-made"] == [500, "application/json", "Container <dyrs-made> is not paused"]
    assert unpaused["dyrs-paused"] == [204, None, ""]
    assert said == [1, "Error response from daemon: Container <id> is not paused\n"]
    assert told == [["dyrs-plain", "30", "90"], ["dyrs-tty", "30", "90"], ["dyrs-paused", "30", "90"],
                    ["dyrs-tty", "-1", "70000"]]
