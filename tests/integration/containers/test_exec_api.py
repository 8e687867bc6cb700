"""The exec endpoints over a real Engine API server, driven by docker-py's low-level client,
against a container started with the low-level Runtime (its record comes from a minimal
stand-in for the container manager: ``get`` only, with the record fields exec reads)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.utils.socket import consume_socket_output, demux_adaptor, frames_iter
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_unix_socket

from dockyard.api.app import make_app
from dockyard.containers.execs import ExecManager
from dockyard.containers.runtime import Container, Runtime
from dockyard.containers.spec import ContainerSpec
from dockyard.errors import NotFound
from dockyard.testing.busybox import busybox_rootfs


@dataclass
class ContainerRecord:
    """The fields of H1's record that exec reads."""

    id: str
    name: str
    config: dict[str, Any]
    host_config: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


class Containers:
    """Stand-in for ``engine.containers``: records by id; the shared runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.records: dict[str, ContainerRecord] = {}

    def get(self, name: str) -> ContainerRecord:
        for record in self.records.values():
            if record.id.startswith(name) or record.name.lstrip("/") == name.lstrip("/"):
                return record
        raise NotFound(f"No such container: {name}")


class EngineStandIn:
    def __init__(self, runtime: Runtime) -> None:
        self.containers = Containers(runtime)
        self.execs = ExecManager(self)


class Server:
    def __init__(self, engine: Any, path: Path) -> None:
        self.path = str(path)
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = HTTPServer(make_app(engine))
            self.server.add_socket(bind_unix_socket(self.path))
            self.loop.call_soon(ready.set)
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        assert ready.wait(5)

    def close(self) -> None:
        async def stop() -> None:
            self.server.stop()
            await self.server.close_all_connections()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EngineStandIn, Server, ContainerRecord]]:
    base = tmp_path_factory.mktemp("execapi")
    rootfs = busybox_rootfs(base / "rootfs")
    runtime = Runtime()
    engine = EngineStandIn(runtime)
    cid = os.urandom(32).hex()
    spec = ContainerSpec(id=cid, lower_dirs=[str(rootfs)], upper_dir=str(base / "upper"),
                         work_dir=str(base / "work"), args=["sleep", "1000"], hostname="apibox",
                         env=["PATH=/bin", "FROM_IMAGE=1"])
    container: Container = runtime.start(spec)
    record = ContainerRecord(id=cid, name="/apibox",
                             config={"Env": ["PATH=/bin", "FROM_IMAGE=1"], "WorkingDir": "/tmp"},
                             state={"Running": True, "Pid": container.pid, "Status": "running"})
    engine.containers.records[cid] = record
    server = Server(engine, base / "api.sock")
    yield engine, server, record
    server.close()
    container.cleanup()
    runtime.close()


@pytest.fixture
def api(env: tuple[EngineStandIn, Server, ContainerRecord]) -> Iterator[docker.APIClient]:
    client = docker.APIClient(base_url=f"unix://{env[1].path}", version="1.45")
    yield client
    client.close()


def test_create_start_inspect_exit_code(api: docker.APIClient, env: Any) -> None:
    record = env[2]
    exec_id = api.exec_create("apibox", ["sh", "-c", "echo out; echo err >&2; exit 3"])["Id"]
    before = api.exec_inspect(exec_id)
    assert (before["Running"], before["ExitCode"], before["ContainerID"]) == (False, None, record.id)
    out, err = api.exec_start(exec_id, demux=True)
    assert (out, err) == (b"out\n", b"err\n")
    after = api.exec_inspect(exec_id)
    assert after["ExitCode"] == 3 and not after["Running"] and after["Pid"] > 0
    assert after["ProcessConfig"] == {"tty": False, "entrypoint": "sh", "privileged": False,
                                      "arguments": ["-c", "echo out; echo err >&2; exit 3"], "user": ""}
    with pytest.raises(docker.errors.APIError) as info:
        api.exec_start(exec_id)
    assert info.value.status_code == 409 and "has already run" in str(info.value)


def test_user_env_workdir(api: docker.APIClient) -> None:
    exec_id = api.exec_create("apibox", ["sh", "-c", "id -u; pwd; echo $FROM_IMAGE $MINE $HOME"],
                              user="nobody", environment={"MINE": "x"})["Id"]
    assert api.exec_start(exec_id).split() == [b"65534", b"/tmp", b"1", b"x", b"/home"]
    exec_id = api.exec_create("apibox", ["pwd"], workdir="/etc")["Id"]
    assert api.exec_start(exec_id) == b"/etc\n"


def test_not_found_and_failed_starts(api: docker.APIClient) -> None:
    with pytest.raises(docker.errors.NotFound, match="No such exec instance: nope"):
        api.exec_inspect("nope")
    with pytest.raises(docker.errors.NotFound, match="No such container: ghost"):
        api.exec_create("ghost", ["true"])
    with pytest.raises(docker.errors.APIError, match="No exec command specified"):
        api.exec_create("apibox", [])
    exec_id = api.exec_create("apibox", ["nosuch"])["Id"]
    output = api.exec_start(exec_id)
    assert output == (b"OCI runtime exec failed: exec failed: unable to start container process: "
                      b'exec: "nosuch": executable file not found in $PATH: unknown\r\n')
    assert api.exec_inspect(exec_id)["ExitCode"] == 127
    exec_id = api.exec_create("apibox", ["true"], user="nouser")["Id"]
    assert b"unable to find user nouser" in api.exec_start(exec_id)
    assert api.exec_inspect(exec_id)["ExitCode"] == 126


def test_stdin_socket_half_close(api: docker.APIClient) -> None:
    exec_id = api.exec_create("apibox", ["sh", "-c", "cat; echo done"], stdin=True)["Id"]
    sock: Any = api.exec_start(exec_id, socket=True)
    sock._sock.sendall(b"piped in\n")
    sock._sock.shutdown(socket.SHUT_WR)
    frames = (demux_adaptor(*f) for f in frames_iter(sock, False))
    assert consume_socket_output(frames, demux=True) == (b"piped in\ndone\n", None)
    sock.close()


def test_detach_and_tty(api: docker.APIClient, env: Any) -> None:
    exec_id = api.exec_create("apibox", ["sh", "-c", "sleep 0.2; exit 5"])["Id"]
    assert api.exec_start(exec_id, detach=True) == ""
    assert api.exec_inspect(exec_id)["Running"] is True
    assert env[0].execs.wait(exec_id, 5) == 5
    exec_id = api.exec_create("apibox", ["sh", "-c", "tty; echo $TERM"], tty=True)["Id"]
    out = api.exec_start(exec_id, tty=True)
    assert out.startswith(b"/dev/pts/") and out.endswith(b"xterm\r\n")


def test_container_not_running_is_409(api: docker.APIClient, env: Any) -> None:
    record = env[2]
    record.state["Running"] = False
    try:
        with pytest.raises(docker.errors.APIError) as info:
            api.exec_create("apibox", ["true"])
    finally:
        record.state["Running"] = True
    assert info.value.status_code == 409
    assert info.value.explanation == f"Container {record.id} is not running"
