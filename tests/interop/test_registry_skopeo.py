"""skopeo copies an image into the dockyard registry and back out with identical digests — and
the same test runs against Debian's docker-registry (distribution 2.8), side by side."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from dockyard.registry.auth.htpasswd import entry
from dockyard.testing.registry import DistributionProcess, RegistryProcess

pytestmark = pytest.mark.interop
SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _blob(layout: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def busybox_layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in ("bin",):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        data = Path("/bin/busybox").read_bytes()
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode, info.mtime = len(data), 0o755, 0
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("bin/sh")
        link.type, link.linkname, link.mtime = tarfile.SYMTYPE, "busybox", 0
        tar.addfile(link)
    return buf.getvalue()


def make_layout(layout: Path, tag: str = "v1") -> str:
    """An OCI image layout holding a one-layer busybox image; returns the manifest digest."""
    (layout / "blobs" / "sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    tar = busybox_layer()
    layer = gzip.compress(tar, compresslevel=1, mtime=0)  # compressed: skopeo pushes it unchanged
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]}
                         }).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **_blob(layout, config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **_blob(layout, layer)}],
    }).encode()
    desc = {"mediaType": OCI_MANIFEST, **_blob(layout, manifest),
            "annotations": {"org.opencontainers.image.ref.name": tag}}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [desc]}))
    return str(desc["digest"])


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([SKOPEO, "--insecure-policy", *args], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    return result


def layout_digest(layout: Path) -> str:
    return str(json.loads((layout / "index.json").read_text())["manifests"][0]["digest"])


USER, PASSWORD = "skopeo", "skopeo-secret"


@pytest.fixture(scope="module")
def htpasswd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("htpasswd") / "htpasswd"
    path.write_text(entry(USER, PASSWORD) + "\n")
    return path


@pytest.fixture(params=["dockyard", "distribution"])
def target(request: pytest.FixtureRequest) -> Iterator[RegistryProcess]:
    """An open registry: dockyard's, then distribution's, so results compare side by side."""
    with RegistryProcess() if request.param == "dockyard" else DistributionProcess() as registry:
        yield registry


@pytest.fixture(params=["dockyard", "distribution"])
def authed(request: pytest.FixtureRequest, htpasswd: Path) -> Iterator[RegistryProcess]:
    registry = (RegistryProcess(None, htpasswd=htpasswd) if request.param == "dockyard"
                else DistributionProcess(htpasswd=htpasswd))
    with registry:
        yield registry


def round_trip(registry: RegistryProcess, tmp_path: Path, creds: list[str]) -> None:
    src = tmp_path / "src"
    digest = make_layout(src)
    ref = f"docker://{registry.host}/interop/busybox:v1"
    skopeo("copy", "--dest-tls-verify=false", *[f"--dest-creds={c}" for c in creds], f"oci:{src}:v1", ref)
    inspect = json.loads(skopeo("inspect", "--tls-verify=false", *[f"--creds={c}" for c in creds], ref).stdout)
    assert inspect["Digest"] == digest
    out = tmp_path / "out"
    skopeo("copy", "--src-tls-verify=false", *[f"--src-creds={c}" for c in creds], ref, f"oci:{out}:v1")
    assert layout_digest(out) == digest
    for blob in (src / "blobs" / "sha256").iterdir():
        assert (out / "blobs" / "sha256" / blob.name).read_bytes() == blob.read_bytes()


def test_skopeo_round_trip(target: RegistryProcess, tmp_path: Path) -> None:
    registry = target
    round_trip(registry, tmp_path, [])
    tags = requests.get(registry.url + "/v2/interop/busybox/tags/list", timeout=10).json()
    assert tags == {"name": "interop/busybox", "tags": ["v1"]}


def test_skopeo_with_htpasswd_credentials(authed: RegistryProcess, tmp_path: Path) -> None:
    round_trip(authed, tmp_path, [f"{USER}:{PASSWORD}"])
    r = requests.get(authed.url + "/v2/interop/busybox/manifests/v1", timeout=10)
    assert r.status_code == 401
    wrong = subprocess.run([SKOPEO, "--insecure-policy", "inspect", "--tls-verify=false", f"--creds={USER}:wrong",
                            f"docker://{authed.host}/interop/busybox:v1"], capture_output=True, text=True,
                           timeout=60, check=False)
    assert wrong.returncode != 0 and "unauthorized" in wrong.stderr.lower()


def test_skopeo_token_auth(htpasswd: Path, tmp_path: Path) -> None:
    """Docker token flow: skopeo follows the Bearer challenge to the bundled /token endpoint."""
    with RegistryProcess(None, htpasswd=htpasswd, token_auth=True, public="interop/*") as registry:
        round_trip(registry, tmp_path, [f"{USER}:{PASSWORD}"])
        anonymous = skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/interop/busybox:v1")
        assert json.loads(anonymous.stdout)["Digest"] == layout_digest(tmp_path / "src")
