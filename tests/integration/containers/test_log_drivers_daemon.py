"""``--log-driver syslog|gelf|fluentd`` through the daemon: the shim delivers each line to a
loopback listener (UDP, TCP, a unix socket in a temp dir) as dockerd 20.10 sends it, ``docker
logs`` still reads the json-file log, an unreachable sink fails the start in dockerd's words,
and a shim outliving its daemon goes on delivering. The expected bytes were recorded from
dockerd 20.10 on this machine (tests/unit/containers/test_logdrivers.py)."""

from __future__ import annotations

import gzip
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from dockyard.testing.daemon import DaemonProcess

DEADLINE = 30.0  # generous: the listeners wait for datagrams, nothing is timed


class Listener:
    """A loopback listener of one kind that keeps what it receives (each datagram, or each
    stream connection's bytes)."""

    def __init__(self, kind: str, path: str = "", tls: Any = None) -> None:
        self.kind, self.tls = kind, tls
        family = socket.AF_UNIX if kind.startswith("unix") else socket.AF_INET
        stype = socket.SOCK_DGRAM if kind in ("udp", "unixgram") else socket.SOCK_STREAM
        self.sock = socket.socket(family, stype)
        self.sock.bind(path or ("127.0.0.1", 0))
        self.address = path or f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.received: list[bytes] = []
        self.connections = 0
        self.cond = threading.Condition()
        if stype == socket.SOCK_STREAM:
            self.sock.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                if self.kind in ("udp", "unixgram"):
                    self._keep(self.sock.recv(70000))
                    continue
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except OSError:  # the daemon's check, gone after its handshake
                return
        with conn:
            while data := conn.recv(70000):
                self._keep(data)

    def _keep(self, data: bytes) -> None:
        with self.cond:
            self.received.append(data)
            self.cond.notify_all()

    def data(self) -> bytes:
        with self.cond:
            return b"".join(self.received)

    def wait_for(self, test: Any) -> Any:
        """The first true ``test(received)``, waiting for more as long as it takes."""
        deadline = time.monotonic() + DEADLINE
        with self.cond:
            while not (found := test(list(self.received))):
                left = deadline - time.monotonic()
                assert left > 0, f"never got it: {self.received!r}"
                self.cond.wait(left)
        return found

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    made: list[Listener] = []
    yield made
    for listener in made:
        listener.close()


def _listen(made: list[Listener], kind: str, path: str = "", tls: Any = None) -> Listener:
    listener = Listener(kind, path, tls)
    made.append(listener)
    return listener


def _run(client: Any, command: str, driver: str, **options: str) -> Any:
    config = docker.types.LogConfig(type=driver, config=options)
    return client.containers.run("busybox", ["sh", "-c", command], detach=True,
                                 log_config=config, network_mode="none", name=None)


def _lines(listener: Listener, count: int) -> list[bytes]:
    def enough(received: list[bytes]) -> list[bytes] | None:
        lines = b"".join(received).splitlines(keepends=True) \
            if listener.kind in ("tcp", "unix") else received
        return lines if len(lines) >= count else None
    found: list[bytes] = listener.wait_for(enough)
    return found


def _pid(message: bytes) -> str:
    return re.sub(rb"\[\d+\]", b"[PID]", message).decode()


SYSLOG_DEFAULT = re.compile(r"<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ([0-9a-f]{12})\[PID\]: "
                            r"(.*)\n", re.DOTALL)


def test_syslog_udp_default_format(client: Any, listeners: list[Listener]) -> None:
    """dockerd 20.10: ``<30>Nov 29 18:08:03 416957a24530[5033]: hello\\n``, stderr ``<27>``,
    a line without its newline sent with one, an empty line not sent."""
    udp = _listen(listeners, "udp")
    c = _run(client, "echo hello; echo err >&2; echo; printf nonl", "syslog",
             **{"syslog-address": f"udp://{udp.address}"})
    assert c.wait()["StatusCode"] == 0
    got = [SYSLOG_DEFAULT.fullmatch(_pid(m)) for m in _lines(udp, 3)]
    found = [(m[1], m[2], m[3]) for m in got if m]  # two pipes: ordered within one, not across
    assert [f for f in found if f[0] == "30"] == [("30", c.id[:12], "hello"), ("30", c.id[:12], "nonl")]
    assert [f for f in found if f[0] != "30"] == [("27", c.id[:12], "err")]
    assert c.logs(stderr=False) == b"hello\n\nnonl"  # dual logging: docker logs as before
    assert c.logs(stdout=False) == b"err\n"


def test_a_first_line_after_the_hand_off(client: Any, listeners: list[Listener]) -> None:
    """The shim makes its delivery for the first line; one that comes after its hand-off at
    0.5 s finds the settings carried over."""
    udp = _listen(listeners, "udp")
    c = _run(client, "sleep 1; echo late", "syslog", **{"syslog-address": f"udp://{udp.address}"})
    assert c.wait()["StatusCode"] == 0
    assert _lines(udp, 1)[0].endswith(b"]: late\n")


def test_syslog_tcp_rfc5424_and_tag(client: Any, listeners: list[Listener]) -> None:
    """dockerd 20.10: ``<30>1 2026-11-29T18:06:31Z vm sl2/busybox 9708 sl2/busybox - five``."""
    tcp = _listen(listeners, "tcp")
    name = "h43-syslog-tag"
    config = docker.types.LogConfig(type="syslog", config={
        "syslog-address": f"tcp://{tcp.address}", "syslog-format": "rfc5424",
        "syslog-facility": "local3", "tag": "{{.Name}}/{{.ImageName}}|{{.DaemonName}}"})
    c = client.containers.run("busybox", ["sh", "-c", "echo five; echo six >&2"], detach=True,
                              log_config=config, network_mode="none", name=name)
    c.wait()
    host, tag = socket.gethostname(), f"{name}/busybox|docker"
    pattern = (rf"<(\d+)>1 \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d) {host} "
               rf"{re.escape(tag)} \d+ {re.escape(tag)} - (\w+)\n")
    got = [re.fullmatch(pattern, m.decode()) for m in _lines(tcp, 2)]
    assert sorted((m[1], m[3]) for m in got if m) == [("155", "six"), ("158", "five")]


def test_syslog_unix_sockets_rfc5424micro(client: Any, listeners: list[Listener],
                                          tmp_path: Path) -> None:
    gram = _listen(listeners, "unixgram", str(tmp_path / "gram.sock"))
    stream = _listen(listeners, "unix", str(tmp_path / "stream.sock"))
    c = _run(client, "echo one", "syslog", **{"syslog-address": f"unixgram://{gram.address}",
                                              "syslog-format": "rfc5424micro"})
    d = _run(client, "echo two", "syslog", **{"syslog-address": f"unix://{stream.address}",
                                              "syslog-format": "rfc3164"})
    c.wait(), d.wait()
    micro = _lines(gram, 1)[0].decode()
    assert re.fullmatch(rf"<30>1 \S+T\d\d:\d\d:\d\d(\.\d{{1,6}})?Z \S+ {c.id[:12]} \d+ "
                        rf"{c.id[:12]} - one\n", micro), micro
    classic = _lines(stream, 1)[0].decode()
    assert re.fullmatch(rf"<30>\w{{3}} [ \d]\d \d\d:\d\d:\d\d {socket.gethostname()} "
                        rf"{d.id[:12]}\[\d+\]: two\n", classic), classic


def test_syslog_over_tls(client: Any, listeners: list[Listener], tmp_path: Path) -> None:
    """dockerd 20.10 over ``tcp+tls`` (recorded): newline-ended messages, and RFC 5425's
    octet counting with rfc5424 — ``69 <30>1 2026-11-29T18:39:27Z vm 3c20cdd6fab8 5033
    3c20cdd6fab8 - hello\\n`` (the length counts the newline)."""
    import ssl
    import subprocess
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", "key.pem", "-out", "cert.pem"],
                   check=True, capture_output=True, cwd=tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    tls = _listen(listeners, "tcp", tls=server)
    address = f"tcp+tls://{tls.address}"
    c = _run(client, "echo hello", "syslog", **{
        "syslog-address": address, "syslog-tls-ca-cert": str(tmp_path / "cert.pem"),
        "syslog-format": "rfc5424"})
    c.wait()
    message = tls.wait_for(lambda r: b"".join(r) if b"".join(r).endswith(b"\n") else None)
    length, _, rest = message.partition(b" ")
    assert int(length) == len(rest)
    assert re.fullmatch(rb"<30>1 \S+ \S+ (\w{12}) \d+ \1 - hello\n", rest), message
    d = _run(client, "echo two; echo three >&2", "syslog", **{
        "syslog-address": address, "syslog-tls-skip-verify": "true"})
    d.wait()
    got = tls.wait_for(lambda r: b"".join(r) if b"".join(r).count(b"\n") >= 3 else None)
    lines = [_pid(m) for m in got.splitlines(keepends=True)[1:3]]
    assert sorted(line.split("[PID]: ")[1] for line in lines) == ["three\n", "two\n"]
    assert all(re.match(rf"<(30|27)>\w{{3}} [ \d]\d \d\d:\d\d:\d\d {d.id[:12]}\[PID\]: ", line)
               for line in lines), lines
    e = _run(client, "echo early; sleep 1; echo late", "syslog", **{
        "syslog-address": address, "syslog-tls-skip-verify": "true"})
    e.wait()  # a TLS session cannot cross the shim's hand-off: it dials again after it
    got = tls.wait_for(lambda r: b"".join(r) if b"".join(r).count(b"\n") >= 5 else None)
    assert [m.rsplit(b": ", 1)[1] for m in got.splitlines(keepends=True)[3:]] == \
        [b"early\n", b"late\n"]


def test_an_unreachable_sink_fails_the_start(client: Any, tmp_path: Path) -> None:
    """dockerd 20.10's words (recorded): the create is taken, the start refused."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]  # bound, not listening: refused
    cases = [("syslog", {"syslog-address": f"tcp://127.0.0.1:{port}"},
              (f"failed to initialize logging driver: dial tcp 127.0.0.1:{port}: connect: "
              "connection refused")),
             ("fluentd", {"fluentd-address": f"127.0.0.1:{port}"},
              (f"failed to initialize logging driver: dial tcp 127.0.0.1:{port}: connect: "
              "connection refused")),
             ("journald", {}, ("failed to initialize logging driver: journald is not enabled "
                              "on this host"))]
    try:
        for driver, options, words in cases:
            with pytest.raises(docker.errors.APIError) as err:
                _run(client, "echo never", driver, **options)
            assert err.value.explanation == words
    finally:
        closed.close()
    with pytest.raises(docker.errors.APIError) as err:
        _run(client, "true", "syslog", **{"syslog-address": f"unix://{tmp_path}/none.sock"})
    assert err.value.explanation == f"stat {tmp_path}/none.sock: no such file or directory"
    assert err.value.status_code == 400


def test_a_sink_gone_while_running_drops_lines(client: Any, listeners: list[Listener]) -> None:
    """A TCP syslog server that goes away does not stop the container nor its log."""
    tcp = _listen(listeners, "tcp")
    c = _run(client, "echo first; sleep 1; i=0; while [ $i -lt 200 ]; do echo x$i; "
             "i=$((i+1)); done; echo done", "syslog", **{"syslog-address": f"tcp://{tcp.address}"})
    _lines(tcp, 1)
    tcp.close()
    assert c.wait()["StatusCode"] == 0
    assert c.logs().splitlines()[-1] == b"done"


# ---- gelf ----------------------------------------------------------------------------------------


def test_gelf_udp_gzip_and_zlib(client: Any, listeners: list[Listener]) -> None:
    udp = _listen(listeners, "udp")
    c = _run(client, "echo hello; echo 'e<r>r' >&2; echo; printf nonl", "gelf",
             **{"gelf-address": f"udp://{udp.address}"})
    c.wait()
    got = [json.loads(gzip.decompress(d)) for d in _lines(udp, 3)]
    c.reload()
    common = {"version": "1.1", "host": socket.gethostname(),
              "_command": "sh -c echo hello; echo 'e<r>r' >&2; echo; printf nonl",
              "_container_id": c.id, "_container_name": c.name, "_created": c.attrs["Created"],
              "_image_id": c.attrs["Image"], "_image_name": "busybox", "_tag": c.id[:12]}
    for message in got:
        assert isinstance(message.pop("timestamp"), float)
    assert [m for m in got if m["level"] == 6] == [{**common, "short_message": "hello", "level": 6},
                                                   {**common, "short_message": "nonl", "level": 6}]
    assert [m for m in got if m["level"] != 6] == [{**common, "short_message": "e<r>r", "level": 3}]
    d = _run(client, "echo zz", "gelf", **{"gelf-address": f"udp://{udp.address}",
                                           "gelf-compression-type": "zlib", "tag": "tg"})
    d.wait()
    import zlib
    last = udp.wait_for(lambda r: r[-1] if len(r) >= 4 else None)
    assert last[:2] == b"x\x01"
    assert json.loads(zlib.decompress(last))["_tag"] == "tg"


def test_gelf_tcp_is_nul_terminated_json(client: Any, listeners: list[Listener]) -> None:
    tcp = _listen(listeners, "tcp")
    c = _run(client, "echo hello; echo err >&2", "gelf",
             **{"gelf-address": f"tcp://{tcp.address}"})
    c.wait()
    data = tcp.wait_for(lambda r: b"".join(r) if b"".join(r).count(b"\0") >= 2 else None)
    messages = [json.loads(m) for m in data.split(b"\0")[:-1]]
    assert sorted((m["short_message"], m["level"]) for m in messages) == [("err", 3), ("hello", 6)]
    assert b"\\u003e\\u00262" in data  # Go's escapes of the command's '>&2'


def test_gelf_chunks_a_large_message(client: Any, listeners: list[Listener]) -> None:
    udp = _listen(listeners, "udp")
    c = _run(client, "head -c 6000 /dev/urandom | od -An -tx1 | tr -d ' \\n'; echo", "gelf",
             **{"gelf-address": f"udp://{udp.address}", "gelf-compression-type": "none"})
    c.wait()
    chunks = udp.wait_for(lambda r: r if r and len(r) >= r[0][11] else None)
    assert {chunk[:2] for chunk in chunks} == {b"\x1e\x0f"}
    assert len({chunk[2:10] for chunk in chunks}) == 1
    payload = b"".join(ch[12:] for ch in sorted(chunks, key=lambda ch: ch[10]))
    assert len(json.loads(payload)["short_message"]) == 12000


# ---- fluentd --------------------------------------------------------------------------------------


def test_fluentd_forward_messages(client: Any, listeners: list[Listener]) -> None:
    tcp = _listen(listeners, "tcp")
    c = _run(client, "echo hello; echo err >&2; printf nonl", "fluentd",
             **{"fluentd-address": tcp.address, "tag": "my.{{.Name}}"})
    c.wait()
    c.reload()
    data = tcp.wait_for(lambda r: b"".join(r) if b"".join(r).count(b"\x94") >= 3 else None)
    tag = f"my.{c.name}".encode()
    assert data.startswith(b"\x94" + bytes((0xA0 | len(tag),)) + tag + b"\xd2")
    assert b"\xa6source\xa6stdout\xa3log\xa5hello\x80" in data
    assert b"\xa6source\xa6stderr\xa3log\xa3err\x80" in data
    assert b"\xafpartial_message\xa4true" in data and b"\xa4nonl" in data
    assert c.id.encode() in data and f"/{c.name}".encode() in data


# ---- a daemon of its own: restarted while a container delivers -----------------------------------


def test_delivery_goes_on_across_a_daemon_restart(busybox_daemon: DaemonProcess,
                                                  listeners: list[Listener]) -> None:
    """The shim delivers (and hands its connection over when it re-executes itself at
    0.5 s): lines written while no daemon runs reach the sink, on the same connection."""
    tcp = _listen(listeners, "tcp")
    client = busybox_daemon.client()
    try:
        c = _run(client, "echo before; sleep 1.5; echo after", "syslog",
                 **{"syslog-address": f"tcp://{tcp.address}"})
        _lines(tcp, 1)
        busybox_daemon.restart()
        client.close()
        client = busybox_daemon.client()
        c = client.containers.get(c.id)
        assert c.wait()["StatusCode"] == 0
        got = [_pid(m) for m in _lines(tcp, 2)]
        assert [g.rsplit(": ", 1)[1] for g in got] == ["before\n", "after\n"]
        assert tcp.connections == 2  # the daemon's check, then the shim's, kept across its hand-off
    finally:
        for item in client.api.containers(all=True):
            client.api.remove_container(item["Id"], force=True)
        client.close()
