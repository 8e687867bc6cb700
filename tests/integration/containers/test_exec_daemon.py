"""docker-py's exec through the daemon: exec_run with user, env, workdir, exit codes, stdin."""

from __future__ import annotations

import socket
from typing import Any

import docker
import pytest
from docker.utils.socket import consume_socket_output, demux_adaptor, frames_iter


@pytest.fixture
def box(client: Any) -> Any:
    return client.containers.run("busybox", ["sleep", "1000"], detach=True,
                                 environment={"FROM_RUN": "1"}, working_dir="/tmp")


def test_exec_run_user_env_workdir(box: Any) -> None:
    assert box.exec_run("id -u", user="nobody") == (0, b"65534\n")
    result = box.exec_run(["sh", "-c", "echo $FROM_RUN $MINE; pwd"], environment={"MINE": "x"})
    assert result == (0, b"1 x\n/tmp\n")
    assert box.exec_run("pwd", workdir="/etc").output == b"/etc\n"
    assert box.exec_run(["sh", "-c", "exit 3"]).exit_code == 3
    assert box.exec_run("hostname").output.strip() == box.id[:12].encode()


def test_exec_failures(box: Any) -> None:
    code, output = box.exec_run("nosuchcmd")
    assert code == 127 and b'exec: "nosuchcmd": executable file not found in $PATH' in output
    assert box.exec_run("true", user="nouser").exit_code == 126


def test_exec_stdin_socket(box: Any, client: Any) -> None:
    exec_id = client.api.exec_create(box.id, ["sh", "-c", "tr a-z A-Z; echo end"], stdin=True)["Id"]
    sock: Any = client.api.exec_start(exec_id, socket=True)
    sock._sock.sendall(b"quiet\n")
    sock._sock.shutdown(socket.SHUT_WR)
    frames = (demux_adaptor(*f) for f in frames_iter(sock, False))
    assert consume_socket_output(frames, demux=True) == (b"QUIET\nend\n", None)
    sock.close()
    assert client.api.exec_inspect(exec_id)["ExitCode"] == 0


def test_exec_on_a_stopped_container_is_409(client: Any) -> None:
    stopped = client.containers.create("busybox", ["true"])
    with pytest.raises(docker.errors.APIError) as info:
        stopped.exec_run("true")
    assert info.value.status_code == 409
    assert info.value.explanation == f"Container {stopped.id} is not running"
    with pytest.raises(docker.errors.NotFound, match="No such exec instance: deadbeef"):
        client.api.exec_inspect("deadbeef")


def test_exec_on_a_paused_container_is_409(box: Any) -> None:
    box.pause()
    try:
        with pytest.raises(docker.errors.APIError) as info:
            box.exec_run("true")
    finally:
        box.unpause()
    assert info.value.status_code == 409
    assert info.value.explanation == f"Container {box.id} is paused, unpause the container before exec"
    assert box.exec_run("true").exit_code == 0


def test_a_container_at_its_pids_limit_takes_an_exec(client: Any) -> None:
    """As under dockerd 20.10 (recorded: ``--pids-limit 1``, ``docker exec c true`` and
    ``sh -c 'echo hi'`` exit 0, pids.current then 2): runc moves an exec's process into the
    container's cgroups only once it exists, and a move is not a fork — so a fork-bombed
    container can still be looked into and killed from an exec. The exec's process is in the
    pids cgroup all the same: it can fork no further."""
    box = client.containers.run("busybox", ["sleep", "1000"], detach=True, pids_limit=1)
    try:
        assert box.exec_run("true") == (0, b"")
        script = "read n < /sys/fs/cgroup/pids/pids.current; echo $n; ls /; true"
        code, out = box.exec_run(["sh", "-c", script])  # builtins but ls: a fork
        assert (code, out) == (2, b"2\nsh: can't fork: Resource temporarily unavailable\n")
    finally:
        box.remove(force=True)
