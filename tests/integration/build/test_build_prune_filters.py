"""``POST /build/prune`` applies its filters, ``all`` and ``keep-storage`` as BuildKit does for
dockerd 20.10 (dockyard.build.prune): a tagged image's cache stays without ``all``, ``until``
keeps what was used within it, ``id`` is a regular expression over the record IDs, ``type``,
``shared`` and ``private`` choose by what BuildKit knows of a record, ``parent``,
``description`` and ``inuse`` match nothing, ``label`` is ignored, ``keep-storage`` stops once the rest fits.
Each test has a daemon of its own, so the cache holds only its builds."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from buildhelp import write_context

from dockyard.testing.daemon import DaemonProcess

DOCKERFILE = "FROM busybox\nRUN echo {v} > /a\nRUN echo {v}{v} > /b\nRUN head -c 4096 /dev/zero > /c\n"


@pytest.fixture
def own(busybox_archive: Path) -> Iterator[DaemonProcess]:
    with DaemonProcess() as daemon:
        yield daemon.load(busybox_archive)


@pytest.fixture
def api(own: DaemonProcess) -> Iterator[Any]:
    client = own.client()
    yield client.api
    client.close()


def _build(api: Any, tmp_path: Path, v: str, tag: str | None = None) -> str:
    ctx = write_context(tmp_path / f"ctx-{v}", {"Dockerfile": DOCKERFILE.format(v=v)})
    messages = list(api.build(path=str(ctx), decode=True, tag=tag))
    return next(m["aux"]["ID"] for m in messages if "aux" in m)


def _records(api: Any) -> dict[str, dict[str, Any]]:
    return {r["ID"]: r for r in api.df()["BuildCache"]}


def _prune(api: Any, **params: Any) -> tuple[int, Any]:
    response = api._post(api._url("/build/prune"), params=params)
    return response.status_code, response.json()


def test_a_tagged_images_cache_stays_unless_all(api: Any, tmp_path: Path) -> None:
    kept = _build(api, tmp_path, "k", tag="kept:1")
    before = _records(api)
    _build(api, tmp_path, "d")  # its result untagged: the three records of its own go
    everything = _records(api)
    dangling = set(everything) - set(before)
    assert len(dangling) == 3
    assert {i for i, r in everything.items() if not r["Shared"]} == dangling  # df as BuildKit's
    status, report = _prune(api)
    assert status == 200 and sorted(report["CachesDeleted"]) == sorted(dangling)
    assert report["SpaceReclaimed"] == sum(everything[i]["Size"] for i in dangling) > 4096
    assert set(_records(api)) == set(before)
    assert _prune(api) == (200, {"CachesDeleted": None, "SpaceReclaimed": 0})
    status, report = _prune(api, all=1)
    assert status == 200 and sorted(report["CachesDeleted"]) == sorted(before)
    assert report["SpaceReclaimed"] == sum(r["Size"] for r in before.values())
    assert _records(api) == {} and api.inspect_image("kept:1")["Id"] == kept


def test_until_keeps_what_was_used_within_it(api: Any, tmp_path: Path) -> None:
    _build(api, tmp_path, "u")
    records = _records(api)
    assert len(records) == 3
    assert _prune(api, filters='{"until": {"24h": true}}') == (200, {"CachesDeleted": None,
                                                                     "SpaceReclaimed": 0})
    assert _prune(api, filters='{"unused-for": {"1h": true}}')[1]["CachesDeleted"] is None
    status, report = _prune(api, filters='{"until": {"1ns": true}}')
    assert status == 200 and sorted(report["CachesDeleted"]) == sorted(records)
    assert report["SpaceReclaimed"] == sum(r["Size"] for r in records.values()) > 4096


def test_the_fields_buildkit_matches(api: Any, tmp_path: Path) -> None:
    _build(api, tmp_path, "f")
    records = _records(api)
    tip = next(i for i, r in records.items() if r["Description"].startswith("RUN head"))
    parent = (records[tip].get("Parents") or [records[tip].get("Parent")])[0]
    assert parent
    nothing = (200, {"CachesDeleted": None, "SpaceReclaimed": 0})
    for filters in (f'{{"parent": {{"{parent}": true}}}}', '{"description": {"RUN": true}}',
                    '{"inuse": {}}', '{"type": {"internal": true}}', '{"shared": {}}',
                    f'{{"id": {{"^{tip[1:]}": true}}}}', '{"shared": {}, "label": {"a=b": true}}'):
        assert _prune(api, filters=filters) == nothing, filters
    assert set(_records(api)) == set(records)
    status, report = _prune(api, filters=f'{{"id": {{"{tip[:6]}": true}}, "type": {{"regular": true}}}}')
    assert (status, report["CachesDeleted"]) == (200, [tip])
    assert report["SpaceReclaimed"] == records[tip]["Size"] >= 4096
    status, report = _prune(api, filters='{"private": {}, "label!": {"a": true}}')  # label ignored
    assert status == 200 and sorted(report["CachesDeleted"]) == sorted(set(records) - {tip})
    assert _records(api) == {}


def test_keep_storage_stops_once_the_rest_fits(api: Any, tmp_path: Path) -> None:
    _build(api, tmp_path, "s")
    records = _records(api)
    total = sum(r["Size"] for r in records.values())
    assert _prune(api, **{"keep-storage": total + 1})[1]["CachesDeleted"] is None
    tip = next(i for i, r in records.items() if r["Description"].startswith("RUN head"))
    status, report = _prune(api, **{"keep-storage": total - records[tip]["Size"] + 1})
    assert (status, report) == (200, {"CachesDeleted": [tip], "SpaceReclaimed": records[tip]["Size"]})
    assert set(_records(api)) == set(records) - {tip}


def test_the_dockyard_cli_passes_all_filters_and_keep_storage(own: DaemonProcess, api: Any,
                                                               tmp_path: Path) -> None:
    """``dockyard builder prune`` sends ``-a``, ``--filter`` and ``--keep-storage``."""
    _build(api, tmp_path, "c", tag="cli:1")
    records = _records(api)
    env = {**os.environ, "DOCKYARD_HOST": own.host}

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "dockyard.cli.main", "builder", "prune", "-f",
                               *args], env=env, capture_output=True, text=True, timeout=120,
                              check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "Deleted build cache objects" not in run()
    assert "Deleted build cache objects" not in run("-a", "--filter", "until=24h")
    assert "Deleted build cache objects" not in run("-a", "--keep-storage", "1g")
    assert set(_records(api)) == set(records)
    out = run("-a")
    assert all(i in out for i in records) and _records(api) == {}
