"""Side by side: a private dockerd 20.10 (classic builder) and a dockyard daemon build the same
Dockerfiles through docker-py: a RUN step sees the same container (init files, /etc files,
environment, user, capabilities), leaves the same layers (the init layer's files and
mountpoints out of them, whiteouts where it removed them), and runs under the build's
``--cgroup-parent`` (a memory limit set on the parent bounds it in both).

Known differences, left out here (docs/builder.md): the cgroup paths a step reads
(``/proc/self/cgroup``, its cgroup mounts' roots: dockyard gives every container its own cgroup
namespace), the order of the mount table, and mtimes."""

from __future__ import annotations

import platform
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.linux import cgroups
from dockyard.testing import runprobes
from dockyard.testing.buildcompare import layer_entries
from dockyard.testing.daemon import DaemonProcess, DockerCLI
from dockyard.testing.dockerd import skip_unless_root, start_dockerd, stop_dockerd

SEEN = ("FROM busybox\nRUN echo BEGIN; ls -l /.dockerenv | cut -c1-10; readlink /etc/mtab; "
        "ls -a / /etc; env | sort; id; grep Cap /proc/self/status; cat /etc/hosts; "
        "[ \"$(cat /etc/hostname)\" = \"$(hostname)\" ] && echo same-name; "
        "grep -c nameserver /etc/resolv.conf; echo END\n")
LIMIT = 80 << 20


@pytest.fixture(scope="module")
def daemons(busybox_archive: Path) -> Iterator[dict[str, tuple[Any, str]]]:
    """{"dockerd": (client, host), "dockyard": (client, host)}: docker-py clients of the two
    daemons and their sockets (for the docker CLI)."""
    skip_unless_root()
    dockerd = start_dockerd()
    dockyard = DaemonProcess(None)
    made: dict[str, tuple[Any, str]] = {}
    try:
        dockyard.start().load(busybox_archive)
        made = {"dockerd": (dockerd.client(), dockerd.host),
                "dockyard": (dockyard.client(), dockyard.host)}
        with open(busybox_archive, "rb") as f:
            made["dockerd"][0].images.load(f.read())
        yield made
    finally:
        for client, _host in made.values():
            client.close()
        dockyard.cleanup()
        stop_dockerd(dockerd)


@pytest.fixture
def clients(daemons: dict[str, tuple[Any, str]]) -> dict[str, Any]:
    return {name: client for name, (client, _host) in daemons.items()}


def _build(client: Any, tmp_path: Path, dockerfile: str, **kwargs: Any) -> tuple[str, str]:
    """The image ID and the stream's text (the build must succeed)."""
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    kwargs.setdefault("network_mode", "none")
    messages = list(client.api.build(path=str(ctx), decode=True, nocache=True, rm=True, **kwargs))
    text = "".join(m.get("stream", "") + m.get("error", "") for m in messages)
    image = next((m["aux"]["ID"] for m in messages if "aux" in m), None)
    assert image is not None, text
    return image, text


@pytest.mark.parametrize("network", ["none", "host"])
def test_a_run_step_sees_the_same_container(clients: dict[str, Any], tmp_path: Path,
                                            network: str) -> None:
    """With the host's network, the host's name and /etc/hosts too."""
    seen = {}
    for name, client in clients.items():
        _image, text = _build(client, tmp_path, SEEN, network_mode=network)
        begin = text.index("\nBEGIN\n")  # the output's, not the Step line's
        out = text[begin + 1:text.index("\nEND\n", begin) + 1]
        seen[name] = re.sub(r"HOSTNAME=[0-9a-f]{12}\n", "HOSTNAME=<id>\n", out)
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"].startswith("BEGIN\n-rwxr-xr-x\n/proc/mounts\n")
    hostname = "<id>" if network == "none" else platform.node()
    assert f"HOME=/root\nHOSTNAME={hostname}\nPATH=" in seen["dockerd"]
    assert "same-name\n" in seen["dockerd"]


@pytest.mark.parametrize("dockerfile",
                         [runprobes.INIT_FILES, runprobes.SCRATCH, runprobes.ETC_MODE],
                         ids=["init-files", "from-scratch", "etc-mode"])
def test_the_steps_leave_the_same_layers(clients: dict[str, Any], tmp_path: Path,
                                         dockerfile: str) -> None:
    layers = {}
    for name, client in clients.items():
        image, _text = _build(client, tmp_path, dockerfile)
        layers[name] = layer_entries(client.api, image)
    assert layers["dockyard"] == layers["dockerd"]


def test_a_cgroup_parent_bounds_the_steps_of_both(daemons: dict[str, tuple[Any, str]],
                                                  tmp_path: Path) -> None:
    """Through the docker CLI (docker-py's build has no ``cgroup_parent``)."""
    if cgroups.detected().mode != "v1":
        pytest.skip("the parent's limit is read through v1's hierarchical_memory_limit")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(runprobes.PROBE)
    name = f"/dytest-parent-{uuid.uuid4().hex[:8]}"
    with runprobes.limited_parent(name, LIMIT):
        for _client, host in daemons.values():
            docker = DockerCLI(host)
            docker.env["DOCKER_BUILDKIT"] = "0"
            done = docker("build", "--no-cache", "--cgroup-parent", name, str(ctx))
            assert done.returncode == 0, done.stderr
            assert runprobes.memory_limit_seen(done.stdout) == LIMIT
