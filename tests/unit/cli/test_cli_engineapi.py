"""cli.engineapi asks as docker-py's APIClient asks: the same filters query, and docker-py's client
for a host it does not speak (its verbs against a daemon: test_cli_verbs)."""

from __future__ import annotations

import docker.utils
import pytest

from dockyard.cli.engineapi import connection, filters_param


@pytest.mark.parametrize("filters", [
    {"status": ["running"]}, {"label": ["a=b", "c"], "dangling": True}, {"before": "x", "id": [3]},
    {"dangling": False, "reference": ["busybox:*", "é"]},
])
def test_filters_are_encoded_as_docker_py_encodes_them(filters: dict[str, object]) -> None:
    assert filters_param(filters) == docker.utils.convert_filters(filters)


@pytest.mark.parametrize("host", ["ssh://me@box", "https://127.0.0.1:2376", "unix://relative/sock",
                                  "tcp://127.0.0.1", "fd://", "tcp://127.0.0.1:2375/path"])
def test_hosts_it_does_not_speak_are_left_to_docker_py(host: str) -> None:
    assert connection(host, 1) is None


@pytest.mark.parametrize(("host", "address"), [
    ("unix:///run/dockyard/dockyard.sock", "/run/dockyard/dockyard.sock"),
    ("tcp://127.0.0.1:2375", ("127.0.0.1", 2375)), ("http://localhost:2375/", ("localhost", 2375)),
])
def test_unix_and_plain_tcp_hosts_are_its_own(host: str, address: object) -> None:
    conn = connection(host, 1)
    assert conn is not None
    assert getattr(conn, "path", (conn.host, conn.port)) == address
