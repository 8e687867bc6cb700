"""A container's ``Config`` as dockerd 20.10 writes it, side by side with a private dockerd:
the fields Go's ``container.Config`` tags ``omitempty`` (ExposedPorts, StopSignal, …) are left
out when empty, in a container's inspect and in the config of an image ``docker commit`` made
from it, whose ``Image`` stays the container's (the name it was created from).

Through the raw API at 1.41 (docker-py's decoded JSON; ContainerConfig is gone from 1.45): the
docker CLI's templates fill absent keys back in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import docker
import pytest

CASES = {"plain": [], "set": ["--stop-signal", "SIGUSR1", "--expose", "80", "-e", "A=b",
                              "--stop-timeout", "0"]}


@pytest.fixture
def made(both: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield both
    for cli, _client in both.values():
        for case in CASES:
            cli("rm", "-f", f"cfgjson-{case}")
            cli("rmi", f"cfgjson:{case}")


def test_config_leaves_out_empty_omitempty_fields_as_dockerd(made: dict[str, Any]) -> None:
    seen = {}
    for name, (cli, _client) in made.items():
        api = docker.APIClient(base_url=cli.env["DOCKER_HOST"], version="1.41", timeout=30)
        shapes = []
        for case, args in CASES.items():
            done = cli("create", "--pull", "never", "--name", f"cfgjson-{case}", *args, "busybox", "true")
            assert done.returncode == 0, done.stderr
            assert cli("commit", f"cfgjson-{case}", f"cfgjson:{case}").returncode == 0
            config = api.inspect_container(f"cfgjson-{case}")["Config"]
            image = api.inspect_image(f"cfgjson:{case}")
            shapes.append((sorted(config), config.get("StopSignal"), config.get("ExposedPorts"),
                           config.get("StopTimeout"), sorted(image["Config"]), image["Config"]["Image"],
                           sorted(image["ContainerConfig"])))
        seen[name] = shapes
        api.close()
    assert seen["dockyard"] == seen["dockerd"]
    plain, given = seen["dockerd"]
    assert "StopSignal" not in plain[0] and "ExposedPorts" not in plain[0] and plain[5] == "busybox"
    assert given[1:4] == ("SIGUSR1", {"80/tcp": {}}, 0)
