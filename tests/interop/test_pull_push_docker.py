"""The real docker CLI, docker-py and the dockyard CLI, pointed at the dockyard daemon, log in to,
push to and pull from the dockyard registry (htpasswd) on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bcrypt
import docker.errors
import pytest

from dockyard.testing.daemon import DaemonProcess
from dockyard.testing.registry import RegistryProcess

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("dockyard_clean_images")]
DOCKER = shutil.which("docker") or "/usr/local/bin/docker"
PASSWORD = "wonder-land-secret"

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def registry(dockyard_registry_factory: Callable[..., RegistryProcess], tmp_path: Path) -> RegistryProcess:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"alice:{bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()}\n")
    return dockyard_registry_factory(htpasswd=htpasswd)


def runner(argv0: list[str], env: dict[str, str]) -> Run:
    def run(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([*argv0, *args], env=env, input=input, capture_output=True, text=True,
                           timeout=120, check=False)
        if check and r.returncode != 0:
            raise AssertionError(f"{args} failed: {r.stderr}")
        return r
    return run


@pytest.fixture
def env(dockyard_daemon: DaemonProcess, tmp_path: Path) -> dict[str, str]:
    out = {**os.environ, "DOCKER_HOST": dockyard_daemon.host, "DOCKYARD_HOST": dockyard_daemon.host,
           "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    out.pop("DOCKER_CONTEXT", None)
    return out


def test_docker_cli_login_push_pull(env: dict[str, str], registry: RegistryProcess, busybox_image: str,
                                    dockyard_client: Any) -> None:
    docker = runner([DOCKER], env)
    repo = f"{registry.host}/team/bb"
    bad = docker("login", registry.host, "-u", "alice", "--password-stdin", input="nope\n", check=False)
    assert bad.returncode != 0 and "401 Unauthorized" in bad.stderr
    ok = docker("login", registry.host, "-u", "alice", "--password-stdin", input=PASSWORD + "\n")
    assert "Login Succeeded" in ok.stdout and PASSWORD not in ok.stdout + ok.stderr
    docker("tag", "busybox:latest", f"{repo}:v1")
    pushed = docker("push", f"{repo}:v1")
    assert f"The push refers to repository [{repo}]" in pushed.stdout
    line = next(x for x in pushed.stdout.splitlines() if x.startswith("v1: digest: "))
    digest = line.split()[2]
    assert line.endswith("size: 527")
    docker("rmi", f"{repo}:v1")
    pulled = docker("pull", f"{repo}:v1")
    assert "v1: Pulling from team/bb" in pulled.stdout
    assert f"Digest: {digest}" in pulled.stdout
    assert f"Status: Downloaded newer image for {repo}:v1" in pulled.stdout
    assert f"Status: Image is up to date for {repo}:v1" in docker("pull", f"{repo}:v1").stdout
    inspect = json.loads(docker("image", "inspect", f"{repo}:v1").stdout)[0]
    assert inspect["Id"] == busybox_image and f"{repo}@{digest}" in inspect["RepoDigests"]
    docker("logout", registry.host)
    denied = docker("pull", f"{repo}:v1", check=False)
    assert denied.returncode != 0 and "pull access denied" in denied.stderr


def test_docker_py_push_pull(registry: RegistryProcess, busybox_image: str, dockyard_client: Any) -> None:
    client = dockyard_client
    repo = f"{registry.host}/py"
    auth = {"username": "alice", "password": PASSWORD}
    client.images.get("busybox:latest").tag(repo, "v2")
    lines = list(client.images.push(repo, "v2", auth_config=auth, stream=True, decode=True))
    assert any("aux" in m and m["aux"]["Tag"] == "v2" for m in lines)
    assert not any("error" in m for m in lines)
    client.images.remove(f"{repo}:v2")
    image = client.images.pull(repo, "v2", auth_config=auth)
    assert image.id == busybox_image
    with pytest.raises(docker.errors.APIError) as info:
        client.images.pull(repo, "v2", auth_config={"username": "alice", "password": "bad"})
    assert info.value.status_code == 500 and "pull access denied" in str(info.value)  # as dockerd
    assert client.login("alice", PASSWORD, registry=registry.host, reauth=True)["Status"] == "Login Succeeded"


def test_dockyard_cli_login_push_pull_logout(env: dict[str, str], registry: RegistryProcess, busybox_image: str,
                                             dockyard_client: Any, tmp_path: Path) -> None:
    dockyard = runner([sys.executable, "-m", "dockyard.cli.main"], env)
    repo = f"{registry.host}/cli"
    login = dockyard("login", registry.host, "-u", "alice", "--password-stdin", input=PASSWORD)
    assert login.stdout == "Login Succeeded\n" and PASSWORD not in login.stdout + login.stderr
    stored = json.loads((Path(env["DOCKER_CONFIG"]) / "config.json").read_text())
    assert registry.host in stored["auths"]
    dockyard_client.images.get("busybox:latest").tag(repo, "v3")
    pushed = dockyard("push", f"{repo}:v3")
    assert pushed.stdout.splitlines()[0] == f"The push refers to repository [{repo}]"
    assert "v3: digest: sha256:" in pushed.stdout
    dockyard_client.images.remove(f"{repo}:v3")
    pulled = dockyard("pull", f"{repo}:v3")
    assert pulled.stdout.splitlines()[0] == "v3: Pulling from cli"
    assert pulled.stdout.splitlines()[-1] == f"{repo}:v3"
    assert dockyard("logout", registry.host).stdout == f"Removing login credentials for {registry.host}\n"
    assert dockyard("logout", registry.host).stdout == f"Not logged in to {registry.host}\n"
    failed = dockyard("pull", f"{repo}:v3", check=False)
    assert failed.returncode == 1 and failed.stderr.startswith("dockyard: pull access denied")


def test_distribution_inspect_and_search(env: dict[str, str], registry: RegistryProcess, busybox_image: str,
                                         dockyard_client: Any) -> None:
    auth = {"username": "alice", "password": PASSWORD}
    repo = f"{registry.host}/meta"
    dockyard_client.images.get("busybox:latest").tag(repo, "v1")
    pushed = list(dockyard_client.images.push(repo, "v1", auth_config=auth, stream=True, decode=True))
    digest = next(m["aux"]["Digest"] for m in pushed if "aux" in m)
    data = dockyard_client.api.inspect_distribution(f"{repo}:v1", auth_config=auth)
    assert data["Descriptor"]["digest"] == digest and data["Descriptor"]["size"] == 527
    assert data["Platforms"][0]["os"] == "linux"
    with pytest.raises(docker.errors.APIError) as info:
        dockyard_client.api.search(f"{registry.host}/meta")
    assert info.value.status_code == 503 and "does not support search" in str(info.value)
    cli = runner([DOCKER], env)
    failed = cli("search", f"{registry.host}/meta", check=False)
    assert failed.returncode != 0 and "does not support search" in failed.stderr


def test_daemon_registry_mirror_flag(dockyard_registry: RegistryProcess, busybox_image: str,
                                     dockyard_client: Any) -> None:
    """``dockyard daemon --registry-mirror URL``: Docker Hub names are pulled from the mirror."""
    dockyard_client.images.get("busybox:latest").tag(f"{dockyard_registry.host}/library/mirrored", "1.0")
    list(dockyard_client.images.push(f"{dockyard_registry.host}/library/mirrored", "1.0", stream=True))
    with DaemonProcess(None, "--registry-mirror", dockyard_registry.url,
                       "--insecure-registry", "10.0.0.0/8") as daemon:
        client = daemon.client()
        try:
            mirrors = client.info()["RegistryConfig"]["Mirrors"]
            assert mirrors == [dockyard_registry.url]
            image = client.images.pull("mirrored", "1.0")
            assert image.id == busybox_image and image.tags == ["mirrored:1.0"]
        finally:
            client.close()


def test_dockyard_cli_search_fails_cleanly(env: dict[str, str], dockyard_registry: RegistryProcess) -> None:
    dockyard = runner([sys.executable, "-m", "dockyard.cli.main"], env)
    failed = dockyard("search", f"{dockyard_registry.host}/x", check=False)
    assert failed.returncode == 1 and failed.stderr.startswith("dockyard: ") and "does not support search" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_bad_requests_are_400s(dockyard_client: Any, registry: RegistryProcess) -> None:
    api = dockyard_client.api
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: api.pull("Upper/Case"), "invalid reference format: repository name must be lowercase"),
        (lambda: api.pull(f"{registry.host}/x", tag="bad tag!"), "invalid tag format"),
        (lambda: api.pull(f"{registry.host}/x", platform="linux/a/b/c"), "cannot parse platform specifier"),
        (lambda: api.push("x:y", tag="also:bad"), "invalid tag format"),
    ]
    for call, wording in cases:
        with pytest.raises(docker.errors.APIError) as info:
            call()
        assert info.value.status_code == 400, info.value
        assert wording in str(info.value)
    with pytest.raises(docker.errors.APIError) as missing:
        list(api.push(f"{registry.host}/never-tagged", tag="v1", stream=True))
    assert missing.value.status_code == 404
    assert "An image does not exist locally with the tag" in str(missing.value)
    with pytest.raises(docker.errors.APIError) as unknown:
        api.pull(f"{registry.host}/x", tag="nope", auth_config={"username": "alice", "password": PASSWORD})
    assert unknown.value.status_code == 404 and "not found" in str(unknown.value)
