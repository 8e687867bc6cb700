"""``dockyard registry serve`` flags and YAML config, TLS, and the pure helpers' edge cases."""

from __future__ import annotations

import datetime
import ipaddress
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from regclient import ACCEPT_ALL, Client

from dockyard.errors import InvalidArgument
from dockyard.registry.auth.htpasswd import entry
from dockyard.registry.auth.policy import Policy, parse_rule, parse_scope
from dockyard.registry.config import build, load_file
from dockyard.registry.errors import CODES, RegistryError
from dockyard.registry.handlers.blobs import parse_range
from dockyard.registry.names import validate_name, validate_reference
from dockyard.testing.registry import RegistryProcess

SERVE = [sys.executable, "-m", "dockyard.cli.main", "registry", "serve"]


def test_yaml_config_file(tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(entry("carol", "pw") + "\n")
    config = tmp_path / "registry.yaml"
    config.write_text(f"htpasswd: {htpasswd}\npublic:\n  - open/*\nread-only: false\n")
    with RegistryProcess(tmp_path / "root", "--config", str(config)) as registry:
        assert requests.get(registry.url + "/v2/").status_code == 401
        s = requests.Session()
        s.auth = ("carol", "pw")
        Client(registry.url, s).push_image("open/app", "v1")
        assert requests.get(registry.url + "/v2/open/app/manifests/v1", headers={"Accept": ACCEPT_ALL}).status_code == 200
        assert requests.get(registry.url + "/v2/closed/app/manifests/v1").status_code == 401


@pytest.mark.parametrize(("args", "message"), [
    (["--tls-cert", "/nonexistent.pem"], "--tls-cert and --tls-key go together"),
    (["--addr", "nonsense"], "invalid --addr"),
    (["--acl", "bob:x"], "invalid access rule"),
    (["--config", "/nonexistent.yaml"], "cannot read registry config"),
    (["--htpasswd", "/nonexistent"], "registry cannot start: /nonexistent: No such file"),
    (["--tls-cert", "/etc/hostname", "--tls-key", "/etc/hostname"], "cannot load --tls-cert/--tls-key"),
    (["--token-key", "/etc/hostname"], "not a PEM private or public key"),
])
def test_bad_settings_are_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    r = subprocess.run([*SERVE, "--root", str(tmp_path), *args], capture_output=True, text=True, timeout=30, check=False)
    assert r.returncode == 1
    assert r.stderr.startswith("dockyard: ") and message in r.stderr and "Traceback" not in r.stderr


def test_unknown_config_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("rot: /tmp\n")
    with pytest.raises(InvalidArgument, match="unknown registry setting"):
        build(load_file(path))


def test_tls(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    with RegistryProcess(tmp_path / "root", tls_cert=tmp_path / "cert.pem", tls_key=tmp_path / "key.pem") as reg:
        assert reg.url.startswith("https://")
        s = requests.Session()
        s.trust_env = False  # REQUESTS_CA_BUNDLE would override the session's CA
        s.verify = str(tmp_path / "cert.pem")
        pushed = Client(reg.url, s).push_image("tls/app", "v1")
        assert s.get(reg.url + "/v2/tls/app/manifests/v1").content == pushed.body
        big = os.urandom(5 * 1024 * 1024 + 3)  # > one streamed chunk: TLS cannot use sendfile
        digest = Client(reg.url, s).upload("tls/app", big)
        assert s.get(f"{reg.url}/v2/tls/app/blobs/{digest}").content == big
        ranged = s.get(f"{reg.url}/v2/tls/app/blobs/{digest}", headers={"Range": "bytes=4194300-4194310"})
        assert ranged.status_code == 206 and ranged.content == big[4194300:4194311]


def test_names_and_references() -> None:
    for good in ("a", "a/b", "a.b_c__d---e/f0", "x" * 255):
        assert validate_name(good) == good
    for bad in ("", "A", "a/", "/a", "a..b", "a_-b", ".a", "a/.b", "a/../b", "x" * 256, "a\x00"):
        with pytest.raises(RegistryError) as info:
            validate_name(bad)
        assert info.value.code == "NAME_INVALID"
    assert validate_reference("v1.0_RC-2") == "v1.0_RC-2"
    for bad in (".hidden", "-x", "a" * 129, "tag/x", "é"):
        with pytest.raises(RegistryError):
            validate_reference(bad)


def test_ranges() -> None:
    assert parse_range("bytes=0-0", 10) == (0, 0)
    assert parse_range("bytes=5-", 10) == (5, 9)
    assert parse_range("bytes=-3", 10) == (7, 9)
    assert parse_range("bytes=-30", 10) == (0, 9)
    assert parse_range("bytes=2-100", 10) == (2, 9)
    assert parse_range(None, 10) is None and parse_range("items=1-2", 10) is None
    for bad in ("bytes=10-", "bytes=5-4"):
        with pytest.raises(RegistryError) as info:
            parse_range(bad, 10)
        assert info.value.status == 416


def test_policy_and_scopes() -> None:
    policy = Policy(open=False, public=("pub/*",), rules=(parse_rule("bob:bob/*:pull,push"),))
    assert policy.granted(None, "pub/x") == {"pull"}
    assert policy.granted(None, "priv/x") == set()
    assert policy.granted("bob", "bob/x") == {"pull", "push"}
    assert policy.granted("bob", "pub/x") == {"pull"}
    assert Policy(open=False).granted("anyone", "x") == {"pull", "push", "delete"}
    assert parse_rule("a:*:*").actions == {"pull", "push", "delete"}
    with pytest.raises(InvalidArgument):
        parse_rule("a:b:fly")
    scope = parse_scope("repository:a/b:pull,push")
    assert scope is not None and (scope.type, scope.name, scope.actions) == ("repository", "a/b", ("pull", "push"))
    assert parse_scope("nonsense") is None


def test_error_table_covers_the_spec() -> None:
    spec = {"BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
            "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN",
            "SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS"}
    assert spec <= set(CODES)
    assert {code: CODES[code].status for code in ("UNAUTHORIZED", "DENIED", "TOOMANYREQUESTS")} == {
        "UNAUTHORIZED": 401, "DENIED": 403, "TOOMANYREQUESTS": 429}


def test_tls_handshake_on_plain_port_fails_fast(shared_registry: RegistryProcess) -> None:
    """Clients probing HTTPS first (skopeo, docker with insecure registries) must fall back fast."""
    import socket

    address, port = shared_registry.host.split(":")
    with socket.create_connection((address, int(port)), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05hello")
        reply = sock.recv(200)
    assert reply.startswith(b"HTTP/1.0 400 Bad Request")


def test_toml_config(tmp_path: Path) -> None:
    path = tmp_path / "registry.toml"
    path.write_text('addr = "127.0.0.1:0"\npublic = ["a/*", "b/*"]\nread_only = true\n')
    config = build(load_file(path))
    assert config.public == ["a/*", "b/*"] and config.read_only and config.host_port() == ("127.0.0.1", 0)


def test_buffered_bodies_are_bounded(shared_registry: RegistryProcess) -> None:
    """Only streaming endpoints take big bodies; elsewhere tornado refuses past 1 MiB."""
    import socket

    address, port = shared_registry.host.split(":")
    with socket.create_connection((address, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400 ")  # refused before any body is sent
    assert Client(shared_registry.url).upload("big/ok", b"y" * (3 * 1024 * 1024))


def test_shipped_fixtures(dockyard_registry: RegistryProcess, dockyard_registry_factory) -> None:  # type: ignore[no-untyped-def]
    assert requests.get(dockyard_registry.url + "/v2/").status_code == 200
    locked = dockyard_registry_factory(htpasswd=Path("/dev/null"))
    assert requests.get(locked.url + "/v2/").status_code == 401
    assert locked.root != dockyard_registry.root
