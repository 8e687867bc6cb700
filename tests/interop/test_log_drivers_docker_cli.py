"""The docker CLI (28) with ``--log-driver syslog|gelf|fluentd`` against the session daemon,
each expectation recorded from dockerd 20.10 on this machine with the same commands and
loopback listeners (helper-43, session 9): what reaches the listener, ``docker logs`` still
answering, and the words of a refused create or start (exit 125)."""

from __future__ import annotations

import gzip
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

DEADLINE = 30.0


@pytest.fixture
def cli(dockyard_daemon: Any, dockyard_tidy_client: Any) -> Iterator[Any]:
    """``docker ARGS…`` against the session daemon (its containers go with the tidy client)."""
    yield DockerCLI(dockyard_daemon.host)


@pytest.fixture
def udp() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(DEADLINE)
    yield sock
    sock.close()


@pytest.fixture
def tcp() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    sock.settimeout(DEADLINE)
    yield sock
    sock.close()


def _address(sock: socket.socket) -> str:
    return "127.0.0.1:%d" % sock.getsockname()[1]  # noqa: UP031


def _stream(server: socket.socket, enough: Any) -> bytes:
    """What the first connection to ``server`` that sends anything sends, until ``enough``
    (the daemon's reachability check connects first and sends nothing)."""
    deadline = time.monotonic() + DEADLINE
    data = b""
    while not enough(data):
        conn, _ = server.accept()
        with conn:
            conn.settimeout(max(0.1, deadline - time.monotonic()))
            while not enough(data) and (chunk := conn.recv(65536)):
                data += chunk
        assert time.monotonic() < deadline, data
    return data


def _run(cli: Any, *args: str) -> str:
    done = cli("run", "-d", "--network", "none", *args)
    assert done.returncode == 0, done.stderr
    cid: str = done.stdout.strip()
    assert cli("wait", cid).stdout == "0\n"
    return cid


def test_syslog_over_udp(cli: Any, udp: socket.socket) -> None:
    """dockerd 20.10: ``<30>Nov 29 18:08:03 416957a24530[5033]: hello\\n``, ``<27>`` for
    stderr, ``nonl\\n`` for a last line without its newline; ``docker logs`` as ever."""
    cid = _run(cli, "--log-driver", "syslog", "--log-opt", f"syslog-address=udp://{_address(udp)}",
               "busybox", "sh", "-c", "echo hello; echo; printf nonl")
    got = [re.sub(rb"\[\d+\]", b"[PID]", udp.recv(70000)) for _ in range(2)]
    stamp = rb"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d"
    short = cid[:12].encode()
    assert re.fullmatch(rb"<30>" + stamp + b" " + short + rb"\[PID\]: hello\n", got[0])
    assert re.fullmatch(rb"<30>" + stamp + b" " + short + rb"\[PID\]: nonl\n", got[1])
    assert cli("logs", cid).stdout == "hello\n\nnonl"


def test_syslog_over_tcp_rfc5424_with_a_tag(cli: Any, tcp: socket.socket) -> None:
    """dockerd 20.10: ``<30>1 2026-11-29T18:06:31Z vm sl2/busybox 9708 sl2/busybox - five``."""
    name = f"h43-cli-{os.getpid()}"
    _run(cli, "--name", name, "--log-driver", "syslog", "--log-opt",
         f"syslog-address=tcp://{_address(tcp)}", "--log-opt", "syslog-format=rfc5424",
         "--log-opt", "tag={{.Name}}/{{.ImageName}}", "busybox", "echo", "five")
    data = _stream(tcp, lambda d: d.endswith(b"\n"))
    tag = f"{name}/busybox"
    assert re.fullmatch(rf"<30>1 \S+T\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d) {socket.gethostname()} "
                        rf"{tag} \d+ {tag} - five\n", data.decode()), data


def test_gelf_and_fluentd(cli: Any, udp: socket.socket, tcp: socket.socket) -> None:
    cid = _run(cli, "--log-driver", "gelf", "--log-opt", f"gelf-address=udp://{_address(udp)}",
               "busybox", "sh", "-c", "echo err >&2")
    message = json.loads(gzip.decompress(udp.recv(70000)))
    assert (message["short_message"], message["level"], message["_container_id"],
            message["_command"], message["_tag"]) == ("err", 3, cid, "sh -c echo err >&2",
                                                      cid[:12])
    cid = _run(cli, "--log-driver", "fluentd", "--log-opt", f"fluentd-address={_address(tcp)}",
               "busybox", "echo", "hello")
    data = _stream(tcp, lambda d: d.endswith(b"hello\x80"))  # the record ends with log
    assert data.startswith(b"\x94\xac" + cid[:12].encode() + b"\xd2")
    assert b"\xa6source\xa6stdout" in data and b"\xa3log\xa5hello" in data


def test_refusals_in_dockerds_words(cli: Any) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # never listening: refused
    port = closed.getsockname()[1]
    try:
        done = cli("run", "--rm", "--log-driver", "syslog", "--log-opt",
                   f"syslog-address=tcp://127.0.0.1:{port}", "busybox", "true")
    finally:
        closed.close()
    assert done.returncode == 125
    assert done.stderr.splitlines()[0] == (
        "docker: Error response from daemon: failed to initialize logging driver: dial tcp "
        f"127.0.0.1:{port}: connect: connection refused")
    for options, words in ([["--log-opt", "syslog-facility=bogus"], "invalid syslog facility"],
                           [["--log-opt", "syslog-format=bogus"], "Invalid syslog format"],
                           [["--log-opt", "foo=bar"], "unknown log opt 'foo' for syslog log driver"]):
        done = cli("create", "--log-driver", "syslog", *options, "busybox")
        assert done.returncode == 1 and done.stderr.strip() == f"Error response from daemon: {words}"
    done = cli("run", "--rm", "--log-driver", "journald", "busybox", "true")
    assert done.stderr.splitlines()[0] == ("docker: Error response from daemon: failed to "
                                           "initialize logging driver: journald is not enabled "
                                           "on this host")
    done = cli("run", "--rm", "--log-driver", "gelf", "busybox", "true")
    assert done.stderr.splitlines()[0] == ("docker: Error response from daemon: gelf-address is "
                                           "a required parameter")
