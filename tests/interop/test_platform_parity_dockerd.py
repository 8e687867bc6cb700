"""One platform parser (dockyard.oci.platform, containerd's) behind import, pull, create and
build, side by side with a private dockerd 20.10 through the docker CLI: each case is one where
dockyard used to differ. Pulls come from a dockyard registry on 127.0.0.1 holding small
multi-platform indexes (their images are busybox's rootfs under each platform's config)."""

from __future__ import annotations

import gzip
import hashlib
import json
import urllib.request
from pathlib import Path
from typing import Any

import docker
import pytest

from dockyard.engine import go_arch
from dockyard.testing.daemon import DockerCLI
from dockyard.testing.dockerd import Dockerd, busybox_rootfs_tar
from dockyard.testing.registry import RegistryProcess

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("dockyard_clean_images")]
FORMAT = "{{.Os}}/{{.Architecture}}/{{.Variant}}"
SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"
LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEXES = {"armv6": [("arm", "v6")], "mix": [("amd64", ""), ("arm", "v7"), ("arm", "v5")],
           "amd": [("amd64", "")], "i386": [("386", "")], "armbare": [("arm", "")]}


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _put(url: str, data: bytes, content_type: str = "", method: str = "PUT") -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers),
                           timeout=30).close()


def _push_index(url: str, repo: str, platforms: list[tuple[str, str]]) -> None:
    rootfs = busybox_rootfs_tar()
    layer = gzip.compress(rootfs, mtime=0)
    entries = []
    for arch, variant in platforms:
        config = json.dumps({"architecture": arch, "os": "linux", **({"variant": variant} if variant else {}),
                             "config": {"Cmd": ["sh"]},
                             "rootfs": {"type": "layers", "diff_ids": [_digest(rootfs)]}}).encode()
        for blob in (config, layer):
            _put(f"{url}/v2/{repo}/blobs/uploads/?digest={_digest(blob)}", blob, method="POST")
        manifest = json.dumps({"schemaVersion": 2, "mediaType": SCHEMA2, "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
            "digest": _digest(config)}, "layers": [{
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(layer),
                "digest": _digest(layer)}]}).encode()
        _put(f"{url}/v2/{repo}/manifests/{_digest(manifest)}", manifest, SCHEMA2)
        entries.append({"mediaType": SCHEMA2, "size": len(manifest), "digest": _digest(manifest),
                        "platform": {"architecture": arch, "os": "linux",
                                     **({"variant": variant} if variant else {})}})
    index = json.dumps({"schemaVersion": 2, "mediaType": LIST, "manifests": entries}).encode()
    _put(f"{url}/v2/{repo}/manifests/latest", index, LIST)


@pytest.fixture
def registry(dockyard_registry: RegistryProcess) -> RegistryProcess:
    for name, platforms in INDEXES.items():
        _push_index(dockyard_registry.url, f"p/{name}", platforms)
    return dockyard_registry


def _both(dockerd: Dockerd, dockyard_daemon: Any, *args: str, buildkit: bool = True,
          inspect: str = "") -> dict[str, tuple[Any, ...]]:
    """Each daemon's exit code and stderr for ``docker args`` (and the inspected image's
    platform after it); what dockerd made is removed again, dockyard's by the fixture."""
    said = {}
    for name, host in (("dockerd", dockerd.host), ("dockyard", dockyard_daemon.host)):
        cli = DockerCLI(host)
        if not buildkit:
            cli.env["DOCKER_BUILDKIT"] = "0"
        done = cli(*args)
        shown = cli("image", "inspect", "-f", FORMAT, inspect).stdout.strip() if inspect else ""
        said[name] = (done.returncode, done.stderr.strip(), shown)
        if name == "dockerd" and inspect:
            cli("rmi", "-f", inspect)
    return said


@pytest.mark.parametrize(("platform", "made"), [
    ("amd64", True), ("arm64", True), ("linux/arm64/v8", True), ("linux/x86_64", True),
    ("windows", False), ("darwin/amd64", False), ("bogus", False), ("linux/a/b/c", False),
    ("linux/x y", False), ("*", False),
])
def test_import_platform_as_dockerd(dockerd: Dockerd, dockyard_daemon: Any, tmp_path: Path,
                                    platform: str, made: bool) -> None:
    """dockerd 20.10's import keeps only the parsed OS (the image is this machine's arch, no
    variant) and refuses another OS in its own words; dockyard took "amd64" for an OS and
    recorded any architecture it was given."""
    tar = tmp_path / "rootfs.tar"
    tar.write_bytes(busybox_rootfs_tar())
    said = _both(dockerd, dockyard_daemon, "import", "--platform", platform, str(tar), "platimp:1",
                 inspect="platimp:1")
    assert said["dockyard"] == said["dockerd"]
    assert said["dockerd"][0] == (0 if made else 1)
    if made:
        assert said["dockerd"][2] == f"linux/{go_arch()}/"


@pytest.mark.parametrize(("platform", "repo", "pulled"), [
    ("linux/arm/v7", "armv6", "linux/arm/v6"),  # arm: no exact entry, the first of that arch
    ("linux/arm/v6", "mix", "linux/arm/v7"),
    ("linux/arm64", "amd", ""),  # the refusal names linux/arm64, not linux/arm64/v8
    ("aarch64", "amd", ""),
    ("linux/arm64", "armv6", ""),  # no fallback to 32-bit arm in the index choice
])
def test_pull_platform_as_dockerd(dockerd: Dockerd, dockyard_daemon: Any, registry: RegistryProcess,
                                  platform: str, repo: str, pulled: str) -> None:
    ref = f"{registry.host}/p/{repo}"
    said = _both(dockerd, dockyard_daemon, "pull", "-q", "--platform", platform, ref, inspect=ref)
    assert said["dockyard"][:2] == said["dockerd"][:2]
    assert said["dockerd"][0] == (0 if pulled else 1)
    if pulled:
        assert said["dockerd"][2] == said["dockyard"][2] == pulled + ("" if pulled.count("/") == 2 else "/")
    else:
        assert said["dockerd"][1].startswith("no matching manifest for ")


@pytest.mark.parametrize(("repo", "pulled_as", "wanted"), [
    ("armbare", "linux/arm", "linux/arm/v6"),  # an image without a variant serves any variant
    ("i386", "linux/386", "linux/amd64"),  # containerd's Only: 386 runs on amd64
])
def test_create_platform_as_dockerd(dockerd: Dockerd, dockyard_daemon: Any, client: Any,
                                    registry: RegistryProcess, repo: str, pulled_as: str,
                                    wanted: str) -> None:
    ref = f"{registry.host}/p/{repo}"
    said = {}
    for name, host in (("dockerd", dockerd.host), ("dockyard", dockyard_daemon.host)):
        cli = DockerCLI(host)
        assert cli("pull", "-q", "--platform", pulled_as, ref).returncode == 0
        done = cli("create", "--pull", "never", "--platform", wanted, ref, "true")
        said[name] = (done.returncode, done.stderr.strip())
        if name == "dockerd":
            cli("rm", "-f", done.stdout.strip())
            cli("rmi", "-f", ref)
    assert said["dockyard"] == said["dockerd"] == (0, "")


@pytest.mark.parametrize(("platform", "built"), [("linux/nope", True), ("nope/amd64", True), ("bogus", False),
                                                 ("linux//amd64", False)])
def test_build_from_platform_as_dockerd(dockerd: Dockerd, dockyard_daemon: Any, client: Any,
                                        tmp_path: Path, platform: str, built: bool) -> None:
    """The classic builder parses FROM --platform as containerd does: an os/arch pair is not
    checked against any list (busybox, local, is used), a bad specifier fails in its words."""
    (tmp_path / "Dockerfile").write_text(f"FROM --platform={platform} busybox\nRUN true\n")
    said = {}
    for name, host in (("dockerd", dockerd.host), ("dockyard", dockyard_daemon.host)):
        cli = DockerCLI(host)
        cli.env["DOCKER_BUILDKIT"] = "0"
        done = cli("build", "-q", str(tmp_path))
        said[name] = (done.returncode, done.stdout + done.stderr)
        if name == "dockerd" and done.returncode == 0:
            cli("rmi", done.stdout.strip())
    assert said["dockyard"][0] == said["dockerd"][0] == (0 if built else 1)
    if not built:
        words = f"failed to parse platform {platform}: "
        line = next(x for x in said["dockerd"][1].splitlines() if x.startswith(words))
        assert line in said["dockyard"][1]


@pytest.mark.parametrize("platform", ["bogus", "linux/a/b/c"])
def test_build_from_platform_error_in_the_stream(dockerd: Dockerd, dockyard_daemon: Any,
                                                 client: Any, tmp_path: Path, platform: str) -> None:
    """The classic builder meets a bad FROM --platform at that FROM step: 200, ``Step 1/2 :
    FROM …`` and then the error in the stream (not an error response before it)."""
    (tmp_path / "Dockerfile").write_text(f"FROM --platform={platform} busybox\nRUN true\n")
    said = {}
    for name, host in (("dockerd", dockerd.host), ("dockyard", dockyard_daemon.host)):
        api = docker.APIClient(base_url=host, version="1.41")
        try:
            messages = list(api.build(path=str(tmp_path), decode=True))
        except docker.errors.APIError as exc:
            messages = [{"status": exc.status_code, "message": exc.explanation}]
        finally:
            api.close()
        said[name] = ("".join(m.get("stream", "") for m in messages),
                      [m.get("error") or m.get("message") for m in messages
                       if "error" in m or "message" in m])
    assert said["dockyard"] == said["dockerd"]
    assert said["dockerd"][0] == f"Step 1/2 : FROM --platform={platform} busybox\n"
