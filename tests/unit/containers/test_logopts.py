"""Log drivers' options on the daemon's side: a create's checks and a start's resolution, each
error in the words dockerd 20.10 answered on this machine (recorded 2026-11-29 with the docker
CLI against its own dockerd; loopback addresses only)."""

from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dockyard.containers import logopts
from dockyard.containers.create import check_log_opts
from dockyard.errors import DockyardError, InvalidArgument

RECORD = SimpleNamespace(
    id="8248f3931e060346a81bdb4aafb14ca16131d08ed88d594b1e265a01d91dd5fc", name="/sl4",
    image="busybox",
    image_id="sha256:e1b6d2319a5d4a7463703f37e52fc2b83674748acee3580dacdbe733e0559bb4",
    config={"Cmd": ["echo", "x"]}, created="2026-11-29T18:08:04.1Z", log_path="/l")

CREATE_ERRORS = [  # (driver, options, dockerd 20.10's 400)
    ("syslog", {"syslog-facility": "bogus"}, "invalid syslog facility"),
    ("syslog", {"syslog-facility": "24"}, "invalid syslog facility"),
    ("syslog", {"syslog-facility": "LOCAL0"}, "invalid syslog facility"),
    ("syslog", {"syslog-format": "bogus"}, "Invalid syslog format"),
    ("syslog", {"foo": "bar"}, "unknown log opt 'foo' for syslog log driver"),
    ("syslog", {"syslog-address": "foo://127.0.0.1:1"},
     "syslog-address should be in form proto://address, got foo://127.0.0.1:1"),
    ("syslog", {"syslog-address": "127.0.0.1:1"},
     "syslog-address should be in form proto://address, got 127.0.0.1:1"),
    ("syslog", {"syslog-address": "unix:///nonexistent/h43.sock"},
     "stat /nonexistent/h43.sock: no such file or directory"),
    ("syslog", {"syslog-address": "unix://relative"}, "stat : no such file or directory"),
    ("syslog", {"mode": "bogus"}, "logger: logging mode not supported: bogus"),
    ("syslog", {"max-buffer-size": "1m"},
     "logger: max-buffer-size option is only supported with 'mode=non-blocking'"),
    ("syslog", {"mode": "non-blocking", "max-buffer-size": "1x"},
     "error parsing option max-buffer-size: invalid size: '1x'"),
    ("local", {"max-buffer-size": "2m"},
     "logger: max-buffer-size option is only supported with 'mode=non-blocking'"),
    ("json-file", {"mode": "bogus"}, "logger: logging mode not supported: bogus"),
    ("gelf", {}, "gelf-address is a required parameter"),
    ("gelf", {"gelf-address": "foo://127.0.0.1:1"},
     "gelf-address should be in form proto://address, got foo://127.0.0.1:1"),
    ("gelf", {"gelf-address": "127.0.0.1:1"},
     "gelf-address should be in form proto://address, got 127.0.0.1:1"),
    ("gelf", {"gelf-address": "udp://127.0.0.1"},
     "gelf: please provide gelf-address as proto://host:port"),
    ("gelf", {"gelf-address": "udp://127.0.0.1:12201", "foo": "1"},
     'unknown log opt "foo" for gelf log driver'),
    ("gelf", {"gelf-address": "udp://127.0.0.1:12201", "gelf-compression-type": "x"},
     'unknown value "x" for log opt "gelf-compression-type" for gelf log driver'),
    ("gelf", {"gelf-address": "udp://127.0.0.1:12201", "gelf-compression-level": "10"},
     'unknown value "10" for log opt "gelf-compression-level" for gelf log driver'),
    ("gelf", {"gelf-address": "tcp://127.0.0.1:12202", "gelf-compression-type": "gzip"},
     "compression is only supported on UDP"),
    ("gelf", {"gelf-address": "udp://127.0.0.1:12201", "gelf-tcp-max-reconnect": "3"},
     '"gelf-tcp-max-reconnect" is only valid for TCP'),
    ("gelf", {"gelf-address": "tcp://127.0.0.1:12202", "gelf-tcp-max-reconnect": "-3"},
     '"gelf-tcp-max-reconnect" must be a positive integer'),
    ("fluentd", {"fluentd-address": "foo://x:1"},
     "invalid fluentd-address foo://x:1: address foo://x:1: too many colons in address"),
    ("fluentd", {"fluentd-address": "127.0.0.1:abc"},
     'invalid fluentd-address 127.0.0.1:abc: strconv.Atoi: parsing "abc": invalid syntax'),
    ("fluentd", {"foo": "1"}, "unknown log opt 'foo' for fluentd log driver"),
    ("fluentd", {"fluentd-async": "maybe"}, 'strconv.ParseBool: parsing "maybe": invalid syntax'),
    ("fluentd", {"fluentd-buffer-limit": "1x"}, "invalid size: '1x'"),
    ("fluentd", {"fluentd-retry-wait": "x"}, 'time: invalid duration "x"'),
    ("fluentd", {"fluentd-max-retries": "x"}, 'strconv.ParseUint: parsing "x": invalid syntax'),
    ("awslogs", {}, "must specify a value for log opt 'awslogs-group'"),
    ("logentries", {}, "Missing logentries token"),
]


@pytest.mark.parametrize(("driver", "options", "words"), CREATE_ERRORS)
def test_a_create_refuses_bad_options_in_dockerds_words(driver: str, options: dict[str, str],
                                                        words: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        check_log_opts(driver, options)
    assert str(err.value) == words


@pytest.mark.parametrize("options", [
    {"syslog-address": "udp://127.0.0.1:15514", "syslog-facility": "23"},
    {"syslog-facility": "local7", "syslog-format": "rfc5424micro", "tag": "{{.Foo}}"},
    {"mode": "non-blocking", "max-buffer-size": "1m", "labels": "a", "env": "B",
     "syslog-tls-ca-cert": "/nope"},
])
def test_a_create_takes_what_dockerd_takes(options: dict[str, str]) -> None:
    check_log_opts("syslog", options)  # a bad tag fails the start, not the create
    check_log_opts("json-file", {"mode": "non-blocking", "max-buffer-size": "2m"})
    check_log_opts("none", {"mode": "bogus"})


def test_tags_render_as_dockerds() -> None:
    info = logopts.Info(RECORD)
    tag = ("{{.ID}}|{{.FullID}}|{{.Name}}|{{.ImageName}}|{{.ImageID}}|{{.ImageFullID}}|"
           "{{.DaemonName}}")
    assert logopts.render_tag(tag, info) == (  # dockerd 20.10's, recorded
        "8248f3931e06|8248f3931e060346a81bdb4aafb14ca16131d08ed88d594b1e265a01d91dd5fc|sl4|"
        "busybox|sha256:e1b6d|sha256:e1b6d2319a5d4a7463703f37e52fc2b83674748acee3580dacdbe73"
        "3e0559bb4|docker")
    assert logopts.render_tag("{{upper .Name}} {{json .Name}}", info) == 'SL4 "sl4"'
    assert logopts.render_tag("{{.Hostname}}-{{.Command}}", info) == \
        f"{socket.gethostname()}-echo x"


@pytest.mark.parametrize(("template", "words"), [
    ("{{.Foo}}", ('template: log-tag:1:2: executing "log-tag" at <.Foo>: can\'t evaluate '
                 "field Foo in type *logger.Info")),
    ("ab{{ .Foo }}", ('template: log-tag:1:5: executing "log-tag" at <.Foo>: can\'t evaluate '
                     "field Foo in type *logger.Info")),
    ("{{.Name.X}}", ('template: log-tag:1:7: executing "log-tag" at <.Name.X>: can\'t '
                    "evaluate field X in type string")),
    ("{{.Name", "template: log-tag:1: unclosed action"),
    ("{{nope .Name}}", 'template: log-tag:1: function "nope" not defined'),
])
def test_a_bad_tag_fails_the_start(template: str, words: str) -> None:
    config = {"Type": "syslog", "Config": {"syslog-address": "udp://127.0.0.1:15514",
                                           "tag": template}}
    with pytest.raises(DockyardError) as err:
        logopts.delivery(config, RECORD)
    assert str(err.value) == f"failed to initialize logging driver: {words}"
    assert err.value.status == 500


def _refused_port() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, never listening: a connection is refused
    return sock, sock.getsockname()[1]


def _start_error(driver: str, options: dict[str, str]) -> str:
    with pytest.raises(DockyardError) as err:
        logopts.delivery({"Type": driver, "Config": options}, RECORD)
    return str(err.value)


def test_an_unreachable_sink_fails_the_start(tmp_path: Path) -> None:
    held, port = _refused_port()
    try:
        refused = f"dial tcp 127.0.0.1:{port}: connect: connection refused"
        assert _start_error("syslog", {"syslog-address": f"tcp://127.0.0.1:{port}"}) == \
            f"failed to initialize logging driver: {refused}"
        assert _start_error("fluentd", {"fluentd-address": f"127.0.0.1:{port}"}) == \
            f"failed to initialize logging driver: {refused}"
        assert _start_error("gelf", {"gelf-address": f"tcp://127.0.0.1:{port}"}) == \
            "failed to initialize logging driver: gelf: cannot connect to GELF endpoint: " \
            f"127.0.0.1:{port} {refused}"
        # fluentd-async: no dial at the start (dockerd 20.10 ran the container)
        assert logopts.delivery({"Type": "fluentd", "Config": {
            "fluentd-address": f"127.0.0.1:{port}", "fluentd-async": "true"}}, RECORD)
    finally:
        held.close()
    stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stream.bind(str(tmp_path / "us.sock"))
    gram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    gram.bind(str(tmp_path / "ug.sock"))
    try:
        assert _start_error("syslog", {"syslog-address": f"unixgram://{tmp_path}/us.sock"}) == \
            f"failed to initialize logging driver: dial unixgram {tmp_path}/us.sock: connect: " \
            "protocol wrong type for socket"
        assert _start_error("syslog", {"syslog-address": f"unix://{tmp_path}/ug.sock"}) == \
            f"failed to initialize logging driver: dial unix {tmp_path}/ug.sock: connect: " \
            "protocol wrong type for socket"
        assert _start_error("fluentd", {"fluentd-address": f"unix://{tmp_path}/nope.sock"}) == \
            f"failed to initialize logging driver: dial unix {tmp_path}/nope.sock: connect: " \
            "no such file or directory"
    finally:
        stream.close()
        gram.close()


def test_no_address_is_the_local_syslog_socket(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logopts, "_UNIX_SYSLOG", (str(tmp_path / "log"), str(tmp_path / "l2")))
    assert _start_error("syslog", {}) == \
        "failed to initialize logging driver: Unix syslog delivery error"
    stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stream.bind(str(tmp_path / "l2"))
    stream.listen(1)
    try:
        got = logopts.delivery({"Type": "syslog", "Config": {}}, RECORD)
    finally:
        stream.close()
    assert (got["scheme"], got["address"], got["tag"]) == ("unix", str(tmp_path / "l2"),
                                                           RECORD.id[:12])


def test_what_the_shim_is_given() -> None:
    got: dict[str, Any] = logopts.delivery({"Type": "gelf", "Config": {
        "gelf-address": "udp://127.0.0.1:12201", "gelf-compression-type": "zlib",
        "mode": "non-blocking", "max-buffer-size": "2m"}}, RECORD)
    assert got["extra"] == {
        "_command": "echo x", "_container_id": RECORD.id, "_container_name": "sl4",
        "_created": RECORD.created, "_image_id": RECORD.image_id, "_image_name": "busybox",
        "_tag": "8248f3931e06"}
    assert (got["compression"], got["level"], got["limit"]) == ("zlib", 1, 2 << 20)
    assert logopts.delivery({"Type": "json-file", "Config": {"max-size": "1k"}}, RECORD) == {}
    assert logopts.delivery({}, RECORD) == {}


@pytest.mark.parametrize(("driver", "options", "words"), [
    ("journald", {}, "journald is not enabled on this host"),
    ("splunk", {}, "splunk: splunk-url is expected"),
    ("logentries", {}, "Missing logentries token"),
    ("awslogs", {}, "must specify a value for log opt 'awslogs-group'"),
    ("gcplogs", {"gcp-project": "p"},
     "the gcplogs log driver cannot deliver from dockyard (no gcplogs client here)"),
])
def test_drivers_that_cannot_deliver_here_fail_the_start(driver: str, options: dict[str, str],
                                                         words: str) -> None:
    assert _start_error(driver, options) == f"failed to initialize logging driver: {words}"


def test_labels_and_env_become_gelf_and_fluentd_fields() -> None:
    """dockerd 20.10 (recorded: ``-l a=1 -l zz=2 -l _u=3 -e FOO=bar -e XY=z --log-opt
    labels=a,_u,missing --log-opt env-regex=^X --log-opt env=FOO``): the GELF message had
    ``_FOO``, ``_XY``, ``_a`` … ``_tag``, ``_u``, every key sorted."""
    options = {"labels": "a,_u,missing", "env-regex": "^X", "env": "FOO"}
    record = SimpleNamespace(**{**vars(RECORD), "config": {
        "Cmd": ["echo", "hi"], "Labels": {"a": "1", "zz": "2", "_u": "3"},
        "Env": ["FOO=bar", "XY=z", "PATH=/bin"]}})
    gelf = logopts.delivery({"Type": "gelf", "Config": {
        "gelf-address": "udp://127.0.0.1:12201", **options}}, record)
    assert list(gelf["extra"]) == ["_FOO", "_XY", "_a", "_command", "_container_id",
                                   "_container_name", "_created", "_image_id", "_image_name",
                                   "_tag", "_u"]
    assert (gelf["extra"]["_FOO"], gelf["extra"]["_u"]) == ("bar", "3")
    held, port = _refused_port()
    held.listen(1)
    try:
        fluentd = logopts.delivery({"Type": "fluentd", "Config": {
            "fluentd-address": f"127.0.0.1:{port}", "labels": "a", "env": "FOO,PATH",
            "fluentd-buffer-limit": "2k", "fluentd-retry-wait": "1.5s"}}, record)
    finally:
        held.close()
    assert fluentd["extra"] == {"a": "1", "FOO": "bar", "PATH": "/bin"}
    assert (fluentd["limit"], fluentd["retry"]) == (2048, 1.5)


def test_acknowledged_fluentd_delivery_is_refused() -> None:
    """dockerd waits for the acks and sends again (recorded: a listener that never answers
    got the same chunk twice); dockyard cannot, so it says so rather than ignore it."""
    assert _start_error("fluentd", {"fluentd-request-ack": "true"}) == (
        "failed to initialize logging driver: fluentd-request-ack is not supported by dockyard "
        "(no acknowledged, retried delivery here)")


def _certificate(tmp_path: Path) -> tuple[str, str]:
    import subprocess
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", "key.pem", "-out", "cert.pem"],
                   check=True, capture_output=True, cwd=tmp_path)
    return str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")


def test_syslog_over_tls_checks_the_peer_at_the_start(tmp_path: Path) -> None:
    """dockerd 20.10 (recorded against a loopback TLS listener with a self-signed
    certificate): no CA given, 'x509: certificate signed by unknown authority'; a CA file
    that cannot be read, its words; the CA given or verification skipped, the start goes."""
    import ssl
    import threading
    cert, key = _certificate(tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                server.wrap_socket(conn, server_side=True).close()
            except OSError:
                conn.close()
    threading.Thread(target=serve, daemon=True).start()
    address = {"syslog-address": f"tcp+tls://127.0.0.1:{port}"}
    try:
        assert _start_error("syslog", address) == \
            "failed to initialize logging driver: x509: certificate signed by unknown authority"
        assert _start_error("syslog", {**address, "syslog-tls-ca-cert": "/nonexistent/ca.pem"}) \
            == 'failed to initialize logging driver: could not read CA certificate ' \
               '"/nonexistent/ca.pem": open /nonexistent/ca.pem: no such file or directory'
        got = logopts.delivery({"Type": "syslog", "Config": {
            **address, "syslog-tls-ca-cert": cert, "syslog-format": "rfc5424"}}, RECORD)
        assert got["tls"] == {"ca": cert, "cert": "", "key": "", "skip_verify": False}
        assert got["octets"] is True
        got = logopts.delivery({"Type": "syslog", "Config": {
            **address, "syslog-tls-skip-verify": "true"}}, RECORD)
        assert got["tls"]["skip_verify"] and got["octets"] is False
    finally:
        listener.close()
