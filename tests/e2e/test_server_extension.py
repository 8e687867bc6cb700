"""The server extension in a real Jupyter server: status, and the Engine API proxy (auth,
streaming, errors) against a private real dockerd."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
import requests
from jupyter_procs import JupyterServer, free_port, start_server, stop_server

from dockyard.testing.busybox import build_busybox_archive
from dockyard.testing.dockerd import Dockerd
from dockyard.testing.fifogate import FifoGate

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def server(real_dockerd: Dockerd) -> Iterator[JupyterServer]:
    srv = start_server({"daemon_host": real_dockerd.host, "start_daemon": False})
    yield srv
    stop_server(srv)


def test_status_reports_the_daemon(server: JupyterServer, real_dockerd: Dockerd) -> None:
    status = server.get("/dockyard/status").json()
    assert status["reachable"] is True and status["host"] == real_dockerd.host
    assert status["api_version"] == "1.41" and status["version"].startswith("20.10")
    assert status["daemon"]["managed"] is False


def test_proxy_version_and_images(server: JupyterServer) -> None:
    version = server.get("/dockyard/api/v1.41/version")
    assert version.status_code == 200 and version.json()["ApiVersion"] == "1.41"
    assert version.headers["Api-Version"] == "1.41"
    assert version.headers["Content-Type"] == "application/json"
    images = server.get("/dockyard/api/v1.41/images/json").json()
    assert any("busybox:latest" in (i.get("RepoTags") or []) for i in images)
    ping = server.get("/dockyard/api/_ping")
    assert ping.text == "OK"


def test_proxy_passes_daemon_errors_through(server: JupyterServer, real_dockerd: Dockerd) -> None:
    missing = server.get("/dockyard/api/v1.41/images/no-such-image/json")
    engine = real_dockerd.client()
    direct = engine.api.get(engine.api._url("/images/no-such-image/json"))
    engine.close()
    assert missing.status_code == direct.status_code == 404
    assert missing.json() == direct.json()
    assert "No such image: no-such-image" in missing.json()["message"]


def test_proxy_requires_jupyter_auth(server: JupyterServer) -> None:
    anonymous = requests.get(server.url + "/dockyard/api/v1.41/version", timeout=10,
                             allow_redirects=False)
    assert anonymous.status_code in {302, 403}
    wrong = requests.get(server.url + "/dockyard/status", timeout=10, allow_redirects=False,
                         headers={"Authorization": "token wrong"})
    assert wrong.status_code in {302, 403}


def test_post_without_token_or_xsrf_is_refused(server: JupyterServer) -> None:
    session = requests.Session()
    session.get(server.url + f"/?token={server.token}", timeout=10)   # cookie login
    assert session.get(server.url + "/dockyard/status", timeout=10).status_code == 200
    # a refusal before the body is read ends the connection (tornado's rule for streamed
    # request bodies); browsers retry on a fresh one, requests does not, so ask for that
    refused = session.post(server.url + "/dockyard/api/v1.41/images/prune", timeout=10,
                           headers={"Connection": "close"})
    assert refused.status_code == 403
    xsrf = session.cookies.get("_xsrf")
    allowed = session.post(server.url + "/dockyard/api/v1.41/images/prune", timeout=10,
                           headers={"X-XSRFToken": xsrf})
    assert allowed.status_code == 200 and "SpaceReclaimed" in allowed.json()


def test_logs_follow_streams_chunk_by_chunk(server: JupyterServer, real_dockerd: Dockerd,
                                            tmp_path: Path) -> None:
    """The container logs line1, then waits on a gate the test opens only once line1 came
    through the proxy: a proxy that buffered the stream would never pass it on first (the
    gate opens anyway after 20 s, before the read timeout, so a failure ends)."""
    gate = FifoGate(tmp_path / "gate", patience=20)
    engine = real_dockerd.client()
    container = engine.containers.run(
        "busybox", ["sh", "-c", "echo line1; read x < /gate; echo line2; echo line3"],
        volumes={str(gate.path): {"bind": "/gate", "mode": "rw"}}, detach=True,
        network_mode="none")
    try:
        body = b""
        with server.get(f"/dockyard/api/v1.41/containers/{container.id}/logs"
                        "?follow=1&stdout=1", stream=True) as response:
            assert response.status_code == 200
            for chunk in response.iter_content(None):
                body += chunk
                if b"line1" in body:
                    gate.seen()
        assert body.count(b"line") == 3 and b"line3\n" in body    # followed to the exit
        assert gate.opened_after_seen(), "line1 reached the client only after the gate"
    finally:
        gate.seen()
        container.remove(force=True)
        engine.close()


def test_post_with_body_creates_and_removes(server: JupyterServer) -> None:
    headers = {"Authorization": f"token {server.token}", "Content-Type": "application/json"}
    created = requests.post(server.url + "/dockyard/api/v1.41/containers/create?name=via-proxy",
                            data=json.dumps({"Image": "busybox", "Cmd": ["true"]}),
                            headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    removed = requests.delete(server.url + "/dockyard/api/v1.41/containers/via-proxy",
                              headers=headers, timeout=10)
    assert removed.status_code == 204


def test_unreachable_daemon() -> None:
    srv = start_server({"daemon_host": "unix:///nonexistent/dockyard.sock", "start_daemon": False})
    try:
        status = srv.get("/dockyard/status").json()
        assert status["reachable"] is False and status["host"].endswith("/dockyard.sock")
        proxied = srv.get("/dockyard/api/v1.41/version")
        assert proxied.status_code == 502
        assert proxied.json()["message"].startswith(
            "dockyard daemon at unix:///nonexistent/dockyard.sock is unreachable")
    finally:
        stop_server(srv)


def proxied_client(server: JupyterServer) -> docker.DockerClient:
    """docker-py itself, talking Engine API through Jupyter (token in a header)."""
    client = docker.DockerClient(base_url=server.url + "/dockyard/api", version="1.41",
                                 timeout=60)
    client.api.headers["Authorization"] = f"token {server.token}"
    return client


def test_docker_py_through_the_proxy_uploads_and_streams(server: JupyterServer,
                                                         tmp_path: Path) -> None:
    client = proxied_client(server)
    try:
        archive = build_busybox_archive(tmp_path, "proxied/busybox:up")
        with open(archive, "rb") as body:                     # a streamed upload
            client.images.load(body)
        assert client.images.get("proxied/busybox:up").id
        dockerfile = io.BytesIO(b"FROM proxied/busybox:up\nLABEL via=proxy\nRUN echo built\n")
        lines = [m.get("stream", "") for m in client.api.build(fileobj=dockerfile,
                                                               tag="proxied/built:1", decode=True)]
        assert any("Step 3/3 : RUN echo built" in line for line in lines)
        assert client.images.get("proxied/built:1").labels == {"via": "proxy"}
    finally:
        for ref in ("proxied/built:1", "proxied/busybox:up"):
            with contextlib.suppress(docker.errors.NotFound):
                client.images.remove(ref, force=True)
        client.close()


def test_upload_to_a_daemon_that_refuses_early(server: JupyterServer) -> None:
    headers = {"Authorization": f"token {server.token}", "Content-Type": "application/x-tar"}
    body = (b"\0" * 65536 for _ in range(64))                # 4 MiB, chunked
    refused = requests.post(server.url + "/dockyard/api/v1.41/build?dockerfile=nope",
                            data=body, headers=headers, timeout=30)
    assert refused.status_code in {200, 400, 500}
    assert server.get("/dockyard/status").json()["reachable"] is True


def test_container_port_through_jupyter(server: JupyterServer, real_dockerd: Dockerd) -> None:
    port = free_port()
    engine = real_dockerd.client()
    web_app = engine.containers.run(
        "busybox", ["sh", "-c", (f"mkdir -p /www/sub && echo hello-from-container > "
                                 f"/www/sub/index.html && httpd -f -p 127.0.0.1:{port} -h /www")],
        detach=True, network_mode="host", name="port-app")
    try:
        base = f"/dockyard/containers/port-app/ports/{port}"
        deadline = time.monotonic() + 10
        while (page := server.get(base + "/sub/index.html")).status_code != 200:
            assert time.monotonic() < deadline, page.text
            time.sleep(0.1)
        assert page.text == "hello-from-container\n"
        missing = server.get(base + "/nope.html")
        assert missing.status_code == 404                       # the app's own 404
        redirect = server.get(base, allow_redirects=False)
        assert redirect.status_code == 302 and redirect.headers["Location"].endswith(f"{port}/")
        anonymous = requests.get(server.url + base + "/sub/index.html", timeout=10,
                                 allow_redirects=False)
        assert anonymous.status_code in {302, 403}
        unknown = server.get("/dockyard/containers/no-such-box/ports/80/")
        assert unknown.status_code == 404
        assert unknown.json() == {"message": "No such container: no-such-box"}
    finally:
        web_app.remove(force=True)
        engine.close()


def test_container_without_reachable_port(server: JupyterServer, real_dockerd: Dockerd) -> None:
    engine = real_dockerd.client()
    box = engine.containers.run("busybox", ["sleep", "30"], detach=True, network_mode="none",
                                name="isolated-box")
    try:
        answer = server.get("/dockyard/containers/isolated-box/ports/80/")
        assert answer.status_code == 404
        assert "container isolated-box has no reachable port 80" in answer.json()["message"]
    finally:
        box.remove(force=True)
        engine.close()


async def ws_session(server: JupyterServer, path: str, send: bytes | None,
                     want: bytes | tuple[bytes, ...], timeout: float = 10.0) -> bytes:
    """Open the hijack websocket, optionally send stdin, read until ``want`` (each of them:
    stdout and stderr frames come in either order) appears."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    url = server.url.replace("http://", "ws://") + path
    conn = await websocket_connect(HTTPRequest(url, headers={
        "Authorization": f"token {server.token}"}, connect_timeout=timeout))
    received = b""
    try:
        if send is not None:
            await conn.write_message(send, binary=True)
        deadline = time.monotonic() + timeout
        wanted = want if isinstance(want, tuple) else (want,)
        while not all(w in received for w in wanted) and time.monotonic() < deadline:
            message = await asyncio.wait_for(conn.read_message(), timeout)
            if message is None:
                break
            received += message if isinstance(message, bytes) else message.encode()
    finally:
        conn.close()
    return received


def frame(stream: int, data: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data


def test_attach_and_exec_over_a_websocket(server: JupyterServer, real_dockerd: Dockerd) -> None:
    engine = real_dockerd.client()
    box = engine.containers.run("busybox", ["sh", "-c", "while read l; do echo got:$l; done"],
                                detach=True, stdin_open=True, network_mode="none")
    try:
        attach = (f"/dockyard/hijack/v1.41/containers/{box.id}/attach"
                  "?stream=1&stdin=1&stdout=1&stderr=1")
        got = asyncio.run(ws_session(server, attach, b"hello\n", b"got:hello"))
        assert got == frame(1, b"got:hello\n")
        exec_id = engine.api.exec_create(box.id, ["sh", "-c", "echo out; echo err >&2"])["Id"]
        body = urllib.parse.quote(json.dumps({"Detach": False, "Tty": False}))
        got = asyncio.run(ws_session(server, f"/dockyard/hijack/v1.41/exec/{exec_id}/start"
                                     f"?body={body}", None, (b"out\n", b"err\n")))
        assert frame(1, b"out\n") in got and frame(2, b"err\n") in got
    finally:
        box.remove(force=True)
        engine.close()


def test_hijack_errors_and_auth(server: JupyterServer) -> None:
    from tornado.httpclient import HTTPClientError

    with pytest.raises(HTTPClientError) as missing:
        asyncio.run(ws_session(server, "/dockyard/hijack/v1.41/containers/nope/attach?stream=1",
                               None, b""))
    assert missing.value.code == 404
    anonymous = requests.get(server.url + "/dockyard/hijack/v1.41/containers/x/attach",
                             headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                      "Sec-WebSocket-Version": "13",
                                      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="},
                             timeout=10, allow_redirects=False)
    assert anonymous.status_code == 403


@pytest.fixture
def echo_ws_server() -> Iterator[int]:
    """A websocket echo app on loopback, standing in for a web app in a host-network
    container (busybox has no websocket server)."""

    import tornado.web
    import tornado.websocket

    class Echo(tornado.websocket.WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            self.write_message(f"echo:{message!s}")

    port, ready, holder = free_port(), threading.Event(), {}

    def serve() -> None:
        async def main() -> None:
            server = tornado.web.Application([(r"/echo", Echo)]).listen(port, "127.0.0.1")
            holder["stop"] = asyncio.Event()
            holder["loop"] = asyncio.get_running_loop()
            ready.set()
            await holder["stop"].wait()
            server.stop()
        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    yield port
    holder["loop"].call_soon_threadsafe(holder["stop"].set)
    thread.join(10)


def test_container_port_websocket(server: JupyterServer, real_dockerd: Dockerd,
                                  echo_ws_server: int) -> None:
    engine = real_dockerd.client()
    box = engine.containers.run("busybox", ["sleep", "30"], detach=True, network_mode="host",
                                name="ws-app")
    try:
        async def talk() -> str | bytes | None:
            from tornado.httpclient import HTTPRequest
            from tornado.websocket import websocket_connect

            url = (server.url.replace("http://", "ws://") +
                   f"/dockyard/containers/ws-app/ports/{echo_ws_server}/echo")
            conn = await websocket_connect(HTTPRequest(url, headers={
                "Authorization": f"token {server.token}"}, connect_timeout=10))
            await conn.write_message("ping")
            answer = await asyncio.wait_for(conn.read_message(), 10)
            conn.close()
            return answer

        assert asyncio.run(talk()) == "echo:ping"
    finally:
        box.remove(force=True)
        engine.close()
