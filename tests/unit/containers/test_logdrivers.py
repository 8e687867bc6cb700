"""The delivering log drivers' messages, byte for byte against what dockerd 20.10 sent to
loopback listeners on this machine (recorded 2026-11-29: syslog over UDP, TCP and unix
sockets, GELF over UDP and TCP, fluentd's forward protocol), and the transport's
never-blocking behaviour."""

from __future__ import annotations

import calendar
import gzip
import json
import os
import selectors
import socket
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.containers import logdrivers
from dockyard.containers.logdrivers import (
    Delivery,
    Sink,
    fluentd_message,
    gelf_datagrams,
    gelf_message,
    go_json,
    msgpack,
    syslog_message,
)

CID = "b607656528d16330fe4ecb51b184f6d9743493997def2a6ad0aebad4ece96588"


def _ns(stamp: str, frac_ns: int = 0) -> int:
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S")) * 10**9 + frac_ns


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """dockerd formats syslog times in its local zone; the recordings were made in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(os, "getpid", lambda: 5033)  # dockerd's pid in the recordings
    yield
    monkeypatch.undo()
    time.tzset()


def _syslog(fmt: str = "", facility: int = 3, tag: str = "416957a24530") -> dict[str, object]:
    return {"format": fmt, "facility": facility, "tag": tag, "hostname": "vm"}


def test_syslog_default_format_is_the_unix_formatter(utc: None) -> None:
    at = _ns("2026-11-29T18:08:03", 123456789)
    assert syslog_message(_syslog(), "stdout", b"hello", at) == \
        b"<30>Nov 29 18:08:03 416957a24530[5033]: hello\n"
    assert syslog_message(_syslog(), "stderr", b"err", at) == \
        b"<27>Nov 29 18:08:03 416957a24530[5033]: err\n"
    assert syslog_message(_syslog(), "stdout", b"a\r", at) == \
        b"<30>Nov 29 18:08:03 416957a24530[5033]: a\r\n"
    assert syslog_message(_syslog(), "stdout", b"\xc3\xa9 x", at) == \
        b"<30>Nov 29 18:08:03 416957a24530[5033]: \xc3\xa9 x\n"
    assert syslog_message(_syslog(facility=23), "stdout", b"x", at).startswith(b"<190>")
    early = _ns("2026-11-02T08:00:01")  # Go's time.Stamp pads the day with a space
    assert syslog_message(_syslog(), "stdout", b"x", early).startswith(b"<30>Nov  2 08:00:01 ")


def test_syslog_rfc3164_has_the_hostname(utc: None) -> None:
    at = _ns("2026-11-29T18:08:03")
    assert syslog_message(_syslog("rfc3164", 19, "f9917a71f7db"), "stdout", b"hello", at) == \
        b"<158>Nov 29 18:08:03 vm f9917a71f7db[5033]: hello\n"
    assert syslog_message(_syslog("rfc3164", 19, "f9917a71f7db"), "stderr", b"err", at) == \
        b"<155>Nov 29 18:08:03 vm f9917a71f7db[5033]: err\n"


def test_syslog_rfc5424_and_micro(utc: None) -> None:
    tag = "sl2/busybox"
    at = _ns("2026-11-29T18:06:31", 500_000_000)
    assert syslog_message(_syslog("rfc5424", tag=tag), "stdout", b"five", at) == \
        b"<30>1 2026-11-29T18:06:31Z vm sl2/busybox 5033 sl2/busybox - five\n"
    micro = _syslog("rfc5424micro", tag="fc3210cd507b")
    assert syslog_message(micro, "stdout", b"hello", _ns("2026-11-29T18:08:04", 122971999)) == \
        b"<30>1 2026-11-29T18:08:04.122971Z vm fc3210cd507b 5033 fc3210cd507b - hello\n"
    assert syslog_message(micro, "stderr", b"err", _ns("2026-11-29T18:08:04", 123047000)) == \
        b"<27>1 2026-11-29T18:08:04.123047Z vm fc3210cd507b 5033 fc3210cd507b - err\n"
    assert b" 2026-11-29T18:08:04.1Z " in syslog_message(
        micro, "stdout", b"x", _ns("2026-11-29T18:08:04", 100_000_000))  # trailing zeros cut
    assert b" 2026-11-29T18:08:04Z " in syslog_message(
        micro, "stdout", b"x", _ns("2026-11-29T18:08:04", 999))


def test_syslog_over_tls_counts_octets(utc: None) -> None:
    """dockerd 20.10 over tcp+tls with rfc5424 (recorded): RFC 5425's ``LEN SP MSG``, the
    length counting the newline; the other formats end in a newline only."""
    delivery = Delivery.__new__(Delivery)
    delivery.conf = {**_syslog("rfc5424", tag="3c20cdd6fab8"), "octets": True}
    delivery.driver, delivery.partials = "syslog", {}
    assert delivery._encode("stdout", b"hello\n", _ns("2026-11-29T18:39:27")) == [
        b"69 <30>1 2026-11-29T18:39:27Z vm 3c20cdd6fab8 5033 3c20cdd6fab8 - hello\n"]


def test_syslog_times_are_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "CET-1")
    time.tzset()
    try:
        at = _ns("2026-11-29T18:06:31")
        assert b"<30>1 2026-11-29T19:06:31+01:00 vm" in syslog_message(
            _syslog("rfc5424"), "stdout", b"x", at)
        assert syslog_message(_syslog(), "stdout", b"x", at).startswith(b"<30>Nov 29 19:06:31 ")
    finally:
        monkeypatch.undo()
        time.tzset()


# ---- gelf ------------------------------------------------------------------------------------------

GELF_RECORDED = (  # dockerd 20.10, gelf-compression-type=none, container g3
    b'{"version":"1.1","host":"vm","short_message":"hello","timestamp":1795976366.997,'
    b'"level":6,"_command":"sh -c echo hello;echo; echo x","_container_id":'
    b'"ec4b7000cf71cad0593b67b77c4231fbdbfae72becec1fe32ddd4c402e2c5817","_container_name":'
    b'"g3","_created":"2026-11-29T18:19:26.864370987Z","_image_id":"sha256:e1b6d2319a5d4a7463'
    b'703f37e52fc2b83674748acee3580dacdbe733e0559bb4","_image_name":"busybox","_tag":'
    b'"ec4b7000cf71"}')


def _gelf_conf(command: str = "sh -c echo hello;echo; echo x") -> dict[str, object]:
    return {"hostname": "vm", "compression": "none", "level": 1, "extra": {
        "_command": command,
        "_container_id": "ec4b7000cf71cad0593b67b77c4231fbdbfae72becec1fe32ddd4c402e2c5817",
        "_container_name": "g3", "_created": "2026-11-29T18:19:26.864370987Z",
        "_image_id": "sha256:e1b6d2319a5d4a7463703f37e52fc2b83674748acee3580dacdbe733e0559bb4",
        "_image_name": "busybox", "_tag": "ec4b7000cf71"}}


def test_gelf_message_is_dockerds() -> None:
    at = 1795976366_997_654_321
    assert gelf_message(_gelf_conf(), "stdout", b"hello\n", at) == GELF_RECORDED
    err = json.loads(gelf_message(_gelf_conf(), "stderr", b"err", 1795976366_510_000_000))
    assert err["level"] == 3 and err["short_message"] == "err"
    assert b'"timestamp":1795976366.51,' in gelf_message(_gelf_conf(), "stdout", b"x",
                                                         1795976366_510_999_999)


GELF_WITH_ATTRS = (  # dockerd 20.10: -l a=1 -l zz=2 -l _u=3 -e FOO=bar -e XY=z, labels/env opts
    b'{"version":"1.1","host":"vm","short_message":"hi","timestamp":1795977220.05,"level":6,'
    b'"_FOO":"bar","_XY":"z","_a":"1","_command":"echo hi","_container_id":"0f076a66a11f31bbc'
    b'a711319edcb52cf24d81cb539ce3c5bb28b55d479484254","_container_name":"hopeful_sutherland",'
    b'"_created":"2026-11-29T18:33:39.848492323Z","_image_id":"sha256:e1b6d2319a5d4a7463703f3'
    b'7e52fc2b83674748acee3580dacdbe733e0559bb4","_image_name":"busybox","_tag":"0f076a66a11f",'
    b'"_u":"3"}')


def test_gelf_message_with_labels_and_env() -> None:
    from types import SimpleNamespace

    from dockyard.containers.logopts import Info, _gelf_extra
    record = SimpleNamespace(
        id="0f076a66a11f31bbca711319edcb52cf24d81cb539ce3c5bb28b55d479484254",
        name="/hopeful_sutherland", image="busybox",
        image_id="sha256:e1b6d2319a5d4a7463703f37e52fc2b83674748acee3580dacdbe733e0559bb4",
        config={"Cmd": ["echo", "hi"], "Labels": {"a": "1", "zz": "2", "_u": "3"},
                "Env": ["FOO=bar", "XY=z"]},
        created="2026-11-29T18:33:39.848492323Z", log_path="/l")
    info = Info(record, {"labels": "a,_u,missing", "env-regex": "^X", "env": "FOO"})
    conf = {"hostname": "vm", "extra": _gelf_extra(info, record.id[:12])}
    assert gelf_message(conf, "stdout", b"hi\n", 1795977220_050_999_000) == GELF_WITH_ATTRS


def test_go_json_escapes_as_go() -> None:
    assert go_json({"_command": "sh -c echo err >&2 <x> \u2028 é"}) == \
        '{"_command":"sh -c echo err \\u003e\\u00262 \\u003cx\\u003e \\u2028 é"}'.encode()


def test_gelf_compression_and_chunks() -> None:
    payload = GELF_RECORDED
    gz = gelf_datagrams({"compression": "gzip", "level": 1}, payload)
    assert len(gz) == 1 and gz[0][:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\xff"
    assert gzip.decompress(gz[0]) == payload  # dockerd's header: mtime 0, fastest, unknown OS
    zl = gelf_datagrams({"compression": "zlib", "level": 1}, payload)
    assert zl[0][:2] == b"x\x01" and zlib.decompress(zl[0]) == payload
    big = os.urandom(5000)
    chunks = gelf_datagrams({"compression": "none"}, big)
    assert [len(c) for c in chunks] == [1420, 1420, 1420, 12 + 5000 - 3 * 1408]
    assert {c[:10] for c in chunks} == {chunks[0][:10]} and chunks[0][:2] == b"\x1e\x0f"
    assert [c[10:12] for c in chunks] == [bytes((i, 4)) for i in range(4)]
    assert b"".join(c[12:] for c in chunks) == big
    assert gelf_datagrams({"compression": "none"}, b"x" * 1408 * 129) == []  # over 128: dropped


# ---- fluentd -----------------------------------------------------------------------------------------

FLUENTD_RECORDED = (  # dockerd 20.10 to a loopback forward listener, container f1
    b"\x94\xacb607656528d1\xd2k\x0cl\xaf\x84\xaccontainer_id\xd9@" + CID.encode()
    + b"\xaecontainer_name\xa3/f1\xa6source\xa6stdout\xa3log\xa5hello\x80")


def _fluentd_conf() -> dict[str, object]:
    return {"tag": "b607656528d1", "id": CID, "name": "/f1"}


def test_fluentd_message_is_dockerds() -> None:
    at = 0x6B0C6CAF * 10**9 + 5
    assert fluentd_message(_fluentd_conf(), "stdout", b"hello\n", at) == FLUENTD_RECORDED
    sub = fluentd_message({**_fluentd_conf(), "subsecond": True}, "stdout", b"x\n", at)
    assert sub[14:24] == b"\xd7\x00k\x0cl\xaf\x00\x00\x00\x05"  # EventTime (ext 0)


def test_fluentd_record_carries_labels_and_env() -> None:
    """dockerd 20.10 put ``labels``/``env`` attributes in the record (its map's order is
    Go's random one; the bytes here are ours)."""
    message = fluentd_message({**_fluentd_conf(), "extra": {"a": "1", "FOO": "bar"}}, "stdout",
                              b"hi\n", 0x6B0C7004 * 10**9)
    assert _msgunpack_map(message) == {"container_id": CID, "container_name": "/f1",
                                       "source": "stdout", "log": "hi", "a": "1", "FOO": "bar"}


def test_fluentd_partial_lines() -> None:
    """dockerd 20.10 sent a last line without its newline (``printf nonl``) as a partial
    message: partial_message "true", a partial_id, ordinal "1", partial_last "false"."""
    sent: list[bytes] = []
    delivery = Delivery.__new__(Delivery)
    delivery.conf, delivery.driver, delivery.partials = _fluentd_conf(), "fluentd", {}
    delivery.sink = type("S", (), {"send": lambda self, m: sent.extend(m), "stream": True})()
    delivery.send("stdout", [b"nonl"])
    delivery.send("stdout", [b"a" * 16384, b"b" * 16384, b"end\n", b"", b"\n", b"next\n"])
    records = [_msgunpack_map(m) for m in sent]
    assert [r["log"] for r in records] == ["nonl", "a" * 16384, "b" * 16384, "end", "next"]
    assert [r.get("partial_ordinal") for r in records] == ["1", "2", "3", "4", None]
    assert [r.get("partial_last") for r in records] == ["false", "false", "false", "true", None]
    assert len({r.get("partial_id") for r in records[:4]}) == 1
    assert len(records[0]["partial_id"]) == 64


def _msgunpack_map(message: bytes) -> dict[str, str]:
    """The record of a forward message this module wrote (a test's small decoder)."""
    pos = 1 + 1 + (message[1] & 0x1F) + 5  # array head, fixstr tag, int32 time

    def string(at: int) -> tuple[str, int]:
        head = message[at]
        if 0xA0 <= head <= 0xBF:
            n, at = head & 0x1F, at + 1
        elif head == 0xD9:
            n, at = message[at + 1], at + 2
        else:
            n, at = int.from_bytes(message[at + 1:at + 3], "big"), at + 3
        return message[at:at + n].decode(), at + n
    count, pos = message[pos] & 0x0F, pos + 1
    record = {}
    for _ in range(count):
        key, pos = string(pos)
        record[key], pos = string(pos)
    return record


def test_msgpack_forms() -> None:
    assert msgpack(None) == b"\xc0" and msgpack(True) == b"\xc3" and msgpack(False) == b"\xc2"
    assert msgpack(5) == b"\x05" and msgpack(-3) == b"\xfd" and msgpack(200) == b"\xcc\xc8"
    assert msgpack(70000) == b"\xce\x00\x01\x11\x70" and msgpack(-200) == b"\xd1\xff\x38"
    assert msgpack("a" * 31)[:1] == b"\xbf" and msgpack("a" * 32)[:2] == b"\xd9\x20"
    assert msgpack("a" * 300)[:3] == b"\xda\x01\x2c" and msgpack(b"\x00")[:2] == b"\xc4\x01"
    assert msgpack([1, 2]) == b"\x92\x01\x02" and msgpack(list(range(16)))[:3] == b"\xdc\x00\x10"
    assert msgpack({"a": 1}) == b"\x81\xa1a\x01"


# ---- the transport --------------------------------------------------------------------------------


def _conf(scheme: str, address: str, **more: object) -> dict[str, object]:
    return {"driver": "syslog", "scheme": scheme, "address": address, **more}


def test_a_stream_never_blocks_and_keeps_at_most_its_limit(tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    sel = selectors.DefaultSelector()
    sink = Sink(_conf("tcp", f"127.0.0.1:{server.getsockname()[1]}", limit=1 << 16),
                str(tmp_path), sel)
    peer, _ = server.accept()  # accepted, never read: the kernel's buffers fill
    chunk = b"x" * 4096 + b"\n"
    for _ in range(2000):  # ~8 MB: far more than the socket and our buffer take
        sink.send([chunk])
    assert len(sink.pending) <= 1 << 16
    assert sink.watched  # the shim's selector waits for the socket to take more
    peer.close()
    server.close()
    for _ in range(3):  # the peer is gone: the next writes fail, the buffer is dropped
        sink.flush()
        sink.send([chunk])
    assert sink.sock is None and not sink.pending and not sink.watched
    assert "failed, dropping messages" in (tmp_path / "log-driver.log").read_text()
    sink.close()


def test_datagrams_to_nobody_are_dropped(tmp_path: Path) -> None:
    gone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gone.bind(("127.0.0.1", 0))
    port = gone.getsockname()[1]
    gone.close()
    sink = Sink(_conf("udp", f"127.0.0.1:{port}"), str(tmp_path), selectors.DefaultSelector())
    for _ in range(5):
        sink.send([b"lost\n"])  # ECONNREFUSED from the ICMP answer, or nothing: no raise
    back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    back.bind(("127.0.0.1", port))
    back.settimeout(30)
    try:
        sink.send([b"found\n"])  # the same socket delivers once a listener is back
        assert back.recv(100) == b"found\n"
    finally:
        back.close()
        sink.close()


def test_a_delivery_crosses_the_hand_off(tmp_path: Path) -> None:
    """``state``/``resume`` keep the connection (its fd) and what was not sent yet."""
    a, b = socket.socketpair()
    sel = selectors.DefaultSelector()
    conf = {**_syslog(), **_conf("unix", "/nowhere")}
    delivery = Delivery.__new__(Delivery)
    delivery.conf, delivery.driver, delivery.partials = conf, "syslog", {}
    delivery.sink = Sink(conf, str(tmp_path), sel, a.detach(), b"held\n")
    state = json.loads(json.dumps(delivery.state()))
    assert delivery.sink.sock is not None
    delivery.sink.sock.detach()  # the exec leaves the fd to the next interpreter alone
    assert os.get_inheritable(state["fd"])
    again = Delivery.resume(state, str(tmp_path), selectors.DefaultSelector())
    assert not os.get_inheritable(state["fd"])
    again.send("stdout", [b"more\n"])
    again.close()
    b.settimeout(30)
    data = b""
    while chunk := b.recv(1000):
        data += chunk
    assert data.startswith(b"held\n<30>") and data.endswith(b"]: more\n")
    b.close()


PROBE = """
import sys
from dockyard.containers.shim import Shim
from dockyard.containers.spec import ContainerSpec
spec = ContainerSpec("0" * 64, ["/l"], "/u", "/w", ["true"], log_delivery=%r)
shim = Shim(None, spec, {"dir": sys.argv[1], "log_path": sys.argv[1] + "/log"}, None)
before = "dockyard.containers.logdrivers" in sys.modules
shim._log("stdout", b"a line\\n")
print(before, "dockyard.containers.logdrivers" in sys.modules)
"""


@pytest.mark.parametrize(("delivery", "imported"), [
    ({}, "False False"),
    ({"driver": "syslog", "scheme": "udp", "address": "127.0.0.1:9", "format": "",
      "facility": 3, "tag": "t", "hostname": "h"}, "False True"),
])
def test_only_delivering_containers_import_the_drivers(tmp_path: Path, delivery: dict[str, object],
                                                       imported: str) -> None:
    """A json-file container's shim pays no import (the start's path stays as it was); a
    delivering one imports the drivers for its first line, not at its start."""
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", PROBE % (delivery,), str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == imported
    assert logdrivers.__name__ in sys.modules
