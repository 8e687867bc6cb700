"""``GET /containers/{id}/logs``' Content-Type by API version, side by side with a private
dockerd 20.10.

dockerd 20.10's, recorded here (API 1.41): a log stream names no Content-Type, framed
(non-tty) or raw (tty), followed or not. API 1.42 added one (its version history):
``application/vnd.docker.multiplexed-stream`` for a framed stream, ``…raw-stream`` for a tty's —
dockyard's answer from 1.42.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import docker
import pytest

NAMES = ("dylh-plain", "dylh-tty")
QUERIES = ({"stdout": 1, "stderr": 1}, {"stdout": 1, "follow": 1})


@pytest.fixture
def made(both: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """On each side: an exited container with output, without a tty and with one."""
    for cli, _client in both.values():
        for args in (("--name", "dylh-plain"), ("-t", "--name", "dylh-tty")):
            done = cli("run", "--pull", "never", *args, "busybox", "echo", "hi")
            assert done.returncode == 0, done.stderr
    yield both
    for cli, _client in both.values():
        cli("rm", "-f", *NAMES)


def _types(host: str, version: str) -> list[Any]:
    api = docker.APIClient(base_url=host, version=version, timeout=30)
    try:
        out = []
        for name in NAMES:
            for query in QUERIES:
                done = api._get(api._url("/containers/{0}/logs", name), params=query)
                out.append([done.status_code, done.headers.get("Content-Type"), bool(done.content)])
        return out
    finally:
        api.close()


def test_a_log_stream_names_no_type_below_142_as_dockerd(made: dict[str, Any]) -> None:
    hosts = {side: cli.env["DOCKER_HOST"] for side, (cli, _client) in made.items()}
    theirs = _types(hosts["dockerd"], "1.41")
    assert _types(hosts["dockyard"], "1.41") == theirs == [[200, None, True]] * 4
    framed, raw = "application/vnd.docker.multiplexed-stream", "application/vnd.docker.raw-stream"
    assert [kind for _status, kind, _body in _types(hosts["dockyard"], "1.42")] == [framed, framed, raw, raw]
