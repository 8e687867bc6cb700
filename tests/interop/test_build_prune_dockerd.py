"""``POST /build/prune`` side by side with a private dockerd 20.10, where it costs nothing: the
filters BuildKit cannot parse (containerd's filter syntax, dockerd's 400 and words), a
``keep-storage`` or ``filters`` Go cannot read (its 500s), and a prune that takes nothing
(``CachesDeleted`` null). What a prune takes is compared with BuildKit's rules in
tests/integration/build/test_build_prune_filters.py: dockerd's classic builder makes no
BuildKit records to prune, and its BuildKit builds need buildx.

Recorded from dockerd 20.10.24: the filter keys go to BuildKit as one string in Go's map
order (``type==b c,id~=a,description==d e``), which varies between calls; dockyard joins them
in one fixed order, so the cases here give one key each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.testing.daemon import DaemonProcess
from dockyard.testing.dockerd import Dockerd

PREFIX = "failed to prune build cache: failed to parse prune filters "
CASES: list[tuple[dict[str, str], int, str | None]] = [
    ({"filters": '{"description": {"RUN echo hi": true}}'}, 400, PREFIX + "[description==RUN echo hi]: "
     "filters: parse error: [description==RUN >| |< echo hi]: unexpected input:  : invalid argument"),
    ({"filters": '{"type": {"": true}}'}, 400,
     PREFIX + "[type==]: filters: parse error: [type==]: expected value or quoted: invalid argument"),
    ({"filters": '{"parent": {"\\"x": true}}'}, 400, PREFIX + '[parent=="x]: filters: parse error: '
     '[parent== >|"|< x]: quoted literal not terminated: invalid argument'),
    ({"filters": '{"id": {"x y": true}}'}, 400, PREFIX + "[id~=x y]: filters: parse error: "
     "[id~=x >| |< y]: unexpected input:  : invalid argument"),
    ({"filters": '{"type": {"=x": true}}'}, 400, PREFIX + '[type===x]: filters: parse error: '
     '[type >|=|< ==x]: unsupported operator "===": invalid argument'),
    ({"filters": '{"type": {"/a/": true}}'}, 400, PREFIX + "[type==/a/]: filters: parse error: "
     "[type== >|/|< a/]: invalid quote encountered: invalid argument"),
    ({"filters": '{"type": {"\\"a\\\\q\\"": true}}'}, 400, PREFIX + '[type=="a\\q"]: filters: parse '
     'error: [type== >|"|< a\\q"]: illegal escape sequence: invalid argument'),
    ({"filters": '{"type": {",": true}}'}, 400, PREFIX + "[type==,]: filters: parse error: "
     "[type== >|,|< ]: expected value or quoted: invalid argument"),
    ({"filters": '{"type": {"a,": true}}'}, 400, PREFIX + "[type==a,]: filters: parse error: "
     "[type==a,]: expected field or quoted: invalid argument"),
    ({"filters": '{"type": {"a,b c": true}}'}, 400, PREFIX + "[type==a,b c]: filters: parse error: "
     '[type==a,b  >|c|< ]: expected an operator ("=="|"!="|"~="): invalid argument'),
    ({"filters": '{"type": {"a,.b": true}}'}, 400, PREFIX + "[type==a,.b]: filters: parse error: "
     "[type==a, >|.|< b]: expected field or quoted: invalid argument"),
    ({"filters": '{"type": {"a,b.c": true}}'}, 200, None),
    ({"filters": '{"description": {"a,b": true}}'}, 200, None),
    ({"filters": '{"id": {"[": true}}'}, 200, None),
    ({"filters": '{"id": {"/a/": true}}'}, 200, None),
    ({"filters": '{"type": {" regular": true}}'}, 200, None),
    ({"filters": '{"shared": {}}'}, 200, None),
    ({"filters": '{"label": {"a=b": true}}'}, 200, None),
    ({"filters": '{"until": {"24h": true}}'}, 200, None),
    ({"filters": "{x", "keep-storage": "x"}, 500,
     "could not parse filters: invalid character 'x' looking for beginning of object key string"),
    ({"filters": '{"bogus": {"a": true}}', "keep-storage": "x"}, 500,
     'keep-storage is in bytes and expects an integer, got x: strconv.Atoi: parsing "x": invalid syntax'),
    ({"keep-storage": "1.5"}, 500,
     'keep-storage is in bytes and expects an integer, got 1.5: strconv.Atoi: parsing "1.5": invalid syntax'),
    ({"keep-storage": "-1"}, 200, None),
    ({"all": "x"}, 200, None),
]


@pytest.fixture(scope="module")
def ours() -> Iterator[DaemonProcess]:
    """A dockyard daemon of this module's: its build cache empty, as the private dockerd's."""
    with DaemonProcess() as daemon:
        yield daemon


@pytest.fixture
def both(dockerd: Dockerd, ours: DaemonProcess) -> Iterator[dict[str, Any]]:
    clients = {"dockerd": dockerd.client(), "dockyard": ours.client()}
    yield {name: (None, client) for name, client in clients.items()}
    for client in clients.values():
        client.close()


def _answer(api: Any, params: dict[str, str]) -> tuple[int, Any]:
    response = api.request("POST", f"{api.base_url}/v1.41/build/prune", params=params, timeout=60)
    body = json.loads(response.text)
    return response.status_code, body if response.status_code == 200 else body["message"]


@pytest.mark.parametrize(("params", "status", "message"), CASES, ids=[json.dumps(c[0]) for c in CASES])
def test_build_prune_as_dockerd_answers(both: dict[str, Any], params: dict[str, str], status: int,
                                        message: str | None) -> None:
    """Neither cache holds a record: a prune that is not refused takes nothing."""
    answers = {name: _answer(client.api, params) for name, (_cli, client) in both.items()}
    expected = message if status != 200 else {"CachesDeleted": None, "SpaceReclaimed": 0}
    assert answers["dockyard"] == answers["dockerd"] == (status, expected)
