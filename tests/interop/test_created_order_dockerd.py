"""Containers ordered by their creation time itself, side by side with a private dockerd 20.10:
Go writes a time with its fraction's trailing zeros cut, so as strings ``05Z`` sorts after
``05.1Z`` and ``05.1Z`` after ``05.15Z`` — dockyard's ps, its before filter and a prune's walk
sorted the strings. Times a string sort gets wrong cannot be had by creating containers in
sequence (nanosecond clocks), so each daemon is stopped and its containers' records given them
in its own files, then started again; images take theirs from their configs. A prune's
``until`` and an image list's ``before``/``since`` compare the times to the nanosecond too."""

from __future__ import annotations

import calendar
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.busybox import (
    CONFIG,
    MANIFEST,
    Blob,
    Image,
    canonical_json,
    image_config,
    make_image,
    write_archive,
)
from dockyard.testing.daemon import DaemonProcess, DockerCLI
from dockyard.testing.dockerd import Dockerd, start_dockerd

pytestmark = pytest.mark.slow

TIMES = {"/dyord-a": "2026-01-01T00:00:05Z", "/dyord-b": "2026-01-01T00:00:05.1Z",
         "/dyord-c": "2026-01-01T00:00:05.15Z"}
UNTIL = f"{calendar.timegm((2026, 1, 1, 0, 0, 5))}.05"  # after a, before b


def set_times(containers: Path, key: str, name_key: str) -> None:
    for config in containers.glob("*/config.v2.json"):
        record = json.loads(config.read_text())
        record[key] = TIMES[record[name_key]]
        config.write_text(json.dumps(record))


def restart_dockerd_with(theirs: Dockerd, edit: Callable[[Path], None]) -> None:
    theirs.process.send_signal(signal.SIGTERM)
    theirs.process.wait(30)
    edit(theirs.root / "data" / "containers")
    theirs.process = start_dockerd(root=theirs.root).process


def observe(cli: DockerCLI, client: Any) -> list[Any]:
    api = client.api
    names = {c["Id"]: c["Names"][0] for c in api.containers(all=True)}
    seen: list[Any] = [cli("ps", "-a", "--format", "{{.Names}}").stdout,
                       cli("ps", "-a", "--filter", "before=dyord-c", "--format", "{{.Names}}").stdout,
                       cli("ps", "-a", "--filter", "since=dyord-a", "--format", "{{.Names}}").stdout,
                       [c["Names"] for c in api.containers(all=True)]]
    for filters in ({"until": UNTIL}, {}):
        seen.append([names[i] for i in api.prune_containers(filters=filters)["ContainersDeleted"] or []])
    return seen


def test_containers_by_creation_time(dockerd: Dockerd, busybox_archive: Path) -> None:
    seen = {}
    with DaemonProcess() as ours:
        ours.load(busybox_archive)
        for side, host in (("dockerd", dockerd.host), ("dockyard", ours.host)):
            cli = DockerCLI(host)
            for name in TIMES:
                made = cli("create", "--pull", "never", "--name", name[1:], "busybox", "true")
                assert made.returncode == 0, made.stderr
        restart_dockerd_with(dockerd, lambda c: set_times(c, "Created", "Name"))
        ours.stop()
        set_times(ours.root / "containers", "created", "name")
        ours.start()
        for side, host in (("dockerd", dockerd.host), ("dockyard", ours.host)):
            client = dockerd.client() if side == "dockerd" else ours.client()
            try:
                seen[side] = observe(DockerCLI(host), client)
            finally:
                client.close()
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][0] == "dyord-c\ndyord-b\ndyord-a\n"
    assert seen["dockerd"][4:] == [["/dyord-a"], ["/dyord-c", "/dyord-b"]]


def crafted(tag: str, created: str) -> Image:
    """busybox's layer as ``tag``, its config saying it was created at ``created`` (and a
    label, for a prune of these alone)."""
    base = make_image()
    config = image_config([b.digest for b in base.layers])
    config["created"] = created
    config["config"]["Labels"] = {"dyimg": "1"}
    blob = Blob.of(CONFIG, canonical_json(config))
    manifest = Blob.of(MANIFEST, canonical_json({
        "schemaVersion": 2, "mediaType": MANIFEST, "config": blob.descriptor(),
        "layers": [b.descriptor() for b in base.layers]}))
    return Image(tag, manifest, blob, base.layers)


def test_images_by_creation_time(dockerd: Dockerd, tmp_path: Path) -> None:
    """Images whose configs give times in one second (loaded, no file edited): the list's
    before/since filters and a prune's until compare the times themselves (dockyard compared
    whole seconds: since=a listed nothing, an until after a kept a)."""
    archive = write_archive(tmp_path / "crafted.tar", [
        crafted(f"dyimg-{name[-1]}:1", created) for name, created in TIMES.items()])
    seen = {}
    with DaemonProcess() as ours:
        for side, daemon in (("dockerd", dockerd), ("dockyard", ours)):
            client = daemon.client()
            try:
                with open(archive, "rb") as f:
                    list(client.api.load_image(f))
                api = client.api
                seen[side] = [sorted(t for i in api.images(filters={key: value, "label": "dyimg"})
                                     for t in i["RepoTags"])
                              for key, value in (("since", "dyimg-a:1"), ("since", "dyimg-b:1"),
                                                 ("before", "dyimg-c:1"), ("before", "dyimg-b:1"))]
                pruned = api.prune_images(filters={"dangling": False, "until": UNTIL, "label": "dyimg"})
                seen[side].append(sorted(d.get("Untagged", "") for d in pruned["ImagesDeleted"] or []))
            finally:
                for tag in ("dyimg-a:1", "dyimg-b:1", "dyimg-c:1"):
                    DockerCLI(daemon.host)("rmi", tag)
                client.close()
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][0] == ["dyimg-b:1", "dyimg-c:1"]
