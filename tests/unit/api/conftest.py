"""A real Engine API server (tornado, on 127.0.0.1) in a background thread, per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from tornado.netutil import bind_sockets

from dockyard.api.app import make_app
from dockyard.config import DaemonConfig
from dockyard.engine import Engine
from dockyard.testing.apiserver import ThreadedServer


class Server:
    """``url`` of a running server over ``engine``; ``get``/``post``/… through requests."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        sock = bind_sockets(0, "127.0.0.1")
        self.url = f"http://127.0.0.1:{sock[0].getsockname()[1]}"
        self.session = requests.Session()
        self.served = ThreadedServer(make_app(engine), sock)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.url + path, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        self.served.close()
        self.session.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Any], Server]]:
    """``serve(engine)`` → a started Server; every server is stopped at teardown."""
    servers: list[Server] = []

    def start(engine: Any) -> Server:
        servers.append(Server(engine))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(DaemonConfig(data_root=tmp_path / "root", hosts=[]))
    yield eng
    eng.close()


@pytest.fixture
def api(serve: Callable[[Any], Server], engine: Engine) -> Server:
    """The API over a real engine on a fresh data root."""
    return serve(engine)


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dockyard.testing.busybox import build_busybox_archive

    return build_busybox_archive(tmp_path_factory.mktemp("bb"))


@pytest.fixture
def loaded(api: Server, busybox_tar: Path) -> Server:
    """The API with busybox:latest loaded."""
    with open(busybox_tar, "rb") as f:
        r = api.post("/images/load", data=f)
    assert r.status_code == 200, r.text
    return api
