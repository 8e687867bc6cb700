"""A real dockerd (20.10) logs in to, pushes to and pulls from the dockyard registry, in Basic
(htpasswd) and Docker token mode — the flow Docker Hub uses, against the bundled /token."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from dockyard.registry.auth.htpasswd import entry
from dockyard.testing.dockerd import Dockerd
from dockyard.testing.registry import RegistryProcess

pytestmark = [pytest.mark.interop, pytest.mark.root]
USER, PASSWORD = "dock", "dock-secret"


@pytest.fixture(scope="module")
def htpasswd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dockerd-auth") / "htpasswd"
    path.write_text(entry(USER, PASSWORD) + "\n")
    return path


@pytest.mark.parametrize("mode", ["basic", "token"])
def test_login_push_pull(dockerd: Dockerd, htpasswd: Path, mode: str) -> None:
    flags: dict[str, object] = {"htpasswd": htpasswd, "public": "pub/*"}
    if mode == "token":
        flags["token_auth"] = True
    with RegistryProcess(None, **flags) as registry:
        client = dockerd.client()
        with pytest.raises(docker.errors.APIError):
            client.login(username=USER, password="wrong", registry=registry.host, reauth=True)
        auth = {"username": USER, "password": PASSWORD}
        assert client.login(registry=registry.host, reauth=True, **auth)["Status"] == "Login Succeeded"
        image = client.images.get("busybox:latest")
        for repo in ("pub/busybox", "private/busybox"):
            ref = f"{registry.host}/{repo}"
            image.tag(ref, "v1")
            lines = list(client.images.push(ref, "v1", auth_config=auth, stream=True, decode=True))
            assert not [line for line in lines if "error" in line], lines
            digest = next(line["aux"]["Digest"] for line in lines if "aux" in line)
            client.images.remove(f"{ref}:v1")
            pulled = client.images.pull(ref, "v1", auth_config=auth)
            assert pulled.id == image.id
            assert f"{ref}@{digest}" in pulled.attrs["RepoDigests"]
            client.images.remove(f"{ref}:v1")
        fresh = docker.APIClient(base_url=dockerd.host, version="auto")  # no stored credentials
        with pytest.raises(docker.errors.APIError):
            fresh.pull(f"{registry.host}/private/busybox", "v1")
        if mode == "token":
            # docker pulls anonymously only through a Bearer challenge: with a Basic one it
            # insists on credentials (as with distribution), so public pulls need token mode.
            fresh.pull(f"{registry.host}/pub/busybox", "v1")
            fresh.remove_image(f"{registry.host}/pub/busybox:v1")
