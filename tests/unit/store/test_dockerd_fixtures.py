"""Archives written by a real dockerd 20.10 (tests/fixtures, legacy format) load into dockyard
and answer inspect/history/list the way that dockerd answered for the same images."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from dockyard.store.archive import load, save
from dockyard.store.images import ImageStore

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
# Fields that depend on the daemon's disk layout, clock, or build-time parent chain.
LOCAL_ONLY = {"GraphDriver", "Metadata", "Parent"}


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"dockerd-20.10-{name}.json").read_text())  # type: ignore[no-any-return]


def archive_manifest(name: str) -> list[dict[str, Any]]:
    with tarfile.open(FIXTURES / f"dockerd-20.10-{name}.tar.gz") as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        return json.loads(member.read())  # type: ignore[no-any-return]


def load_fixture(store: ImageStore, name: str) -> list[str]:
    with open(FIXTURES / f"dockerd-20.10-{name}.tar.gz", "rb") as f:
        return [m["stream"] for m in load(store, f)]


@pytest.mark.parametrize("name", ["busybox", "import", "build", "multi"])
def test_real_dockerd_archive(store: ImageStore, name: str) -> None:
    recorded = fixture(name)
    msgs = load_fixture(store, name)
    tags = [t for img in recorded["images"] for t in img["repo_tags"]]
    assert msgs == [f"Loaded image: {t}\n" for entry in archive_manifest(name) for t in entry["RepoTags"]]
    for img in recorded["images"]:
        mine = store.inspect(img["id"])
        theirs = img["inspect"]
        for key in set(theirs) - LOCAL_ONLY - {"RepoTags"}:
            assert mine.get(key) == theirs[key], key
        assert set(mine["RepoTags"]) <= set(tags)
        history = store.history(img["id"])
        assert [h["CreatedBy"] for h in history] == [h["CreatedBy"] for h in img["history"]]
        assert [h["Size"] for h in history] == [h["Size"] for h in img["history"]]
        assert history[0]["Id"] == img["id"]


def test_list_matches_dockerd(store: ImageStore) -> None:
    session = fixture("session")
    load_fixture(store, "multi")
    mine = {i["Id"]: i for i in store.list_images()}
    for theirs in session["images_json"]:
        got = mine[theirs["Id"]]
        assert (got["Created"], got["Size"], sorted(got["RepoTags"])) == (
            theirs["Created"], theirs["Size"], sorted(theirs["RepoTags"]))
        assert got["Labels"] == (theirs["Labels"] or {})


def test_dockyard_save_of_dockerd_images_round_trips(store: ImageStore, tmp_path: Path) -> None:
    load_fixture(store, "multi")
    archive = tmp_path / "again.tar"
    archive.write_bytes(b"".join(save(store, ["busybox", "built:v1", "imported:v1"])))
    other = ImageStore(tmp_path / "other")
    with open(archive, "rb") as f:
        list(load(other, f))
    assert {i["Id"] for i in other.list_images()} == {i["Id"] for i in store.list_images()}
    other.close()
