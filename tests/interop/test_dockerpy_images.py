"""docker-py (the ``docker`` package) against the dockyard daemon."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from dockyard import API_VERSION
from dockyard.testing.daemon import DaemonProcess

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("dockyard_clean_images")]


@pytest.fixture(scope="module")
def dockyard_daemon() -> Iterator[DaemonProcess]:
    """This module asserts on a daemon's whole state (df, prune -a, no images left): its own
    daemon, so what other modules leave on the session daemon cannot change the outcome."""
    with DaemonProcess() as daemon:
        yield daemon


def test_ping_version_info(dockyard_client) -> None:
    assert dockyard_client.ping() is True
    version = dockyard_client.version()
    assert version["ApiVersion"] == API_VERSION and version["Os"] == "linux"
    assert dockyard_client.api.api_version == API_VERSION
    info = dockyard_client.info()
    assert info["OSType"] == "linux" and info["Driver"] == "overlay2"


def test_load_list_get(dockyard_client, busybox_archive: Path) -> None:
    with open(busybox_archive, "rb") as f:
        (image,) = dockyard_client.images.load(f)
    assert image.tags == ["busybox:latest"]
    assert image.id in {i.id for i in dockyard_client.images.list()}
    assert dockyard_client.images.list(name="busybox")[0].id == image.id
    got = dockyard_client.images.get("busybox")
    assert got.id == image.id and got.attrs["Config"]["Cmd"] == ["sh"]
    assert got.history()[0]["Id"] == image.id


def test_tag_remove_and_not_found(dockyard_client, busybox_image: str) -> None:
    image = dockyard_client.images.get(busybox_image)
    assert image.tag("localhost:5000/ns/app", "v2") is True
    assert "localhost:5000/ns/app:v2" in dockyard_client.images.get("localhost:5000/ns/app:v2").tags
    dockyard_client.images.remove("localhost:5000/ns/app:v2")
    with pytest.raises(docker.errors.ImageNotFound):
        dockyard_client.images.get("localhost:5000/ns/app:v2")


def test_conflict_is_a_409(dockyard_client, busybox_image: str) -> None:
    dockyard_client.images.get("busybox").tag("other", "x")
    with pytest.raises(docker.errors.APIError) as info:
        dockyard_client.images.remove(busybox_image[7:19])
    assert info.value.status_code == 409


def test_save_streams_a_loadable_archive(dockyard_client, busybox_image: str) -> None:
    data = b"".join(dockyard_client.images.get("busybox").save(chunk_size=65536))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert "manifest.json" in tar.getnames()
    dockyard_client.images.remove("busybox")
    (image,) = dockyard_client.images.load(data)
    assert image.id == busybox_image


def test_prune(dockyard_client, busybox_image: str) -> None:
    assert dockyard_client.images.prune()["SpaceReclaimed"] == 0
    report = dockyard_client.images.prune(filters={"dangling": False})
    assert {"Deleted": busybox_image} in report["ImagesDeleted"]
    assert dockyard_client.images.list() == []


def test_load_garbage_raises(dockyard_client) -> None:
    with pytest.raises(docker.errors.APIError) as info:
        dockyard_client.images.load(b"not an archive" * 100)
    assert info.value.status_code == 400


def test_pinned_old_api_version(dockyard_daemon, busybox_image: str) -> None:
    client = docker.DockerClient(base_url=dockyard_daemon.host, version="1.41")
    try:
        summary = client.api.images(name="busybox")[0]
        assert summary["VirtualSize"] == summary["Size"]
    finally:
        client.close()
    too_new = docker.APIClient(base_url=dockyard_daemon.host, version="1.99")
    with pytest.raises(docker.errors.APIError) as info:
        too_new.version(api_version=True)
    too_new.close()
    assert info.value.status_code == 400 and "too new" in str(info.value)
