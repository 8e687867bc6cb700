"""A create's ``platform`` (``docker run --platform``): the image must serve it, else dockerd's
404 — which the docker CLI's ``--pull missing`` takes as "pull that platform" — and nothing is
created; a platform containerd cannot parse is a 400; clients below API 1.41 never send one."""

from __future__ import annotations

from typing import Any

import docker
import pytest
from docker.errors import APIError

from dockyard.oci import platform as oci_platform
from dockyard.testing.daemon import DaemonProcess, DockerCLI

HOST = oci_platform.default()
OTHER = "linux/arm64" if HOST.architecture != "arm64" else "linux/amd64"


def _names(client: Any) -> set[str]:
    return {c.name for c in client.containers.list(all=True)}


@pytest.mark.parametrize("wanted", [f"{HOST.os}/{HOST.architecture}", HOST.architecture, "linux",
                                    "LINUX/" + HOST.architecture.upper()])
def test_a_platform_the_image_serves_is_created(client: Any, wanted: str) -> None:
    made = client.api.create_container("busybox", "true", platform=wanted)
    assert client.api.inspect_container(made["Id"])["Image"].startswith("sha256:")


def test_another_platform_is_dockerds_404_and_creates_nothing(client: Any) -> None:
    before = _names(client)
    with pytest.raises(APIError) as caught:
        client.api.create_container("busybox", "true", platform=OTHER, name="platform-other")
    assert caught.value.status_code == 404
    assert caught.value.explanation == (
        f"image with reference busybox was found but does not match the specified platform: "
        f"wanted {OTHER}, actual: linux/{HOST.architecture}")
    assert _names(client) == before


@pytest.mark.parametrize(("wanted", "message"), [
    ("bogus", '"bogus": unknown operating system or architecture: invalid argument'),
    ("linux/", ('"" is an invalid component of "linux/": platform specifier component must match '
                '"^[A-Za-z0-9_-]+$": invalid argument')),
])
def test_a_platform_that_does_not_parse_is_a_400(client: Any, wanted: str, message: str) -> None:
    with pytest.raises(APIError) as caught:
        client.api.create_container("busybox", "true", platform=wanted)
    assert caught.value.status_code == 400
    assert caught.value.explanation == message


def test_below_api_1_41_the_platform_is_not_read(dockyard_daemon: DaemonProcess, client: Any) -> None:
    old = docker.APIClient(base_url=dockyard_daemon.host, version="1.40")
    try:
        made = old.post(old._url("/containers/create"), params={"platform": OTHER},
                        json={"Image": "busybox", "Cmd": ["true"]})
        assert made.status_code == 201, made.text
    finally:
        old.close()


def test_docker_run_platform_with_pull_never(docker: DockerCLI) -> None:
    done = docker("run", "--rm", "--pull", "never", "--platform", OTHER, "busybox", "true")
    assert done.returncode == 125
    assert ("docker: Error response from daemon: image with reference busybox was found but does "
            f"not match the specified platform: wanted {OTHER}, actual: linux/{HOST.architecture}"
            in done.stderr)
    done = docker("run", "--rm", "--pull", "never", "--platform", f"linux/{HOST.architecture}",
                  "busybox", "true")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
