"""The exec endpoints over a real Engine API server, driven by docker-py's low-level client,
against a container started with the low-level Runtime (see ``standin``)."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from docker.utils.socket import consume_socket_output, demux_adaptor, frames_iter
from standin import ContainerRecord, EngineStandIn, Server, start_box

from dockyard.containers.runtime import Runtime
from dockyard.testing.busybox import busybox_rootfs


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EngineStandIn, Server, ContainerRecord]]:
    base = tmp_path_factory.mktemp("execapi")
    rootfs = busybox_rootfs(base / "rootfs")
    runtime = Runtime()
    engine = EngineStandIn(runtime)
    record, container = start_box(engine, base, rootfs, "apibox", hostname="apibox",
                                  config={"Env": ["PATH=/bin", "FROM_IMAGE=1"], "WorkingDir": "/tmp"},
                                  env=["PATH=/bin", "FROM_IMAGE=1"])
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
                                      "arguments": ["-c", "echo out; echo err >&2; exit 3"]}
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


def test_resize_a_tty_exec(api: docker.APIClient) -> None:
    exec_id = api.exec_create("apibox", ["sh", "-c", "sleep 0.5; stty size"], tty=True)["Id"]
    sock: Any = api.exec_start(exec_id, tty=True, socket=True)
    api.exec_resize(exec_id, height=33, width=101)
    out = b""
    while chunk := sock._sock.recv(4096):
        out += chunk
    sock.close()
    assert out.strip() == b"33 101"
    with pytest.raises(docker.errors.APIError) as info:
        api.exec_resize(exec_id, height=1, width=1)
    assert info.value.status_code == 409


def test_finished_execs_are_forgotten_past_the_cap(api: docker.APIClient, env: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import dockyard.containers.execs as execs_module

    manager = env[0].execs
    monkeypatch.setattr(execs_module, "MAX_FINISHED", len(manager._execs) + 1)
    first = api.exec_create("apibox", ["true"])["Id"]
    api.exec_start(first)
    api.exec_create("apibox", ["true"])
    with pytest.raises(docker.errors.NotFound):
        api.exec_inspect(first)


def test_detach_keys_leave_a_tty_exec_running(api: docker.APIClient, env: Any) -> None:
    exec_id = api.exec_create("apibox", ["sh"], tty=True, stdin=True)["Id"]
    sock: Any = api.exec_start(exec_id, tty=True, socket=True)
    sock._sock.settimeout(10)
    sock._sock.sendall(b"echo before-$((2+3))\n")
    out = b""
    while b"before-5" not in out:
        out += sock._sock.recv(4096)
    sock._sock.sendall(b"\x10\x11")  # ctrl-p ctrl-q
    while sock._sock.recv(4096):  # the daemon hangs up…
        pass
    sock.close()
    assert api.exec_inspect(exec_id)["Running"] is True  # …and the shell lives on
    pid = api.exec_inspect(exec_id)["Pid"]
    os.kill(pid, signal.SIGKILL)
    assert env[0].execs.wait(exec_id, 5) == 128 + signal.SIGKILL
