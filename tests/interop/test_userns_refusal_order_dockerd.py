"""Where a ``--userns-remap`` daemon's own refusals come among a create's checks, side by side
with a private dockerd 20.10 started with ``--userns-remap default``: ``--privileged``,
``--network host`` and ``--pid host`` (each ruled out in a remapped container) are refused after
the resources, the SHM size and the OOM score, and before the runtime, the ``Tmpfs``
destinations and the cgroup namespace mode — ``verifyPlatformContainerSettings``' order — and,
as they, before the image is looked up. Each body has two faults and names an image neither
daemon has."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sidebyside import ApiSide, tidied

MISSING = "dy-no-such-image:1"
REMAPPED_ONLY = [{"Privileged": True}, {"NetworkMode": "host"}, {"PidMode": "host"}]
BEFORE = [{"Memory": 1}, {"ShmSize": -1}, {"OomScoreAdj": 5000}]
AFTER = [{"Runtime": "nope"}, {"Tmpfs": {"rel": ""}}, {"CgroupnsMode": "bogus"}]


@pytest.fixture(scope="module")
def sides(remapped_pair: tuple[str, str]) -> Iterator[list[ApiSide]]:
    theirs, ours = remapped_pair
    with tidied([ApiSide("dockerd", theirs), ApiSide("dockyard", ours)]) as made:
        yield made


def _said(sides: list[ApiSide], host_config: dict[str, Any]) -> tuple[int, Any]:
    said = [side.call("POST", "/containers/create", {"Image": MISSING, "HostConfig": host_config})
            for side in sides]
    assert said[1] == said[0]
    return said[0]


def _pairs(others: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**remapped, **other} for remapped in REMAPPED_ONLY for other in others]


@pytest.mark.parametrize("host_config", _pairs(BEFORE), ids=json.dumps)
def test_refused_for_what_comes_before(sides: list[ApiSide], host_config: dict[str, Any]) -> None:
    status, answer = _said(sides, host_config)
    assert status == 400 and "user namespaces" not in answer["message"]


@pytest.mark.parametrize("host_config", _pairs(AFTER), ids=json.dumps)
def test_refused_for_the_user_namespace_first(sides: list[ApiSide],
                                              host_config: dict[str, Any]) -> None:
    status, answer = _said(sides, host_config)
    assert status == 400 and "user namespaces" in answer["message"]
