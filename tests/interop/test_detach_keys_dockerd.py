"""Detach keys read as dockerd 20.10 reads them (moby/term's ToBytes), side by side with it:
each comma-separated key one byte as written, a lower-case ``ctrl-`` name or ``DEL`` — an
empty key, ``ctrl-A``, `` a``, ``é`` refused (dockyard lower-cased, stripped and skipped empty
keys). An attach refuses them with a 400; an exec's create after its container is found and
running, with a plain 500 ('Invalid escape keys (K) provided'), its empty Cmd before either."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.slow

KEYS = ["ctrl-x,,", ",", "CTRL-A", "ctrl-A", " a", "é", "del", "ctrl-?", "DEL", "ctrl-@",
        "ctrl-\\", "a,b", "ctrl-p,ctrl-q"]


def _answer(api: Any, path: str, name: str, **kwargs: Any) -> list[Any]:
    url = api._url(path, name)
    response = api._post_json(url, **kwargs) if "data" in kwargs else \
        api._post(url, stream=True, timeout=5, **kwargs)
    status = response.status_code
    text = response.text if status >= 400 else ""  # a taken attach streams on: not read
    response.close()
    return [status, "Invalid" in text or "No exec" in text or "running" in text or "No such" in text]


def test_detach_keys_as_dockerd(both: dict[str, tuple[DockerCLI, Any]]) -> None:
    seen = {}
    for side, (cli, client) in both.items():
        api = client.api
        up = cli("run", "-d", "--pull", "never", "--network", "none", "--name", "dykeys-up",
                 "busybox", "sleep", "300")
        down = cli("create", "--pull", "never", "--network", "none", "--name", "dykeys-down",
                   "busybox", "true")
        assert up.returncode == down.returncode == 0, up.stderr + down.stderr
        try:
            seen[side] = [
                [keys, _answer(api, "/containers/{0}/attach", "dykeys-up",
                               params={"stream": 1, "stdout": 1, "detachKeys": keys}),
                 _answer(api, "/containers/{0}/exec", "dykeys-up",
                         data={"Cmd": ["true"], "DetachKeys": keys})[0]]
                for keys in KEYS]
            for name, cmd in (("dykeys-nosuch", ["true"]), ("dykeys-down", ["true"]),
                              ("dykeys-nosuch", [])):
                response = api._post_json(api._url("/containers/{0}/exec", name),
                                          data={"Cmd": cmd, "DetachKeys": "ab"})
                seen[side].append([name, cmd, response.status_code,
                                   response.text.replace(down.stdout.strip(), "ID")])
        finally:
            cli("rm", "-f", "dykeys-up", "dykeys-down")
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][2] == ["CTRL-A", [400, True], 500]
