"""The pure-ish parts: credentials, challenges, endpoints, manifests, compression."""

from __future__ import annotations

import base64
import gzip
import json
import os
import stat
import subprocess
import zlib
from pathlib import Path

import pytest

from dockyard.distribution import compress, credentials, manifests
from dockyard.distribution.auth import parse_challenge
from dockyard.distribution.credentials import AuthConfig, decode_header
from dockyard.distribution.endpoints import HUB_ENDPOINT, RegistryConfig
from dockyard.distribution.errors import ManifestUnknown, UnsupportedManifest
from dockyard.errors import InvalidArgument
from dockyard.oci import platform as oci_platform
from dockyard.oci.platform import Platform

# ---- X-Registry-Auth and config.json --------------------------------------------------------


def test_registry_auth_header_forms() -> None:
    auth = AuthConfig("u", "p:w", "localhost:5000")
    assert decode_header(auth.header()) == auth
    unpadded = base64.urlsafe_b64encode(b'{"username":"u","password":"x"}').decode().rstrip("=")
    assert decode_header(unpadded).password == "x"
    assert decode_header("").empty and decode_header("e30=").empty  # "{}" as docker CLI sends
    assert decode_header(json.dumps({"identitytoken": "t"})).identitytoken == "t"
    assert decode_header("!!!not-base64!!!").empty  # dockerd 20.10: anonymous, no error
    assert decode_header("WzFd").empty  # [1]
    assert "p:w" not in repr(auth)


def test_config_json_store_lookup_erase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    assert credentials.lookup("localhost:5000").empty
    credentials.store(AuthConfig("alice", "s3cret", "localhost:5000"))
    path = tmp_path / "cfg" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = json.loads(path.read_text())["auths"]["localhost:5000"]["auth"]
    assert base64.b64decode(raw) == b"alice:s3cret"
    assert credentials.lookup("localhost:5000") == AuthConfig("alice", "s3cret", "localhost:5000")
    assert credentials.erase("localhost:5000") and not credentials.erase("localhost:5000")
    assert credentials.lookup("localhost:5000").empty


def test_credential_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real docker-credential-* executable on PATH, speaking the helper protocol."""
    store_file = tmp_path / "helper-store.json"
    helper = tmp_path / "bin" / "docker-credential-test"
    helper.parent.mkdir()
    helper.write_text(f"""#!/usr/bin/env python3
import json, sys
path = {str(store_file)!r}
try:
    data = json.load(open(path))
except FileNotFoundError:
    data = {{}}
verb, payload = sys.argv[1], sys.stdin.read()
if verb == "store":
    entry = json.loads(payload); data[entry["ServerURL"]] = entry; json.dump(data, open(path, "w"))
elif verb == "get":
    if payload.strip() not in data:
        print("credentials not found in native keychain"); sys.exit(1)
    print(json.dumps(data[payload.strip()]))
elif verb == "erase":
    data.pop(payload.strip(), None); json.dump(data, open(path, "w"))
""")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    credentials.save_config({"credHelpers": {"reg.example:5000": "test"}})
    assert credentials.lookup("reg.example:5000").empty
    credentials.store(AuthConfig("bob", "pw", "reg.example:5000"))
    assert "auths" not in credentials.load_config()  # the secret went to the helper only
    assert credentials.lookup("reg.example:5000") == AuthConfig("bob", "pw", "reg.example:5000")
    credentials.store(AuthConfig(serveraddress="reg.example:5000", identitytoken="tok"))
    assert credentials.lookup("reg.example:5000").identitytoken == "tok"
    assert credentials.erase("reg.example:5000")
    credentials.save_config({"credsStore": "missing-helper"})
    with pytest.raises(InvalidArgument, match="docker-credential-missing-helper"):
        credentials.lookup("any")


# ---- challenges and endpoints -------------------------------------------------------------


def test_parse_challenge() -> None:
    ch = parse_challenge('Bearer realm="https://auth.example/token",service="registry.example",'
                         'scope="repository:a/b:pull,push"')
    assert ch is not None and ch.scheme == "bearer" and ch.realm == "https://auth.example/token"
    assert ch.params["scope"] == "repository:a/b:pull,push" and ch.params["service"] == "registry.example"
    basic = parse_challenge('Basic realm="Registry Realm"')
    assert basic is not None and basic.scheme == "basic" and basic.realm == "Registry Realm"
    assert parse_challenge("") is None


def test_endpoints_and_insecure_registries() -> None:
    config = RegistryConfig(insecure=["10.0.0.0/8", "myreg:5000"], mirrors=["https://192.0.2.10"])  # no name to resolve
    hub = config.endpoints("docker.io")
    assert [e.host for e in hub] == ["192.0.2.10", HUB_ENDPOINT] and hub[0].mirror
    assert config.endpoints("localhost:5000")[0].insecure
    assert config.endpoints("127.0.0.5:80")[0].insecure
    assert config.endpoints("10.1.2.3:5000")[0].insecure
    assert config.endpoints("myreg:5000")[0].insecure
    assert not config.endpoints("192.0.2.1:5000")[0].insecure


# ---- manifests -----------------------------------------------------------------------------


def _index(*platforms: tuple[str, str, str]) -> bytes:
    entries = [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
                "digest": "sha256:" + f"{i:x}" * 64,
                "platform": {"os": os_, "architecture": arch, **({"variant": v} if v else {})}}
               for i, (os_, arch, v) in enumerate(platforms, start=1)]
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": entries}).encode()


def test_platform_selection() -> None:
    index = manifests.parse(_index(("linux", "amd64", ""), ("linux", "arm", "v6"), ("linux", "arm", "v7"),
                                   ("linux", "arm64", "v8")), "")
    assert isinstance(index, manifests.Index)

    def pick(platform: str) -> str:
        return manifests.select(index, manifests.parse_platform(platform)).digest[7]

    assert pick("linux/amd64") == "1"
    assert pick("linux/arm/v7") == "3" and pick("linux/arm/v6") == "2"
    assert pick("linux/arm64") == "4" and pick("arm64") == "4"
    with pytest.raises(ManifestUnknown, match="no matching manifest for linux/s390x"):
        manifests.select(index, manifests.parse_platform("linux/s390x"))
    with pytest.raises(InvalidArgument):
        manifests.parse_platform("a/b/c/d")


def test_platform_parsing_as_containerd() -> None:
    here = oci_platform.default()
    assert manifests.parse_platform("linux") == Platform("linux", here.architecture, here.variant)
    assert str(manifests.parse_platform("x86_64")) == "linux/amd64"
    assert str(manifests.parse_platform("linux/whatever")) == "linux/whatever"  # pairs are not checked
    with pytest.raises(InvalidArgument, match="unknown operating system or architecture"):
        manifests.parse_platform("bogus")
    with pytest.raises(InvalidArgument, match="is an invalid component of"):
        manifests.parse_platform("linux/")
    with pytest.raises(InvalidArgument, match="cannot parse platform specifier"):
        manifests.parse_platform("a/b/c/d")


@pytest.mark.parametrize(("wanted", "image", "served"), [
    ("linux/amd64", "linux/amd64", True), ("linux/amd64", "linux/386", True),
    ("linux/386", "linux/amd64", False),
    ("linux/amd64", "windows/amd64", False), ("linux/arm64", "linux/amd64", False),
    ("linux/arm64", "linux/arm64", True), ("linux/arm64", "linux/arm/v7", True),
    ("linux/arm/v7", "linux/arm/v6", True), ("linux/arm/v6", "linux/arm/v7", False),
    ("linux/arm/v7", "linux/arm", True), ("linux/arm/v6", "linux/arm", True),
    ("linux/amd64/v2", "linux/amd64", True),
])
def test_which_image_platforms_serve_a_wanted_one(wanted: str, image: str, served: bool) -> None:
    """dockerd 20.10's OnlyPlatformWithFallback: containerd's platforms.Only (386 on amd64, an
    older arm variant, 32-bit arm on arm64), or an image without a variant of the same OS and
    architecture (checked: a variantless arm image is created for linux/arm/v6 and v5)."""
    os_, arch, *variant = image.split("/")
    assert manifests.serves(manifests.parse_platform(wanted),
                            Platform(os_, arch, "".join(variant))) is served


def test_platforms_print_as_containerd() -> None:
    assert str(manifests.parse_platform("linux/arm64")) == "linux/arm64"
    assert str(manifests.parse_platform("linux/arm64/v8")) == "linux/arm64/v8"
    assert str(manifests.parse_platform("linux/arm/v7")) == "linux/arm/v7"
    assert str(manifests.parse_platform("armhf")) == "linux/arm"


def test_index_choice_as_dockerd() -> None:
    """dockerd 20.10's filterManifests (checked against a loopback registry): the normalised
    platform exactly, else for arm the first entry of that architecture whatever its variant;
    arm64 never falls back to 32-bit arm there, amd64 never to 386."""
    index = manifests.parse(_index(("linux", "amd64", "v2"), ("linux", "amd64", ""), ("linux", "arm", "v7"),
                                   ("linux", "arm", "v5"), ("linux", "386", "")), "")
    assert isinstance(index, manifests.Index)

    def pick(platform: str) -> str:
        return manifests.select(index, manifests.parse_platform(platform)).digest[7]

    assert pick("linux/amd64") == "2" and pick("linux/amd64/v2") == "1"
    assert pick("linux/arm/v6") == "3" and pick("linux/arm/v5") == "4" and pick("linux/arm") == "3"
    with pytest.raises(ManifestUnknown, match="^no matching manifest for linux/arm64 in the manifest list entries$"):
        manifests.select(index, manifests.parse_platform("linux/arm64"))
    only_386 = manifests.parse(_index(("linux", "386", "")), "")
    assert isinstance(only_386, manifests.Index)
    with pytest.raises(ManifestUnknown, match="no matching manifest for linux/amd64 in"):
        manifests.select(only_386, manifests.parse_platform("linux/amd64"))


def test_manifest_parsing_refuses_schema1_and_garbage() -> None:
    with pytest.raises(UnsupportedManifest, match="schema 1"):
        manifests.parse(b'{"schemaVersion": 1, "fsLayers": []}', "")
    with pytest.raises(UnsupportedManifest):
        manifests.parse(b"not json", "")
    with pytest.raises(UnsupportedManifest):
        manifests.parse(b'{"schemaVersion": 2, "config": {"digest": "md5:x", "size": 1}}', "")


def test_built_manifest_matches_dockers_format() -> None:
    config = manifests.Descriptor("application/vnd.docker.container.image.v1+json", "sha256:" + "a" * 64, 1457)
    layer = manifests.Descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", "sha256:" + "b" * 64, 772788)
    data = manifests.build(config, [layer])
    assert data.startswith(b'{\n   "schemaVersion": 2,\n   "mediaType": "application/vnd.docker.distribution')
    assert len(data) == 527  # what dockerd reports for busybox (4-digit config, 6-digit layer)


# ---- compression ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["text", "random", "empty"])
def test_parallel_gzip_is_standard_and_deterministic(kind: str, tmp_path: Path) -> None:
    import io
    import random

    rnd = random.Random(7)
    data = {"text": b"".join(b"line %d of some text\n" % rnd.randrange(1000) for _ in range(300_000)),
            "random": rnd.randbytes(3 << 20), "empty": b""}[kind]
    out = b"".join(compress.compressed(io.BytesIO(data), "gzip"))
    assert out == b"".join(compress.compressed(io.BytesIO(data), "gzip"))
    assert gzip.decompress(out) == data
    (tmp_path / "x.gz").write_bytes(out)
    assert subprocess.run(["gzip", "-t", str(tmp_path / "x.gz")], check=False).returncode == 0
    if kind == "random":
        assert len(out) < len(data) * 1.001  # stored, not inflated
    if kind == "text":
        assert len(out) < len(data) / 2
    assert zlib.decompress(out, 31) == data


def test_zstd_round_trip() -> None:
    import io

    import zstandard

    data = os.urandom(1 << 20) + b"a" * (4 << 20)
    out = b"".join(compress.compressed(io.BytesIO(data), "zstd"))
    assert zstandard.ZstdDecompressor().stream_reader(io.BytesIO(out)).read() == data
