"""Credentials against real registries (Basic and token mode), and real faults mid-push."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dist_helpers import DroppingProxy, Node, registry_get, run, write_htpasswd

from dockyard.distribution.credentials import AuthConfig
from dockyard.distribution.errors import LoginFailed, RegistryError
from dockyard.distribution.push import Options
from dockyard.errors import Forbidden, NotFound, Unauthorized
from dockyard.testing.busybox import build_busybox_archive
from dockyard.testing.registry import RegistryProcess

ALICE = AuthConfig("alice", "wonderland")


@pytest.fixture
def htpasswd(tmp_path: Path) -> Path:
    return write_htpasswd(tmp_path / "htpasswd", {"alice": "wonderland", "bob": "builder"})


def digest_of(messages: list[dict[str, Any]]) -> str:
    return str(next(m["aux"]["Digest"] for m in messages if "aux" in m))


def test_basic_auth_registry(source: Node, node_factory: Callable[..., Node], dockyard_registry_factory: Callable[..., RegistryProcess],
                             htpasswd: Path) -> None:
    reg = dockyard_registry_factory(htpasswd=htpasswd)
    repo = f"{reg.host}/private"
    source.store.tag("busybox:latest", repo, "v1")
    with pytest.raises(Unauthorized) as info:
        run(source.dist.push(repo, "v1"))
    assert "unauthorized" in str(info.value)
    with pytest.raises(Unauthorized):
        run(source.dist.push(repo, "v1", AuthConfig("alice", "wrong")))
    digest = digest_of(run(source.dist.push(repo, "v1", ALICE)))
    fresh = node_factory("fresh")
    with pytest.raises(RegistryError) as denied:
        run(fresh.dist.pull(repo, "v1"))
    assert str(denied.value).startswith(f"pull access denied for {repo}, repository does not exist "
                                      "or may require 'docker login'")
    assert fresh.store.count_images() == 0
    run(fresh.dist.pull(repo, "v1", auth=ALICE))
    assert fresh.store.inspect(f"{repo}:v1")["RepoDigests"] == [f"{repo}@{digest}"]


def test_login_checks_credentials(source: Node, dockyard_registry_factory: Callable[..., RegistryProcess], htpasswd: Path) -> None:
    reg = dockyard_registry_factory(htpasswd=htpasswd)
    ok = source.dist.login(AuthConfig("alice", "wonderland", reg.host))
    assert ok == {"Status": "Login Succeeded", "IdentityToken": ""}
    with pytest.raises(LoginFailed) as info:
        source.dist.login(AuthConfig("alice", "nope", reg.host))
    assert str(info.value) == f"login attempt to {reg.url}/v2/ failed with status: 401 Unauthorized"
    assert "nope" not in str(info.value)


def test_token_flow(source: Node, node_factory: Callable[..., Node], dockyard_registry_factory: Callable[..., RegistryProcess],
                    htpasswd: Path) -> None:
    reg = dockyard_registry_factory(htpasswd=htpasswd, token_auth=True, public=["pub/*"],
                                    acl=["alice:*:*", "bob:pub/*:pull"])
    status, _ = registry_get(f"{reg.url}/v2/")
    assert status == 401
    for repo in (f"{reg.host}/pub/bb", f"{reg.host}/team/bb"):
        source.store.tag("busybox:latest", repo, "v1")
        run(source.dist.push(repo, "v1", ALICE))
    # the second push needed a token with a new scope; a cross-repo mount needs pull on the source
    source.store.tag("busybox:latest", f"{reg.host}/team/copy", "v1")
    mounted = run(source.dist.push(f"{reg.host}/team/copy", "v1", ALICE))
    assert any(m.get("status", "").startswith("Mounted from") for m in mounted)
    fresh = node_factory("fresh")
    run(fresh.dist.pull(f"{reg.host}/pub/bb", "v1"))  # anonymous token for a public repository
    with pytest.raises((RegistryError, NotFound)) as info:
        run(fresh.dist.pull(f"{reg.host}/team/bb", "v1"))
    assert "pull access denied" in str(info.value)
    with pytest.raises(Forbidden):
        run(source.dist.push(f"{reg.host}/pub/bb", "v1", AuthConfig("bob", "builder")))
    with pytest.raises(RegistryError, match="incorrect username or password|unauthorized"):
        run(fresh.dist.pull(f"{reg.host}/team/bb", "v1", auth=AuthConfig("alice", "bad")))
    assert source.dist.login(AuthConfig("bob", "builder", reg.host))["Status"] == "Login Succeeded"
    with pytest.raises(LoginFailed):
        source.dist.login(AuthConfig("bob", "bad", reg.host))


def test_interrupted_push_leaves_the_target_unchanged(source: Node, node_factory: Callable[..., Node],
                                                     dockyard_registry: RegistryProcess, tmp_path: Path) -> None:
    repo_path = "target"
    source.store.tag("busybox:latest", f"{dockyard_registry.host}/{repo_path}", "v1")
    before = digest_of(run(source.dist.push(f"{dockyard_registry.host}/{repo_path}", "v1")))
    # a different image (one more layer of random data) pushed to the same tag, cut half-way
    other = node_factory("other")
    other.load(build_busybox_archive(tmp_path, extra_files={"blob": os.urandom(3 << 20)}))
    proxy = DroppingProxy(dockyard_registry.host, limit=1 << 20)
    try:
        other.store.tag("busybox:latest", f"{proxy.host}/{repo_path}", "v1")
        with pytest.raises(RegistryError) as info:
            run(other.dist.push(f"{proxy.host}/{repo_path}", "v1"))
        assert proxy.dropped.is_set()
        assert "Connection" in str(info.value) or "connection" in str(info.value)
    finally:
        proxy.close()
    status, body = registry_get(f"{dockyard_registry.url}/v2/{repo_path}/manifests/v1")
    assert status == 200
    assert json.loads(body)["config"]["digest"] == source.store.inspect("busybox:latest")["Id"]
    _, tags = registry_get(f"{dockyard_registry.url}/v2/{repo_path}/tags/list")
    assert json.loads(tags)["tags"] == ["v1"]
    fresh = node_factory("fresh")
    assert run(fresh.dist.pull(f"{dockyard_registry.host}/{repo_path}", "v1"))[-2]["status"] == f"Digest: {before}"


def test_pull_resumes_after_a_dropped_connection(node_factory: Callable[..., Node],
                                                 dockyard_registry: RegistryProcess, tmp_path: Path) -> None:
    other = node_factory("other")
    other.load(build_busybox_archive(tmp_path, extra_files={"blob": os.urandom(3 << 20)}))
    other.store.tag("busybox:latest", f"{dockyard_registry.host}/big", "v1")
    run(other.dist.push(f"{dockyard_registry.host}/big", "v1", options=Options(compression="")))
    proxy = DroppingProxy(dockyard_registry.host, limit=2 << 20, downstream=True, once=True)
    fresh = node_factory("fresh")
    try:
        run(fresh.dist.pull(f"{proxy.host}/big", "v1"))
        assert proxy.dropped.is_set()
    finally:
        proxy.close()
    assert fresh.store.inspect(f"{proxy.host}/big:v1")["Id"] == other.store.inspect("busybox:latest")["Id"]


def test_interrupted_pull_adds_nothing(node_factory: Callable[..., Node], dockyard_registry: RegistryProcess,
                                       tmp_path: Path) -> None:
    other = node_factory("other")
    other.load(build_busybox_archive(tmp_path, extra_files={"blob": os.urandom(3 << 20)}))
    other.store.tag("busybox:latest", f"{dockyard_registry.host}/big", "v1")
    run(other.dist.push(f"{dockyard_registry.host}/big", "v1", options=Options(compression="")))
    proxy = DroppingProxy(dockyard_registry.host, limit=2 << 20, downstream=True)
    fresh = node_factory("fresh")
    try:
        with pytest.raises(RegistryError):
            run(fresh.dist.pull(f"{proxy.host}/big", "v1"))
        assert proxy.dropped.is_set()
    finally:
        proxy.close()
    assert fresh.store.count_images() == 0
    assert list(fresh.store.content.digests()) == []
    assert fresh.store.snapshots.ids() == []


def test_tls_registry_on_loopback(source: Node, node_factory: Callable[..., Node], dockyard_registry_factory: Callable[..., RegistryProcess],
                                  tmp_path: Path) -> None:
    """Loopback registries are insecure as in dockerd: TLS first (certificate not checked), so a
    self-signed registry works; a registry that must be secure fails on the certificate."""
    import subprocess

    from dockyard.distribution.client import Registry
    from dockyard.distribution.endpoints import Endpoint

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    reg = dockyard_registry_factory(tls_cert=cert, tls_key=key)
    assert reg.url.startswith("https://")
    repo = f"{reg.host}/tls"
    source.store.tag("busybox:latest", repo, "v1")
    run(source.dist.push(repo, "v1"))
    fresh = node_factory("fresh")
    run(fresh.dist.pull(repo, "v1"))
    assert fresh.store.inspect(f"{repo}:v1")["Id"] == source.store.inspect("busybox:latest")["Id"]
    with pytest.raises(RegistryError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        Registry(Endpoint(reg.host, reg.host, insecure=False), AuthConfig()).ping()


def test_certs_d_ca_makes_a_secure_registry_trusted(dockyard_registry_factory: Callable[..., RegistryProcess],
                                                    tmp_path: Path) -> None:
    """dockerd's ``certs.d/<host:port>/ca.crt``: a registry signed by a private CA is verified."""
    import subprocess

    from dockyard.distribution.client import Registry
    from dockyard.distribution.endpoints import Endpoint, RegistryConfig

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
            "-keyout", "ca.key", "-out", "ca.crt")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "srv.key", "-out", "srv.csr")
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "1", "-out", "srv.crt", "-extfile", "san.ext")
    reg = dockyard_registry_factory(tls_cert=tmp_path / "srv.crt", tls_key=tmp_path / "srv.key")
    certs = tmp_path / "certs.d" / reg.host
    certs.mkdir(parents=True)
    (certs / "ca.crt").write_bytes((tmp_path / "ca.crt").read_bytes())
    config = RegistryConfig(certs_dirs=[str(tmp_path / "certs.d")])
    endpoint = config.endpoints(reg.host)[0]
    assert endpoint.certs_dir == str(certs)
    secure = Endpoint(reg.host, reg.host, insecure=False, certs_dir=endpoint.certs_dir)
    registry = Registry(secure, AuthConfig())
    assert registry.ping() == 200 and registry.base == f"https://{reg.host}"
    with pytest.raises(RegistryError, match="certificate verify failed"):
        Registry(Endpoint(reg.host, reg.host, insecure=False), AuthConfig()).ping()
