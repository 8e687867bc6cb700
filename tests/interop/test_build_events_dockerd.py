"""A classic build's step containers on ``/events``, side by side with a private dockerd 20.10:
what ``docker events --filter type=container`` replays after builds with RUN and metadata
steps, a cached one, a failed RUN (with and without ``--force-rm``), ``--rm=false``, and what
docker-py's ``images.build`` reads raw. dockyard's builder logged no container event.

dockerd's story (recorded with its CLI and raw ``/events``): a RUN's container is create,
attach, start, die (``exitCode``), destroy; a metadata step's (LABEL, ENV, WORKDIR, CMD…)
create, destroy; FROM, COPY and a cached step make none; ``--rm=false`` keeps every container
(no destroy) and a failed RUN's is kept unless ``--force-rm``; no ``commit`` event. Each with
the step's labels (a LABEL step's own among them), the parent image's ID as ``image`` and a
generated ``name``."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("dockyard_clean_images")]

Side = tuple[DockerCLI, Any]


class Names:
    """IDs (image or container, whole or cut to 12) and generated container names as
    placeholders numbered by their first appearance: each daemon's events as they read."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}
        self.named: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        return re.sub(r"(?:sha256:)?[0-9a-f]{64}|\b[0-9a-f]{12}\b",
                      lambda m: self.seen.setdefault(m[0][-64:][:12], f"<{len(self.seen)}>"), text)

    def name(self, value: str) -> str:
        return self.named.setdefault(value, f"N{len(self.named)}")


def _shown(events: list[dict[str, Any]], names: Names) -> list[str]:
    lines = []
    for e in events:
        attrs = dict(e["Actor"]["Attributes"])
        if "dyt" in attrs:
            attrs["dyt"] = "T"
        if e["Type"] == "container":
            attrs["name"] = names.name(attrs["name"])
        legacy = {k: e[k] for k in ("status", "id", "from") if k in e}
        lines.append(names(f"{e['Type']} {e['Action']} {e['Actor']['ID']} "
                           f"{json.dumps(attrs, sort_keys=True)} {json.dumps(legacy)}"))
    return lines


def _builds(token: str) -> list[tuple[str, list[str], int]]:
    """(Dockerfile, build options, its exit code) of each build, in order."""
    steps = f"FROM busybox\nLABEL dy=1 dyt={token}\nRUN echo > /a\nENV X=1\nRUN true\n"
    return [
        (steps, [], 0),
        (steps, [], 0),                                              # every step cached
        (f"FROM busybox\nRUN echo {token} > /b\nRUN exit 3\n", [], 3),
        (f"FROM busybox\nRUN echo {token} > /c\nRUN exit 4\n", ["--force-rm"], 4),
        (f"FROM busybox\nRUN echo {token} > /d\nLABEL z=2\n", ["--rm=false"], 0),
        (f"FROM busybox\nCOPY f /{token}\nWORKDIR /w\nCMD [\"sh\"]\n", ["-t", "dybev:1"], 0),
    ]


FILTERS = [("type=container",), ("type=container", "event=die"), ("label=dy=1",),
           ("event=destroy",)]


def _tidy(cli: DockerCLI) -> None:
    """The containers a build left (dockerd keeps them), and the tag."""
    left = cli("ps", "-aq", "--filter", "status=created", "--filter", "status=exited").stdout.split()
    if left:
        cli("rm", *left)
    cli("rmi", "dybev:1")


def test_build_container_events_through_docker_cli(both: dict[str, Side], tmp_path: Path) -> None:
    token = uuid.uuid4().hex[:8]
    (tmp_path / "f").write_text("f\n")
    seen: dict[str, list[list[str]]] = {}
    outputs: dict[str, list[str]] = {}
    for side, (cli, _client) in both.items():
        cli.env["DOCKER_BUILDKIT"] = "0"
        names = Names()
        seen[side], outputs[side] = [], []
        for dockerfile, options, code in _builds(token):
            (tmp_path / "Dockerfile").write_text(dockerfile)
            since = f"{time.time():.6f}"
            built = cli("build", "--pull=false", *options, str(tmp_path))
            until = f"{time.time():.6f}"  # past: each event was sent before the build returned
            assert built.returncode == code, built.stderr
            outputs[side].append(Names()(built.stdout.rpartition("Running in ")[2]))
            seen[side] += [[f"{dockerfile.splitlines()[-1]} {options} {' '.join(spec)}",
                            *_shown(cli.events(since, until, *spec), names)]
                           for spec in FILTERS]
        _tidy(cli)
    for ours, theirs in zip(seen["dockyard"], seen["dockerd"], strict=True):
        assert ours == theirs
    assert outputs["dockyard"] == outputs["dockerd"]
    assert outputs["dockerd"][3] == "<0>\nRemoving intermediate container <0>\n"  # --force-rm
    first, cached, failed, kept = (seen["dockerd"][i] for i in (0, 4, 8, 16))
    labelled = '"dy": "1", "dyt": "T", '
    legacy = '{"status": "%s", "id": "<%d>", "from": "<%d>"}'
    assert first[1:8] == [   # LABEL: create, destroy; RUN: create … destroy
        f'container create <0> {{{labelled}"image": "<1>", "name": "N0"}} {legacy % ("create", 0, 1)}',
        f'container destroy <0> {{{labelled}"image": "<1>", "name": "N0"}} {legacy % ("destroy", 0, 1)}',
        f'container create <2> {{{labelled}"image": "<3>", "name": "N1"}} {legacy % ("create", 2, 3)}',
        f'container attach <2> {{{labelled}"image": "<3>", "name": "N1"}} {legacy % ("attach", 2, 3)}',
        f'container start <2> {{{labelled}"image": "<3>", "name": "N1"}} {legacy % ("start", 2, 3)}',
        (f'container die <2> {{{labelled}"exitCode": "0", "image": "<3>", "name": "N1"}} '
         f'{legacy % ("die", 2, 3)}'),
        f'container destroy <2> {{{labelled}"image": "<3>", "name": "N1"}} {legacy % ("destroy", 2, 3)}']
    assert _actions(first) == ["create", "destroy", *RUN, "create", "destroy", *RUN]
    assert cached == [cached[0]]
    assert _actions(failed) == [*RUN, *RUN[:-1]]          # the failed RUN's container is kept
    assert '"exitCode": "3"' in failed[-1]
    assert _actions(kept) == [*RUN[:-1], "create"]         # --rm=false: every one kept
    assert '"z": "2"' in kept[-1]                          # a LABEL step's container has it


RUN = ["create", "attach", "start", "die", "destroy"]


def _actions(lines: list[str]) -> list[str]:
    return [line.split()[1] for line in lines[1:]]


def test_build_container_events_through_docker_py(both: dict[str, Side], tmp_path: Path) -> None:
    """docker-py's ``images.build`` (rm=False unless asked): the raw messages, every field."""
    token = uuid.uuid4().hex[:8]
    (tmp_path / "Dockerfile").write_text(f"FROM busybox\nLABEL dy=p\nRUN echo {token} > /a\n")
    seen = {}
    for side, (cli, client) in both.items():
        raw = []
        for rm in (False, True):
            since = time.time()
            image, _logs = client.images.build(path=str(tmp_path), rm=rm, nocache=True)
            until = time.time()
            raw += list(client.api.events(since=since, until=until, decode=True,
                                          filters={"type": "container"}))
        names = Names()
        seen[side] = [names(json.dumps({**e, "time": 0, "timeNano": 0,
                                        "Actor": {**e["Actor"], "Attributes": {
                                            **e["Actor"]["Attributes"],
                                            "name": names.name(e["Actor"]["Attributes"]["name"])}}},
                                       sort_keys=True)) for e in raw]
        _tidy(cli)
        client.images.remove(image.id)
    assert seen["dockyard"] == seen["dockerd"]
    assert [json.loads(line)["Action"] for line in seen["dockerd"]] == [
        "create", "create", "attach", "start", "die",
        "create", "destroy", "create", "attach", "start", "die", "destroy"]
