"""``GET /dockyard/lock?path=NOTEBOOK`` in a real Jupyter server: one notebook's part of the
lock beside it, secrets nulled, with Jupyter's auth, and nothing outside the server root."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from jupyter_procs import JupyterServer, start_server, stop_server

ENTRY = {"dockerfile": "FROM busybox\n", "target": None, "platform": None, "context": None,
         "base_images": {"busybox": "sha256:b"}, "pushed": {}}
LOCK = {"version": 1,
        "images": {"a:1": dict(ENTRY, image_id="sha256:a", build_args={"V": "1", "API_KEY": "k"}),
                   "b:1": dict(ENTRY, image_id="sha256:b", build_args={}),
                   "old:1": dict(ENTRY, image_id="sha256:o", build_args={})},
        "runs": {"a:1": "sha256:a", "b:1": "sha256:b"},
        "notebooks": {"a.ipynb": {"images": ["a:1"], "runs": ["a:1"]},
                      "b.ipynb": {"images": ["b:1"], "runs": ["b:1"]}}}


@pytest.fixture(scope="module")
def server() -> Iterator[JupyterServer]:
    # the lock route needs no daemon: point at a socket nobody serves
    srv = start_server({"daemon_host": "unix:///nonexistent/dockyard.sock",
                        "start_daemon": False})
    yield srv
    stop_server(srv)


def lock(server: JupyterServer, path: str) -> requests.Response:
    return server.get("/dockyard/lock", params={"path": path})


def test_a_notebook_gets_its_own_entries_without_secrets(server: JupyterServer) -> None:
    folder = server.root / "notebooks" / "work dir"
    folder.mkdir()
    (folder / "dockyard.lock.json").write_text(json.dumps(LOCK))
    for name in ("a.ipynb", "b.ipynb"):
        (folder / name).write_text("{}")
    response = lock(server, "work dir/a.ipynb")
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert sorted(body["images"]) == ["a:1", "old:1"] and body["runs"] == {"a:1": "sha256:a"}
    assert body["images"]["a:1"]["build_args"] == {"V": "1", "API_KEY": None}
    assert body["version"] == 1 and "notebooks" not in body
    assert sorted(lock(server, "/work dir/b.ipynb").json()["images"]) == ["b:1", "old:1"]
    (folder / "b.ipynb").rename(folder / "c.ipynb")     # b's kernel still says "b.ipynb"
    assert sorted(lock(server, "work dir/c.ipynb").json()["images"]) == ["b:1", "old:1"]
    # a notebook that is gone claims nothing: its entries are unattributed, as old:1 is
    assert sorted(lock(server, "work dir/a.ipynb").json()["images"]) == ["a:1", "b:1", "old:1"]

    (folder / "dockyard.lock.json").write_text('{"version": 1, "images": [')
    broken = lock(server, "work dir/a.ipynb")
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["message"]


def test_no_lock_is_404(server: JupyterServer) -> None:
    response = lock(server, "alone.ipynb")
    assert response.status_code == 404
    assert response.json() == {"message": "no dockyard.lock.json beside alone.ipynb"}


def test_paths_outside_the_root_and_non_notebooks_are_refused(server: JupyterServer,
                                                              tmp_path: Path) -> None:
    (tmp_path / "dockyard.lock.json").write_text(json.dumps(LOCK))
    (server.root / "notebooks" / "escape").symlink_to(tmp_path)
    for path in ("../a.ipynb", "escape/a.ipynb", "/../../a.ipynb"):
        response = lock(server, path)
        assert response.status_code == 400, path
        assert "outside the notebook directory" in response.json()["message"]
    assert "sha256:a" not in lock(server, "escape/a.ipynb").text
    response = lock(server, "dockyard.lock.json")
    assert response.status_code == 400 and "not a notebook" in response.json()["message"]
    assert lock(server, "").status_code == 400
    assert server.get("/dockyard/lock").status_code == 400          # path is required


def test_without_a_token_it_is_refused(server: JupyterServer) -> None:
    (server.root / "notebooks" / "dockyard.lock.json").write_text(json.dumps(LOCK))
    response = requests.get(server.url + "/dockyard/lock", params={"path": "a.ipynb"},
                            timeout=30)
    assert response.status_code == 403 and "sha256:a" not in response.text
    assert lock(server, "a.ipynb").status_code == 200
