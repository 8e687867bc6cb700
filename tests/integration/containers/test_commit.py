"""docker diff and docker commit through the daemon (docker-py), and the docker CLI's verbs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import docker
import pytest


@pytest.fixture
def images(client: Any) -> Iterator[list[str]]:
    """Images a test commits, removed afterwards."""
    made: list[str] = []
    yield made
    for image in made:
        try:
            client.api.remove_image(image, force=True)
        except docker.errors.NotFound:
            pass


def test_diff_lists_added_modified_deleted(client: Any) -> None:
    box = client.containers.run("busybox", ["sh", "-c", ("mkdir /new; echo x > /new/f; "
                                            "echo y >> /etc/passwd; rm /etc/group; sleep 1000")],
                                detach=True)
    for _ in range(100):
        if box.exec_run(["test", "-e", "/new/f"]).exit_code == 0:
            break
    changes = {(c["Path"], c["Kind"]) for c in box.diff()}
    assert {("/new", 1), ("/new/f", 1), ("/etc", 0), ("/etc/passwd", 0), ("/etc/group", 2)} <= changes


def test_commit_with_changes_author_and_comment(client: Any, images: list[str]) -> None:
    box = client.containers.run("busybox", ["sh", "-c", "echo committed > /hello; sleep 1000"],
                                detach=True, environment={"FROM_RUN": "1"})
    for _ in range(100):
        if box.exec_run(["test", "-e", "/hello"]).exit_code == 0:
            break
    image = box.commit(repository="dytest-committed", tag="v1", message="a comment",
                       author="H2 <h2@example.com>", changes=["CMD cat /hello", "ENV ADDED=yes"])
    images.append(image.id)
    assert "dytest-committed:v1" in image.tags
    attrs = client.api.inspect_image(image.id)
    assert attrs["Author"] == "H2 <h2@example.com>" and attrs["Comment"] == "a comment"
    assert attrs["Config"]["Cmd"] == ["/bin/sh", "-c", "cat /hello"]
    assert "ADDED=yes" in attrs["Config"]["Env"] and "FROM_RUN=1" in attrs["Config"]["Env"]
    base = client.api.inspect_image("busybox")
    assert len(attrs["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
    assert client.api.history(image.id)[0]["Comment"] == "a comment"
    assert box.attrs["State"]["Paused"] is False  # paused during the commit, then resumed
    out = client.containers.run("dytest-committed:v1", remove=True)
    assert out == b"committed\n"


def test_commit_of_an_unchanged_container_adds_no_layer(client: Any, images: list[str]) -> None:
    created = client.containers.create("busybox", ["true"])
    image_id = client.api.commit(created.id, pause=False)["Id"]
    images.append(image_id)
    base = client.api.inspect_image("busybox")
    assert client.api.inspect_image(image_id)["RootFS"]["Layers"] == base["RootFS"]["Layers"]
    with pytest.raises(docker.errors.NotFound, match="No such container: ghost"):
        client.api.commit("ghost")
    with pytest.raises(docker.errors.APIError, match="not a valid change command"):
        client.api.commit(created.id, changes=["BOGUS x"])


def test_docker_cli_diff_and_commit(dockyard_daemon: Any, client: Any, images: list[str]) -> None:
    env = dict(os.environ, DOCKER_HOST=dockyard_daemon.host)

    def docker(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["docker", *args], env=env, capture_output=True, timeout=60, check=False)

    assert docker("run", "--name", "dytest-cli-commit", "busybox", "touch", "/made").returncode == 0
    assert docker("diff", "dytest-cli-commit").stdout == b"A /made\n"
    done = docker("commit", "-c", "CMD [\"ls\", \"/made\"]", "dytest-cli-commit", "dytest-cli:c")
    assert done.returncode == 0 and done.stdout.startswith(b"sha256:")
    images.append("dytest-cli:c")
    assert docker("run", "--rm", "dytest-cli:c").stdout == b"/made\n"
