"""Engine API bodies byte for byte as a private dockerd 20.10 writes them: Go's encoder puts no
space between tokens and ends a body with a newline (``{"message":"…"}\\n``), so a client that
reads the raw text (curl, a log) sees dockerd's."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow

REQUESTS = [
    ("GET", "/containers/nosuch-body/json", None),
    ("POST", "/containers/nosuch-body/kill", None),
    ("GET", "/networks/nosuch-body", None),
    ("GET", "/volumes/nosuch-body", None),
    ("POST", "/containers/create", {"Image": "busybox", "HostConfig": {"Binds": ["a:b:c:d"]}}),
    ("POST", "/containers/prune", None),
    ("GET", "/nosuch-route", None),
]


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS, ids=[r[1] for r in REQUESTS])
def test_bodies_are_dockerds_bytes(both: dict[str, Any], method: str, path: str,
                                   body: dict[str, Any] | None) -> None:
    answers = {}
    for side, (_cli, client) in both.items():
        api = client.api
        response = api.request(method, f"{api.base_url}/v1.41{path}", json=body, timeout=30,
                               params={"filters": '{"label": ["dytest-body-nothing=1"]}'}
                               if path.endswith("prune") else None)
        answers[side] = (response.status_code, response.content)
    assert answers["dockyard"] == answers["dockerd"]
    assert answers["dockerd"][1].endswith(b"}\n") and b'": ' not in answers["dockerd"][1]
