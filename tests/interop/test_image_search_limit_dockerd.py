"""``GET /images/search?limit=`` side by side with a private dockerd 20.10: ``limit`` is read
first, with Go's ``strconv.Atoi`` (a 500 in its words, before the filters and the term), and
its range is checked only once the registry answered its ping (400, dockerd's words). The
registries are loopback ones: a port nothing answers, and a server answering 404 to
everything (which passes dockerd's v1 ping, and dockyard's)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

REFUSED = "127.0.0.1:9/x"  # nothing listens: never reached before the limit is read

ATOI_CASES = [
    ("x", REFUSED, None, 'strconv.Atoi: parsing "x": invalid syntax'),
    ("1.5", REFUSED, None, 'strconv.Atoi: parsing "1.5": invalid syntax'),
    (" 5", REFUSED, None, 'strconv.Atoi: parsing " 5": invalid syntax'),
    ("é", REFUSED, None, 'strconv.Atoi: parsing "é": invalid syntax'),
    ("99999999999999999999", REFUSED, None,
     'strconv.Atoi: parsing "99999999999999999999": value out of range'),
    ("x", None, '{"bogus": ["1"]}', 'strconv.Atoi: parsing "x": invalid syntax'),
]


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_error(404)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def answers_404() -> Iterator[str]:
    """A loopback HTTP server answering 404 to everything: its ``host:port``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _search(api: Any, **params: str) -> tuple[int, str]:
    response = api.request("GET", f"{api.base_url}/v1.41/images/search", params=params, timeout=60)
    return response.status_code, json.loads(response.text).get("message", "")


def _answers(both: dict[str, Any], **params: str) -> dict[str, tuple[int, str]]:
    return {name: _search(client.api, **params) for name, (_cli, client) in both.items()}


@pytest.mark.parametrize(("limit", "term", "filters", "message"), ATOI_CASES,
                         ids=[f"{c[0]!r}{'+filters' if c[2] else ''}" for c in ATOI_CASES])
def test_a_limit_go_cannot_read_is_dockerds_500(both: dict[str, Any], limit: str, term: str | None,
                                                 filters: str | None, message: str) -> None:
    params = {"limit": limit, **({"term": term} if term else {}),
              **({"filters": filters} if filters else {})}
    answers = _answers(both, **params)
    assert answers["dockyard"] == answers["dockerd"] == (500, message)


def test_a_limit_out_of_range_is_refused_after_the_ping(both: dict[str, Any], answers_404: str) -> None:
    """0, 101 and -1 are dockerd's 400 from a registry that answers; from one that does not,
    the ping's error comes first (its words differ: only the status is compared)."""
    for limit in ("0", "101", "-1"):
        answers = _answers(both, limit=limit, term=f"{answers_404}/x")
        expected = (400, f"Limit {limit} is outside the range of [1, 100]")
        assert answers["dockyard"] == answers["dockerd"] == expected, limit
        refused = _answers(both, limit=limit, term=REFUSED)
        assert [status for status, _ in refused.values()] == [500, 500], refused
        assert not any("Limit" in message for _, message in refused.values()), refused
