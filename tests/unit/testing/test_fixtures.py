"""The recorded dockerd fixtures agree with themselves and with the offline busybox image."""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing import busybox

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NAMES = ["busybox", "import", "build", "multi"]


def _record(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"dockerd-20.10-{name}.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", NAMES)
def test_archive_matches_its_record(name: str) -> None:
    rec = _record(name)
    packed = (FIXTURES / rec["archive"]).read_bytes()
    raw = gzip.decompress(packed)
    assert hashlib.sha256(packed).hexdigest() == rec["archive_sha256"]
    assert hashlib.sha256(raw).hexdigest() == rec["tar_sha256"] and len(raw) == rec["tar_size"]


@pytest.mark.parametrize("name", NAMES)
def test_recorded_ids_are_config_digests_in_the_archive(name: str) -> None:
    rec = _record(name)
    with tarfile.open(FIXTURES / rec["archive"]) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        configs = {e["Config"]: tar.extractfile(e["Config"]).read() for e in manifest}  # type: ignore[union-attr]
    by_tag = {t: e["Config"] for e in manifest for t in e["RepoTags"]}
    for image in rec["images"]:
        config = configs[by_tag[image["ref"]]]
        assert image["id"] == "sha256:" + hashlib.sha256(config).hexdigest()
        assert image["inspect"]["RootFS"]["Layers"] == json.loads(config)["rootfs"]["diff_ids"]


def test_dockerd_gave_the_offline_busybox_its_config_digest() -> None:
    session = json.loads((FIXTURES / "dockerd-20.10-session.json").read_text())
    assert session["busybox_same_id"] is True
    assert session["busybox_loaded_id"] == session["busybox_config_digest"]
    if busybox.architecture() == session["architecture"]:
        assert busybox.image_id() == session["busybox_loaded_id"], "busybox image drifted"


def test_fixtures_stay_small() -> None:
    total = sum(p.stat().st_size for p in FIXTURES.iterdir())
    assert total < 5 * 1024 * 1024
