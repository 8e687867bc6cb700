"""A push's credentials read side by side with a private dockerd 20.10: without
``X-Registry-Auth`` its postImagesPush decodes the body as JSON credentials, and a body that
gives none is its 400 ``Bad parameters and missing X-Registry-Auth: …`` in encoding/json's
words (empty: ``EOF``; a form's body, which ParseForm has read, too) before the push begins —
dockyard pushed anonymously; a header that does not decode is anonymous, no 400. The image is
named for a loopback port nothing listens on: a push that begins fails to connect."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.slow

NAME = "127.0.0.1:1/dypush"
BODIES: list[tuple[dict[str, str], bytes]] = [
    ({}, b""), ({"Content-Type": "application/json"}, b"xx"), ({"Content-Type": "application/json"}, b"{"),
    ({"Content-Type": "application/json"}, b"[1]"), ({"Content-Type": "application/json"}, b"  "),
    ({"Content-Type": "application/x-www-form-urlencoded"}, b"{}"),
]


def test_push_credentials_as_dockerds(both: dict[str, tuple[DockerCLI, Any]]) -> None:
    seen: dict[str, list[Any]] = {}
    for side, (cli, client) in both.items():
        api = client.api
        assert cli("tag", "busybox", f"{NAME}:1").returncode == 0
        try:
            url = api._url(f"/images/{NAME}/push")
            seen[side] = [[body, api.post(url, params={"tag": "1"}, headers=headers, data=body).text]
                          for headers, body in BODIES]
            for header in ("!!!", "WzFd"):  # the push begins, and fails to connect
                answer = api.post(url, params={"tag": "1"}, headers={"X-Registry-Auth": header})
                seen[side].append([header, answer.status_code, answer.text.splitlines()[0]])
        finally:
            cli("rmi", f"{NAME}:1")
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][0][1] == '{"message":"Bad parameters and missing X-Registry-Auth: EOF"}\n'
