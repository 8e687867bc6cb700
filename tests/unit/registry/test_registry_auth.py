"""The authorisation matrix: anonymous/public, anonymous/private, wrong password, no permission,
Basic (htpasswd) and Docker token flows, read-only mode."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from regclient import Client, error_code

from dockyard.registry.auth.htpasswd import entry
from dockyard.registry.auth.jwt import KeyPair
from dockyard.testing.registry import RegistryProcess

USERS = {"alice": "alice-secret", "bob": "bob-secret"}
ACL = ["alice:*:*", "bob:bob/*:pull,push", "bob:shared/*:pull"]


@pytest.fixture(scope="module")
def htpasswd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "htpasswd"
    path.write_text("# users\n" + "\n".join(entry(u, p) for u, p in USERS.items()) + "\nlegacy:{SHA}xyz\n")
    return path


def _seed(url: str, auth: requests.auth.AuthBase | None) -> None:
    s = requests.Session()
    s.auth = auth
    for repo in ("pub/app", "private/app", "shared/app", "bob/app"):
        Client(url, s).push_image(repo, "latest")


@pytest.fixture(scope="module")
def basic(htpasswd: Path) -> Iterator[RegistryProcess]:
    with RegistryProcess(None, htpasswd=htpasswd, public="pub/*", acl=ACL) as registry:
        _seed(registry.url, requests.auth.HTTPBasicAuth("alice", USERS["alice"]))
        yield registry


def as_user(registry: RegistryProcess, user: str | None, password: str | None = None) -> Client:
    s = requests.Session()
    if user:
        s.auth = (user, password or USERS[user])
    return Client(registry.url, s)


def test_basic_anonymous(basic: RegistryProcess) -> None:
    anon = as_user(basic, None)
    r = anon.request("GET", "/v2/")
    assert r.status_code == 401 and error_code(r) == "UNAUTHORIZED"
    assert r.headers["WWW-Authenticate"] == 'Basic realm="dockyard-registry"'
    assert anon.request("GET", "/v2/pub/app/manifests/latest").status_code == 200
    r = anon.request("GET", "/v2/private/app/manifests/latest")
    assert r.status_code == 401 and error_code(r) == "UNAUTHORIZED"
    assert r.json()["errors"][0]["detail"] == [{"Type": "repository", "Name": "private/app", "Action": "pull"}]
    r = anon.request("POST", "/v2/pub/app/blobs/uploads/")
    assert r.status_code == 401
    assert anon.request("GET", "/v2/_catalog").status_code == 401


def test_basic_wrong_password_is_401_even_for_public(basic: RegistryProcess) -> None:
    for user, password in (("alice", "nope"), ("nobody", "x"), ("legacy", "x")):
        r = as_user(basic, user, password).request("GET", "/v2/pub/app/manifests/latest")
        assert r.status_code == 401 and error_code(r) == "UNAUTHORIZED"
    r = requests.get(basic.url + "/v2/", headers={"Authorization": "Basic !!notbase64"})
    assert r.status_code == 401


def test_basic_permissions(basic: RegistryProcess) -> None:
    bob = as_user(basic, "bob")
    assert bob.request("GET", "/v2/").status_code == 200
    assert bob.request("GET", "/v2/shared/app/manifests/latest").status_code == 200
    r = bob.request("GET", "/v2/private/app/manifests/latest")
    assert r.status_code == 403 and error_code(r) == "DENIED"
    r = bob.request("POST", "/v2/shared/app/blobs/uploads/")
    assert r.status_code == 403 and error_code(r) == "DENIED"
    assert bob.request("POST", "/v2/bob/app/blobs/uploads/").status_code == 202
    r = bob.request("DELETE", "/v2/bob/app/manifests/latest")
    assert r.status_code == 403
    bob.push_image("bob/new", "v1")
    repos = bob.request("GET", "/v2/_catalog").json()["repositories"]
    assert repos == ["bob/app", "bob/new", "pub/app", "shared/app"]
    alice = as_user(basic, "alice")
    assert alice.request("DELETE", "/v2/bob/new/manifests/v1").status_code == 202


def test_mount_needs_pull_on_the_source(basic: RegistryProcess) -> None:
    alice = as_user(basic, "alice")
    digest = alice.upload("private/app", b"secret layer")
    bob = as_user(basic, "bob")
    r = bob.request("POST", "/v2/bob/app/blobs/uploads/", params={"mount": digest, "from": "private/app"})
    assert r.status_code == 202  # no access to the source: an upload session, not the blob
    assert bob.request("HEAD", f"/v2/bob/app/blobs/{digest}").status_code == 404


@pytest.fixture(scope="module")
def token_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("key") / "token.pem"
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


@pytest.fixture(scope="module")
def token(htpasswd: Path, token_key: Path) -> Iterator[RegistryProcess]:
    with RegistryProcess(None, htpasswd=htpasswd, public="pub/*", acl=ACL, token_auth=True,
                         token_key=token_key) as registry:
        yield registry


def fetch_token(registry: RegistryProcess, scope: str, user: str | None = None,
                password: str | None = None) -> requests.Response:
    auth = (user, password or USERS[user]) if user else None
    return requests.get(registry.url + "/token", params={"service": "dockyard-registry", "scope": scope}, auth=auth)


def bearer(registry: RegistryProcess, scope: str, user: str | None = None) -> Client:
    r = fetch_token(registry, scope, user)
    assert r.status_code == 200, r.text
    s = requests.Session()
    s.headers["Authorization"] = "Bearer " + r.json()["token"]
    return Client(registry.url, s)


def test_token_challenges(token: RegistryProcess) -> None:
    r = requests.get(token.url + "/v2/")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == f'Bearer realm="{token.url}/token",service="dockyard-registry"'
    r = requests.get(token.url + "/v2/private/app/tags/list")
    assert r.status_code == 401 and error_code(r) == "UNAUTHORIZED"
    assert r.headers["WWW-Authenticate"] == (
        f'Bearer realm="{token.url}/token",service="dockyard-registry",scope="repository:private/app:pull"')


def test_token_endpoint(token: RegistryProcess) -> None:
    r = fetch_token(token, "repository:shared/app:pull,push", "bob")
    body = r.json()
    assert set(body) == {"token", "access_token", "expires_in", "issued_at"}
    assert body["token"] == body["access_token"] and body["expires_in"] == 300
    claims = KeyPair.load(Path(token.argv[token.argv.index("--token-key") + 1])).verify(body["token"])
    assert claims["access"] == [{"type": "repository", "name": "shared/app", "actions": ["pull"]}]
    assert claims["sub"] == "bob" and claims["aud"] == "dockyard-registry"
    assert fetch_token(token, "repository:x:pull", "bob", "wrong").status_code == 401
    r = requests.get(token.url + "/token", params={"service": "other", "scope": "repository:x:pull"})
    assert r.status_code == 403


def test_token_flow_push_and_pull(token: RegistryProcess) -> None:
    alice = bearer(token, "repository:pub/app:pull,push")
    assert alice.request("GET", "/v2/").status_code == 200  # any valid token passes the base check
    alice = bearer(token, "repository:pub/app:pull,push", "alice")
    pushed = alice.push_image("pub/app", "latest")
    anon = bearer(token, "repository:pub/app:pull")
    r = anon.request("GET", "/v2/pub/app/manifests/latest")
    assert r.status_code == 200 and r.content == pushed.body
    r = anon.request("POST", "/v2/pub/app/blobs/uploads/")
    assert r.status_code == 401
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
    assert 'scope="repository:pub/app:pull,push"' in r.headers["WWW-Authenticate"]


def test_token_without_permission_is_denied(token: RegistryProcess) -> None:
    bearer(token, "repository:private/app:pull,push", "alice").push_image("private/app", "latest")
    anon = bearer(token, "repository:private/app:pull")
    assert anon.request("GET", "/v2/private/app/manifests/latest").status_code == 401
    bob = bearer(token, "repository:private/app:pull", "bob")
    r = bob.request("GET", "/v2/private/app/manifests/latest")
    assert r.status_code == 403 and error_code(r) == "DENIED"
    other_repo = bearer(token, "repository:bob/app:pull,push", "bob")
    assert other_repo.request("GET", "/v2/bob/app/tags/list").status_code in (200, 404)
    assert other_repo.request("GET", "/v2/shared/app/tags/list").status_code == 403


def test_forged_and_expired_tokens(token: RegistryProcess, token_key: Path) -> None:
    now = int(time.time())
    claims = {"iss": "dockyard-registry", "sub": "alice", "aud": "dockyard-registry", "nbf": now - 10,
              "iat": now, "exp": now + 300,
              "access": [{"type": "repository", "name": "pub/app", "actions": ["pull"]}]}
    good = KeyPair.load(token_key)
    cases = {
        "forged": KeyPair.generate().sign(claims),
        "expired": good.sign({**claims, "exp": now - 3600}),
        "audience": good.sign({**claims, "aud": "elsewhere"}),
        "garbage": "a.b.c",
    }
    for what, jwt in cases.items():
        r = requests.get(token.url + "/v2/pub/app/tags/list", headers={"Authorization": f"Bearer {jwt}"})
        assert r.status_code == 401, what
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"], what
    r = requests.get(token.url + "/v2/pub/app/tags/list", headers={"Authorization": f"Bearer {good.sign(claims)}"})
    assert r.status_code in (200, 404)


def test_catalog_scope_and_oauth_post(token: RegistryProcess) -> None:
    client = bearer(token, "registry:catalog:*", "bob")
    assert "private/app" not in client.request("GET", "/v2/_catalog").json()["repositories"]
    assert bearer(token, "registry:catalog:*").request("GET", "/v2/_catalog").status_code == 401
    r = requests.post(token.url + "/token", data={"grant_type": "password", "username": "alice",
                                                  "password": USERS["alice"], "service": "dockyard-registry",
                                                  "scope": "repository:private/app:pull"})
    assert r.status_code == 200 and r.json()["access_token"]


def test_rsa_token_key(htpasswd: Path, tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "rsa.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    with RegistryProcess(None, htpasswd=htpasswd, token_realm="https://auth.example/token",
                         token_key=pem) as registry:
        r = requests.get(registry.url + "/v2/")
        assert r.headers["WWW-Authenticate"].startswith('Bearer realm="https://auth.example/token"')
        client = bearer(registry, "repository:a/b:pull,push", "alice")
        client.push_image("a/b", "v1")
        jwt = client.s.headers["Authorization"].split()[1]
        assert KeyPair.load(pem).alg == "RS256" and KeyPair.load(pem).verify(jwt)["sub"] == "alice"


def test_read_only(tmp_path: Path) -> None:
    with RegistryProcess(tmp_path) as registry:
        pushed = Client(registry.url).push_image("ro/app", "v1")
    with RegistryProcess(tmp_path, read_only=True) as registry:
        client = Client(registry.url)
        assert client.request("GET", "/v2/ro/app/manifests/v1").content == pushed.body
        for method, path in (("POST", "/v2/ro/app/blobs/uploads/"), ("PUT", "/v2/ro/app/manifests/v2"),
                             ("DELETE", f"/v2/ro/app/manifests/{pushed.digest}")):
            r = client.request(method, path, data=b"{}")
            assert r.status_code == 405 and error_code(r) == "UNSUPPORTED", (method, path)


def test_public_key_only_trusts_an_external_token_server(token_key: Path, tmp_path: Path) -> None:
    private = serialization.load_pem_private_key(token_key.read_bytes(), password=None)
    public = tmp_path / "public.pem"
    public.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
    with RegistryProcess(None, token_realm="https://auth.example/token", token_key=public) as registry:
        assert requests.get(registry.url + "/token").status_code == 404  # no bundled endpoint
        now = int(time.time())
        jwt = KeyPair.load(token_key).sign({
            "iss": "dockyard-registry", "sub": "ext", "aud": "dockyard-registry", "nbf": now, "exp": now + 60,
            "access": [{"type": "repository", "name": "ext/app", "actions": ["pull", "push"]}]})
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {jwt}"
        Client(registry.url, s).push_image("ext/app", "v1")
        assert s.get(registry.url + "/v2/other/app/tags/list").status_code == 403
