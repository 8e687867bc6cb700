"""Side by side: a private dockerd 20.10 (classic builder) and a dockyard daemon, both started
with the same container defaults (``--default-ulimit``, ``--dns*``, ``--default-shm-size``,
``--seccomp-profile``), build the same Dockerfiles through docker-py: a RUN step sees the same
limits, resolv.conf, /etc/hosts, hostname and /dev/shm size, the profile refuses the same call,
and a step that writes the /etc files leaves the same layer (only its own file)."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import DaemonProcess
from dockyard.testing.dockerd import skip_unless_root, start_dockerd, stop_dockerd

NO_MKDIR = {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
FLAGS = ("--default-ulimit", "nofile=1024:2048", "--default-ulimit", "nproc=500:600",
         "--dns", "1.1.1.1", "--dns-search", "a.b", "--dns-opt", "ndots:2",
         "--default-shm-size", "128M")
PROBE = ("FROM busybox\nRUN echo BEGIN; ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu; "
         "cat /etc/resolv.conf /etc/hosts; [ \"$(cat /etc/hostname)\" = \"$(hostname)\" ] && echo same-name; "
         "df -k /dev/shm | awk 'NR==2{print $2}'; echo END\n")
MKDIR = "FROM busybox\nRUN mkdir /x\n"
ETC = ("FROM busybox\nRUN echo '10.1.2.3 extra' >> /etc/hosts && echo 'nameserver 9.9.9.9' > "
       "/etc/resolv.conf && echo other > /etc/hostname && echo done > /done\n")


@pytest.fixture(scope="module")
def clients(busybox_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """{"dockerd": …, "dockyard": …}: docker-py clients of the two daemons."""
    skip_unless_root()
    profile = tmp_path_factory.mktemp("seccomp") / "no-mkdir.json"
    profile.write_text(json.dumps(NO_MKDIR))
    options = (*FLAGS, "--seccomp-profile", str(profile))
    dockerd = start_dockerd(extra_args=options)
    dockyard = DaemonProcess(None, *options)
    made: dict[str, Any] = {}
    try:
        dockyard.start().load(busybox_archive)
        made = {"dockerd": dockerd.client(), "dockyard": dockyard.client()}
        with open(busybox_archive, "rb") as f:
            made["dockerd"].images.load(f.read())
        yield made
    finally:
        for client in made.values():
            client.close()
        dockyard.cleanup()
        stop_dockerd(dockerd)


def _build(client: Any, tmp_path: Path, dockerfile: str) -> tuple[str | None, str]:
    """The image ID (None when the build failed) and the stream's text, error included."""
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    messages = list(client.api.build(path=str(ctx), decode=True, nocache=True, rm=True,
                                     network_mode="none"))
    image = next((m["aux"]["ID"] for m in messages if "aux" in m), None)
    return image, "".join(m.get("stream", "") + m.get("error", "") for m in messages)


def _top_layer_names(client: Any, image: str) -> list[str]:
    data = b"".join(client.images.get(image).save())
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        top = archive.extractfile(manifest[0]["Layers"][-1])
        assert top is not None
        with tarfile.open(fileobj=io.BytesIO(top.read())) as layer:
            return sorted(layer.getnames())


def test_a_run_step_sees_the_same_defaults(clients: dict[str, Any], tmp_path: Path) -> None:
    seen = {}
    for name, client in clients.items():
        image, text = _build(client, tmp_path, PROBE)
        assert image is not None, text
        begin = text.index("\nBEGIN\n")  # the output's, not the Step line's
        seen[name] = text[begin + 1:text.index("\nEND\n", begin) + 1]
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"].startswith("BEGIN\n1024\n2048\n500\n600\nsearch a.b\nnameserver 1.1.1.1\n")
    assert seen["dockerd"].endswith("same-name\n131072\n")


def test_the_profile_refuses_the_same_call(clients: dict[str, Any], tmp_path: Path) -> None:
    for client in clients.values():
        image, text = _build(client, tmp_path, MKDIR)
        assert image is None
        assert "mkdir: can't create directory '/x': Operation not permitted" in text
        assert "The command '/bin/sh -c mkdir /x' returned a non-zero code: 1" in text


def test_writing_the_etc_files_leaves_the_same_layer(clients: dict[str, Any], tmp_path: Path) -> None:
    layers = {}
    for name, client in clients.items():
        image, text = _build(client, tmp_path, ETC)
        assert image is not None, text
        layers[name] = _top_layer_names(client, image)
    assert layers["dockyard"] == layers["dockerd"] == ["done"]
