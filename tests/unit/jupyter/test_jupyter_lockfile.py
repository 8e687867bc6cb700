"""The lock file beside the notebook: what is recorded, and that it is written whole."""

from __future__ import annotations

import json
from pathlib import Path

from dockyard_jupyter.lockfile import LOCK_NAME, LockFile, base_references


def test_base_references_skip_stages_and_scratch() -> None:
    dockerfile = ("# syntax=docker/dockerfile:1\nFROM --platform=linux/amd64 busybox:1.36 AS build\n"
                  "RUN make\nfrom build AS test\nFROM scratch\nCOPY --from=build /x /x\n"
                  "FROM registry.local:5000/base@sha256:" + "a" * 64 + "\n")
    assert base_references(dockerfile) == ["busybox:1.36",
                                           "registry.local:5000/base@sha256:" + "a" * 64]


def test_lock_roundtrip_and_push_follows_the_image(tmp_path: Path) -> None:
    lock = LockFile.load(tmp_path)
    assert lock.data == {"version": 1, "images": {}, "runs": {}}
    entry = {"dockerfile": "FROM busybox\n", "build_args": {}, "target": None, "platform": None,
             "context": None, "base_images": {"busybox": "sha256:b"}, "image_id": "sha256:1"}
    lock.record_build("app:1", dict(entry))
    lock.record_push("reg:5000/app:1", "sha256:d", "sha256:1")
    lock.record_run("app:1", "sha256:1")
    lock.save()
    again = LockFile.load(tmp_path)
    assert again.data["images"]["app:1"]["pushed"] == {"reg:5000/app:1": "sha256:d"}
    assert again.data["runs"] == {"app:1": "sha256:1"}
    again.record_build("app:1", dict(entry))            # same image rebuilt: push still valid
    assert again.data["images"]["app:1"]["pushed"] == {"reg:5000/app:1": "sha256:d"}
    again.record_build("app:1", dict(entry, image_id="sha256:2"))   # a different image: not
    assert again.data["images"]["app:1"]["pushed"] == {}
    assert [p.name for p in tmp_path.iterdir()] == [LOCK_NAME]      # no temp files left
    json.loads((tmp_path / LOCK_NAME).read_text())
