"""Logs, attach, resize, wait conditions and events through docker-py."""

from __future__ import annotations

import socket
import time
from typing import Any

import docker.errors
import pytest

from dockyard.api.hijack import demux

SCRIPT = "echo o1; echo e1 >&2; sleep 0.2; echo o2; echo e2 >&2"


def test_logs_streams_tail_timestamps_since_until(client: Any) -> None:
    c = client.containers.run("busybox", ["sh", "-c", SCRIPT], detach=True)
    c.wait()
    assert c.logs(stdout=True, stderr=False) == b"o1\no2\n"
    assert c.logs(stdout=False, stderr=True) == b"e1\ne2\n"
    assert c.logs(tail=1) == b"e2\n"
    assert c.logs(tail=0) == b""
    stamped = c.logs(timestamps=True, stderr=False).splitlines()
    assert [line.split(b" ", 1)[1] for line in stamped] == [b"o1", b"o2"]
    assert stamped[0].split(b" ")[0].endswith(b"Z")
    assert c.logs(since=int(time.time()) + 5) == b""
    assert c.logs(until=int(time.time()) - 3600) == b""
    assert c.logs(until=int(time.time()) + 5, stderr=False) == b"o1\no2\n"
    with pytest.raises(docker.errors.APIError) as info:
        client.api.logs(c.id, stdout=False, stderr=False)
    assert info.value.status_code == 400


def test_logs_follow_stream(client: Any) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.1; done"],
                              detach=True)
    assert b"".join(c.logs(stream=True, follow=True)) == b"1\n2\n3\n"


def test_attach_stdin_before_start(client: Any) -> None:
    config = client.api.create_container_config("busybox", ["sh", "-c", "cat; echo bye >&2"],
                                                stdin_open=True)
    config["StdinOnce"] = True  # as `docker run -i` sets it (docker-py has no parameter for it)
    c = client.api.create_container_from_config(config)
    sock = client.api.attach_socket(c, params={"stdin": 1, "stdout": 1, "stderr": 1,
                                               "stream": 1})
    raw: socket.socket = sock._sock
    client.api.start(c)
    raw.sendall(b"hello\n")
    raw.shutdown(socket.SHUT_WR)
    data = b""
    raw.settimeout(10)
    while chunk := raw.recv(65536):
        data += chunk
    sock.close()
    assert demux(data) == (b"hello\n", b"bye\n")
    assert client.api.wait(c)["StatusCode"] == 0


def test_attach_logs_replay_and_wait_next_exit(client: Any) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "echo first"], detach=True)
    c.wait()
    replay = client.api.attach(c.id, logs=True, stream=False)
    assert replay == b"first\n"
    # dockerd 20.10 reads a condition it does not know as not-running (test_wait_conditions_dockerd)
    assert client.api.wait(c.id, condition="bogus")["StatusCode"] == 0


def test_tty_logs_are_raw_and_resize_reaches_the_pty(client: Any) -> None:
    c = client.api.create_container("busybox", ["sh", "-c", "sleep 0.5; stty size"], tty=True)
    client.api.start(c)
    client.api.resize(c, height=40, width=100)
    assert client.api.wait(c)["StatusCode"] == 0
    assert client.api.logs(c) == b"40 100\r\n"


def test_events_shape_and_filters(client: Any) -> None:
    since = time.time()
    c = client.containers.run("busybox", "true", detach=True, labels={"ev": "1"})
    c.wait()
    c.remove()
    events = list(client.events(since=since, until=time.time() + 0.3, decode=True,
                                filters={"container": c.id}))
    assert [e["Action"] for e in events] == ["create", "start", "die", "destroy"]
    die = events[2]
    assert die["Type"] == "container" and die["scope"] == "local" and die["status"] == "die"
    assert die["Actor"]["ID"] == c.id == die["id"] and die["from"] == "busybox"
    assert die["Actor"]["Attributes"]["exitCode"] == "0"
    assert die["Actor"]["Attributes"]["ev"] == "1"
    assert die["timeNano"] // 1_000_000_000 == die["time"]
    sleeper = client.containers.run("busybox", ["sleep", "100"], detach=True)
    sleeper.kill("KILL")
    sleeper.wait()
    actions = [e["Action"] for e in client.events(
        since=since, until=time.time() + 0.2, decode=True, filters={"container": sleeper.id})]
    assert actions == ["create", "start", "kill", "die"]
    only_die = list(client.events(since=since, until=time.time() + 0.1, decode=True,
                                  filters={"container": c.id, "event": "die"}))
    assert [e["Action"] for e in only_die] == ["die"]


def test_tty_stdin_and_resize_after_the_shim_hand_off(client: Any) -> None:
    from dockyard.containers.shim import HANDOFF_AFTER

    c = client.api.create_container("busybox", "sh", tty=True, stdin_open=True)
    client.api.start(c)
    time.sleep(HANDOFF_AFTER + 0.5)
    client.api.resize(c, height=33, width=77)
    sock = client.api.attach_socket(c, params={"stdin": 1, "stdout": 1, "stream": 1})
    raw: socket.socket = sock._sock
    raw.sendall(b"stty size; echo $((6*7)); exit 3\n")
    raw.settimeout(10)
    data = b""
    while chunk := raw.recv(65536):
        data += chunk
    sock.close()
    assert b"33 77" in data and b"42" in data
    assert client.api.wait(c)["StatusCode"] == 3


def test_a_failed_start_tells_no_next_exit_waiter(client: Any, dockyard_daemon: Any) -> None:
    """dockerd 20.10 leaves a ``next-exit`` wait pending when a start fails (no run exited:
    the docker CLI's ``run`` would print "Error waiting for container" besides the start's
    error); the container's removal answers it."""
    cid = client.api.create_container("busybox", ["nosuchcmd"])["Id"]
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(dockyard_daemon.host.removeprefix("unix://"))
        s.sendall(f"POST /containers/{cid}/wait?condition=next-exit HTTP/1.1\r\nHost: d\r\n"
                  "Content-Length: 0\r\n\r\n".encode())
        s.settimeout(10)
        assert s.recv(4096).startswith(b"HTTP/1.1 200")  # the headers: the wait is registered
        with pytest.raises(docker.errors.APIError, match="executable file not found"):
            client.api.start(cid)
        s.settimeout(1)
        with pytest.raises(TimeoutError):
            s.recv(4096)
        client.api.remove_container(cid, force=True)
        s.settimeout(10)
        body = b""
        while b"StatusCode" not in body:
            chunk = s.recv(4096)
            assert chunk, body
            body += chunk
        assert b'"StatusCode":127' in body
