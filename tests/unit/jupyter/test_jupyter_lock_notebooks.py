"""One folder's lock shared by several notebooks: who recorded what, each notebook's part as
it goes into its metadata, secrets never written, and a notebook's own record read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard_jupyter.lockfile import (
    InvalidRecord,
    LockFile,
    for_notebook,
    looks_secret,
    merged,
    notebook_record,
)

ENTRY = {"dockerfile": "FROM busybox\nARG V\n", "target": None, "platform": None,
         "context": None, "base_images": {"busybox": "sha256:b"}}


def record(folder: Path, notebook: str, name: str, image_id: str,
           monkeypatch: pytest.MonkeyPatch, **build_args: str) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", f"/srv/notebooks/{notebook}")
    lock = LockFile.load(folder)
    lock.record_build(name, dict(ENTRY, build_args=build_args, image_id=image_id))
    lock.record_run(name, image_id)
    lock.save()


@pytest.mark.parametrize(("name", "secret"), [
    ("GITHUB_TOKEN", True), ("dbPassword", True), ("API_KEY", True), ("apikey", True),
    ("AWS_SECRET_ACCESS_KEY", True), ("NPM_AUTH", True), ("PYTHON_VERSION", False),
    ("KEYBOARD", False), ("TOKENIZER_MODEL", False), ("V", False)])
def test_secret_looking_names(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret


def test_each_notebook_gets_its_own_part_and_no_secret(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    lock = LockFile.load(tmp_path)                       # a kernel that knows no notebook
    lock.record_build("shared:1", dict(ENTRY, build_args={}, image_id="sha256:0"))
    lock.save()
    record(tmp_path, "a.ipynb", "a:1", "sha256:a", monkeypatch, V="1", GITHUB_TOKEN="ghp_x")
    record(tmp_path, "b.ipynb", "b:1", "sha256:b", monkeypatch)
    text = (tmp_path / "dockyard.lock.json").read_text()
    assert "ghp_x" not in text
    data = json.loads(text)
    assert data["notebooks"] == {"a.ipynb": {"images": ["a:1"], "runs": ["a:1"]},
                                 "b.ipynb": {"images": ["b:1"], "runs": ["b:1"]}}
    mine = for_notebook(data, "a.ipynb")
    assert sorted(mine["images"]) == ["a:1", "shared:1"] and mine["runs"] == {"a:1": "sha256:a"}
    assert mine["images"]["a:1"]["build_args"] == {"V": "1", "GITHUB_TOKEN": None}
    assert "notebooks" not in mine

    record(tmp_path, "b.ipynb", "a:1", "sha256:a2", monkeypatch)   # b rebuilds a's tag
    data = LockFile.load(tmp_path).data
    assert sorted(for_notebook(data, "a.ipynb")["images"]) == ["shared:1"]
    assert for_notebook(data, "b.ipynb")["images"]["a:1"]["image_id"] == "sha256:a2"


def test_an_old_lock_holding_a_secret_is_redacted_on_the_way_out() -> None:
    data = {"version": 1, "runs": {}, "images": {"x:1": dict(
        ENTRY, image_id="sha256:x", build_args={"PIP_INDEX_TOKEN": "s3cret"})}}
    assert "s3cret" not in json.dumps(for_notebook(data, None))


def test_merged_prefers_the_newer_record_entry_by_entry() -> None:
    old = {"version": 1, "images": {"a": {"image_id": "1"}, "b": {"image_id": "1"}}, "runs": {}}
    new = {"version": 1, "images": {"b": {"image_id": "2"}}, "runs": {"r": "2"}}
    assert merged(old, new) == {"version": 1, "runs": {"r": "2"},
                                "images": {"a": {"image_id": "1"}, "b": {"image_id": "2"}}}


def test_notebook_record_and_bad_input(tmp_path: Path) -> None:
    notebook = tmp_path / "n.ipynb"
    notebook.write_text(json.dumps({"metadata": {}, "cells": [], "nbformat": 4}))
    assert notebook_record(notebook) is None
    record_ = {"version": 1, "images": {"a": {"image_id": "sha256:a"}}, "runs": {}}
    notebook.write_text(json.dumps({"metadata": {"dockyard": record_}, "cells": []}))
    assert notebook_record(notebook) == record_
    notebook.write_text(json.dumps({"metadata": {"dockyard": {"version": 9}}}))
    with pytest.raises(InvalidRecord, match="not a dockyard lock record"):
        notebook_record(notebook)
    notebook.write_text("{not json")
    with pytest.raises(InvalidRecord, match="not a notebook"):
        notebook_record(notebook)
    with pytest.raises(InvalidRecord, match="no such notebook"):
        notebook_record(tmp_path / "missing.ipynb")
    (tmp_path / "dockyard.lock.json").write_text("[1, 2")
    with pytest.raises(InvalidRecord, match="not valid JSON"):
        LockFile.load(tmp_path)
