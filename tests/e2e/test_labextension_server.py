"""The server routes the JupyterLab panel adds (/dockyard/registries, /dockyard/build), in a
real Jupyter server against a private real dockerd; and that the prebuilt panel is what
`_jupyter_labextension_paths` points at."""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from jupyter_procs import JupyterServer, start_server, stop_server

import dockyard_jupyter
from dockyard.testing.dockerd import Dockerd

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def server(real_dockerd: Dockerd, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[JupyterServer]:
    docker_config = tmp_path_factory.mktemp("docker-config")
    auths = {"localhost:5000": {"auth": base64.b64encode(b"ann:s3cret").decode()},
             "https://index.docker.io/v1/": {"auth": base64.b64encode(b"bob:hunter2").decode()}}
    (docker_config / "config.json").write_text(json.dumps(
        {"auths": auths, "credHelpers": {"ecr.example": "ecr-login"}}))
    old = os.environ.get("DOCKER_CONFIG")
    os.environ["DOCKER_CONFIG"] = str(docker_config)   # the server inherits our environment
    try:
        srv = start_server({"daemon_host": real_dockerd.host, "start_daemon": False})
    finally:
        if old is None:
            os.environ.pop("DOCKER_CONFIG")
        else:
            os.environ["DOCKER_CONFIG"] = old
    yield srv
    stop_server(srv)


def post(server: JupyterServer, path: str) -> requests.Response:
    return requests.post(server.url + path, headers={"Authorization": f"token {server.token}"},
                         timeout=60)


def test_registries_lists_index_configs_and_logins_without_secrets(server: JupyterServer) -> None:
    response = server.get("/dockyard/registries")
    assert response.status_code == 200
    body = response.json()
    assert body["registries"]["docker.io"]["Official"] is True
    assert body["logins"] == {"localhost:5000": {"username": "ann"},
                              "https://index.docker.io/v1/": {"username": "bob"},
                              "ecr.example": {"username": ""}}
    assert "s3cret" not in response.text and "hunter2" not in response.text


def test_build_packs_the_notebook_folder(server: JupyterServer, real_dockerd: Dockerd) -> None:
    ctx = server.root / "notebooks" / "app"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:latest\nCOPY data.txt /data.txt\n"
                                    "RUN cat /data.txt\n")
    (ctx / "data.txt").write_text("payload-from-notebook-dir\n")
    (ctx / "secret.key").write_text("nope")
    (ctx / ".dockerignore").write_text("# comment\nsecret.key\n")
    response = post(server, "/dockyard/build?path=app/Dockerfile&t=lab-built:1")
    assert response.status_code == 200, response.text
    messages = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    assert not [m for m in messages if "error" in m], messages
    assert "payload-from-notebook-dir" in "".join(m.get("stream", "") for m in messages)
    engine = real_dockerd.client()
    try:
        image = engine.images.get("lab-built:1")
        listing = engine.containers.run(image.id, ["ls", "/"], remove=True)
        assert b"data.txt" in listing
        engine.images.remove("lab-built:1", force=True)
    finally:
        engine.close()


def test_build_refuses_paths_outside_the_root(server: JupyterServer) -> None:
    outside = post(server, "/dockyard/build?path=../../etc/Dockerfile")
    assert outside.status_code == 400
    assert "outside the notebook directory" in outside.json()["message"]
    missing = post(server, "/dockyard/build?path=nowhere/Dockerfile")
    assert missing.status_code == 404 and "no such Dockerfile" in missing.json()["message"]


def test_build_errors_stream_from_the_daemon(server: JupyterServer, real_dockerd: Dockerd
                                            ) -> None:
    ctx = server.root / "notebooks" / "broken"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:latest\nRUN exit 3\n")
    engine = real_dockerd.client()
    try:
        before = {c.id for c in engine.containers.list(all=True)}
        response = post(server, "/dockyard/build?path=broken/Dockerfile")
        assert response.status_code == 200
        assert "returned a non-zero code: 3" in response.text
        after = {c.id for c in engine.containers.list(all=True)}
        assert after == before, "a failed step leaves no container"
    finally:
        engine.close()


def test_events_stream_opens_before_the_first_event(server: JupyterServer,
                                                   real_dockerd: Dockerd) -> None:
    """No image event happens until the test makes one, after the head arrived: a head held
    back for the first event never comes (the timeout only keeps that failure from hanging)."""
    filters = urllib.parse.quote(json.dumps({"type": ["image"]}))
    try:
        response = requests.get(f"{server.url}/dockyard/events?filters={filters}", stream=True,
                                timeout=30, headers={"Authorization": f"token {server.token}"})
    except requests.exceptions.ReadTimeout:
        pytest.fail("the head waited for an event (none is due until the test tags an image)")
    with response:
        assert response.status_code == 200
        engine = real_dockerd.client()
        engine.images.get("busybox:latest").tag("events-probe", "1")
        engine.images.remove("events-probe:1")
        engine.close()
        first = json.loads(next(response.iter_lines()))
    assert first["Type"] == "image" and first["Action"] == "tag"
    assert first["Actor"]["Attributes"]["name"] == "events-probe:1"


def test_panel_routes_require_jupyter_auth(server: JupyterServer) -> None:
    for method, path in [("GET", "/dockyard/registries"), ("GET", "/dockyard/events"),
                         ("POST", "/dockyard/build?path=app/Dockerfile")]:
        anonymous = requests.request(method, server.url + path, timeout=10,
                                     allow_redirects=False, headers={"Connection": "close"})
        assert anonymous.status_code in {302, 403}, (path, anonymous.status_code)
    session = requests.Session()
    session.get(server.url + f"/?token={server.token}", timeout=10)      # cookie login
    no_xsrf = session.post(server.url + "/dockyard/build?path=app/Dockerfile", timeout=10,
                           headers={"Connection": "close"})
    assert no_xsrf.status_code == 403


def test_prebuilt_extension_is_where_the_paths_say() -> None:
    [entry] = dockyard_jupyter._jupyter_labextension_paths()
    built = Path(dockyard_jupyter.__file__).parent / entry["src"]
    meta = json.loads((built / "package.json").read_text())
    assert entry["dest"] == meta["name"] == "dockyard-jupyter"
    remote = meta["jupyterlab"]["_build"]["load"]
    assert (built / remote).is_file()


def test_registries_of_an_unreachable_daemon_is_a_502() -> None:
    srv = start_server({"daemon_host": "unix:///nonexistent/dockyard.sock",
                        "start_daemon": False})
    try:
        response = srv.get("/dockyard/registries")
        assert response.status_code == 502
        assert response.json()["message"] == ("dockyard daemon at unix:///nonexistent/dockyard"
                                              ".sock is unreachable: No such file or directory")
    finally:
        stop_server(srv)
