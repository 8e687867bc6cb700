"""Image events on ``/events``, side by side with a private dockerd 20.10: what ``docker
events --filter type=image`` replays after a tag, an untag, a save, a load, an import, a commit,
a delete, a prune, a classic build, a push and a pull, with the deprecated ``status``/``id``
fields dockerd still sends. dockyard's bus carried no image event at all.

dockerd's rules (its ``LogImageEvent``): the actor is the image's ID and ``name`` that ID
again, but for a tag (the reference as asked: ``dyev-imp`` with no ``:latest``) and for a push
or a pull (the actor is the reference as asked, ``name`` its repository); the image's labels
are among the attributes while it exists (a delete has none); a load or a pull sets its tags
with no tag event; an import's and a commit's tag event comes before their own; an untag is
followed by the delete when it was the last reference; a prune ends with a ``prune`` event
(no actor, ``reclaimed``)."""

from __future__ import annotations

import io
import json
import re
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("dockyard_clean_images")]

Side = tuple[DockerCLI, Any]


def _rootfs(tmp_path: Path) -> Path:
    """A one-file root file system for ``docker import``."""
    path = tmp_path / "rootfs.tar"
    data = b"dyev\n"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("etc/dyev")
        info.size, info.mtime = len(data), 1_700_000_000
        tar.addfile(info, io.BytesIO(data))
    return path


class Names:
    """Each image or container ID, and each registry address, as a placeholder numbered by
    its first appearance: the two daemons' events compared as they read."""

    def __init__(self, registry: str = "") -> None:
        self.seen: dict[str, str] = {}
        self.registry = registry

    def __call__(self, text: str) -> str:
        if self.registry:
            text = text.replace(self.registry, "REG")
        return re.sub(r"(?:sha256:)?[0-9a-f]{64}",
                      lambda m: self.seen.setdefault(m[0], f"<{len(self.seen)}>"), text)


def _shown(events: list[dict[str, Any]], names: Names) -> list[str]:
    """Each event as one line: Type Action actor attributes, then the deprecated fields;
    a prune's ``reclaimed`` masked (each store counts its own bytes)."""
    lines = []
    for e in events:
        attrs = dict(e["Actor"]["Attributes"])
        if "reclaimed" in attrs:
            attrs["reclaimed"] = "N"
        legacy = {k: e[k] for k in ("status", "id", "from") if k in e}
        lines.append(names(f"{e['Type']} {e['Action']} {e['Actor']['ID']} "
                           f"{json.dumps(attrs, sort_keys=True)} {json.dumps(legacy)}"))
    return lines


def _image_steps(cli: DockerCLI, rootfs: Path, tmp: Path) -> None:
    def ok(*args: str) -> str:
        done = cli(*args)
        assert done.returncode == 0, (args, done.stderr)
        return str(done.stdout.strip())

    ok("tag", "busybox", "dyev:one")
    ok("tag", "busybox", "dyev:two")
    ok("rmi", "dyev:one")                                     # untag
    ok("save", "-o", str(tmp / "saved.tar"), "dyev:two")      # save
    ok("rmi", "dyev:two")
    ok("load", "-i", str(tmp / "saved.tar"))                  # load: no tag event for dyev:two
    imported = ok("import", "-c", "LABEL dyev=1", str(rootfs), "dyev-imp")   # tag, then import
    ok("run", "--pull", "never", "--network", "none", "--name", "dyev-c", "busybox", "touch", "/x")
    ok("commit", "-c", "LABEL dyev=2", "dyev-c", "dyev-com:t")   # tag, then the container's commit
    ok("rm", "dyev-c")
    ok("rmi", "dyev-com:t")                                   # untag, then delete
    ok("rmi", "dyev:two")
    ok("tag", "dyev-imp", "dyev-imp:b")
    ok("rmi", "-f", imported)                                 # untag twice, then delete
    ok("import", "-c", "LABEL dyev=3", str(rootfs))           # dangling
    ok("image", "prune", "-f", "--filter", "label=dyev=3")    # delete, then prune


FILTERS = [("type=image",), ("type=container", "event=commit"), ("event=tag",),
           ("image=dyev-imp",), ("image=dyev:two",), ("label=dyev=1",), ("type=image", "event=prune")]


def test_image_events_through_docker_cli(both: dict[str, Side], tmp_path: Path) -> None:
    rootfs = _rootfs(tmp_path)
    seen: dict[str, list[list[str]]] = {}
    for side, (cli, _client) in both.items():
        (tmp_path / side).mkdir()
        since = f"{time.time():.6f}"
        _image_steps(cli, rootfs, tmp_path / side)
        until = f"{time.time():.6f}"  # past: each command's events were sent before it returned
        names = Names()
        seen[side] = [_shown(cli.events(since, until, *spec), names) for spec in FILTERS]
    for spec, ours, theirs in zip(FILTERS, seen["dockyard"], seen["dockerd"], strict=True):
        assert ours == theirs, spec
    assert seen["dockerd"][0] == [
        'image tag <0> {"name": "dyev:one"} {"status": "tag", "id": "<0>"}',
        'image tag <0> {"name": "dyev:two"} {"status": "tag", "id": "<0>"}',
        'image untag <0> {"name": "<0>"} {"status": "untag", "id": "<0>"}',
        'image save <0> {"name": "<0>"} {"status": "save", "id": "<0>"}',
        'image untag <0> {"name": "<0>"} {"status": "untag", "id": "<0>"}',
        'image load <0> {"name": "<0>"} {"status": "load", "id": "<0>"}',
        'image tag <1> {"dyev": "1", "name": "dyev-imp"} {"status": "tag", "id": "<1>"}',
        'image import <1> {"dyev": "1", "name": "<1>"} {"status": "import", "id": "<1>"}',
        'image tag <2> {"dyev": "2", "name": "dyev-com:t"} {"status": "tag", "id": "<2>"}',
        'image untag <2> {"dyev": "2", "name": "<2>"} {"status": "untag", "id": "<2>"}',
        'image delete <2> {"name": "<2>"} {"status": "delete", "id": "<2>"}',
        'image untag <0> {"name": "<0>"} {"status": "untag", "id": "<0>"}',
        'image tag <1> {"dyev": "1", "name": "dyev-imp:b"} {"status": "tag", "id": "<1>"}',
        'image untag <1> {"dyev": "1", "name": "<1>"} {"status": "untag", "id": "<1>"}',
        'image untag <1> {"dyev": "1", "name": "<1>"} {"status": "untag", "id": "<1>"}',
        'image delete <1> {"name": "<1>"} {"status": "delete", "id": "<1>"}',
        'image import <3> {"dyev": "3", "name": "<3>"} {"status": "import", "id": "<3>"}',
        'image delete <3> {"name": "<3>"} {"status": "delete", "id": "<3>"}',
        'image prune  {"reclaimed": "N"} {"status": "prune"}']
    assert seen["dockerd"][1] == [
        ('container commit <4> {"comment": "", "image": "busybox", "imageID": "<2>", '
         '"imageRef": "dyev-com:t", "name": "dyev-c"} {"status": "commit", "id": "<4>", "from": "busybox"}')]


def test_classic_build_tags_through_docker_cli(both: dict[str, Side], tmp_path: Path) -> None:
    """A classic build (DOCKER_BUILDKIT=0) logs no image event but a tag for each ``-t``, with
    the image's labels, once it is built."""
    (tmp_path / "Dockerfile").write_text("FROM busybox\nLABEL dyev=b\n")
    seen = {}
    for side, (cli, _client) in both.items():
        cli.env["DOCKER_BUILDKIT"] = "0"
        since = f"{time.time():.6f}"
        built = cli("build", "-q", "-t", "dyev-b:1", "-t", "dyev-b", str(tmp_path))
        assert built.returncode == 0, built.stderr
        until = f"{time.time():.6f}"
        assert cli("rmi", "dyev-b:1", "dyev-b").returncode == 0
        seen[side] = _shown(cli.events(since, until, "type=image"), Names())
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"] == [
        'image tag <0> {"dyev": "b", "name": "dyev-b:1"} {"status": "tag", "id": "<0>"}',
        'image tag <0> {"dyev": "b", "name": "dyev-b:latest"} {"status": "tag", "id": "<0>"}']


def _registry_steps(api: Any, repo: str, rootfs: Path) -> None:
    import docker.errors

    with open(rootfs, "rb") as f:
        api.import_image_from_data(f.read(), repository=repo, tag="v1", changes=["LABEL dyev=p"])
    for line in api.push(repo, tag="v1", stream=True, decode=True):
        assert "error" not in line, line
    for line in api.push(repo, stream=True, decode=True):   # every tag: the actor is the repository
        assert "error" not in line, line
    api.remove_image(f"{repo}:v1")
    api.pull(repo, tag="v1")                                  # labelled once pulled
    api.pull(repo, tag="v1")                                  # up to date: a pull event too
    api.pull(repo, all_tags=True)
    with pytest.raises(docker.errors.NotFound):
        api.pull(repo, tag="nosuch")                          # no event
    api.remove_image(f"{repo}:v1", force=True)     # its digest reference goes with no untag event


def test_push_pull_events_through_docker_py(both: dict[str, Side], tmp_path: Path,
                                            dockyard_registry_factory: Any) -> None:
    rootfs = _rootfs(tmp_path)
    seen = {}
    for side, (_cli, client) in both.items():
        registry = dockyard_registry_factory()
        repo = f"{registry.host}/dyev/lab"
        since = time.time()
        _registry_steps(client.api, repo, rootfs)
        until = time.time()
        names = Names(registry.host)
        seen[side] = [_shown(list(client.api.events(since=since, until=until, decode=True,
                                                     filters=filters)), names)
                      for filters in ({"type": "image"}, {"image": repo}, {"event": "pull"})]
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][0] == [
        'image tag <0> {"dyev": "p", "name": "REG/dyev/lab:v1"} {"status": "tag", "id": "<0>"}',
        'image import <0> {"dyev": "p", "name": "<0>"} {"status": "import", "id": "<0>"}',
        ('image push REG/dyev/lab:v1 {"dyev": "p", "name": "REG/dyev/lab"} '
         '{"status": "push", "id": "REG/dyev/lab:v1"}'),
        'image push REG/dyev/lab {"name": "REG/dyev/lab"} {"status": "push", "id": "REG/dyev/lab"}',
        'image untag <0> {"dyev": "p", "name": "<0>"} {"status": "untag", "id": "<0>"}',
        'image delete <0> {"name": "<0>"} {"status": "delete", "id": "<0>"}',
        ('image pull REG/dyev/lab:v1 {"dyev": "p", "name": "REG/dyev/lab"} '
         '{"status": "pull", "id": "REG/dyev/lab:v1"}'),
        ('image pull REG/dyev/lab:v1 {"dyev": "p", "name": "REG/dyev/lab"} '
         '{"status": "pull", "id": "REG/dyev/lab:v1"}'),
        'image pull REG/dyev/lab {"name": "REG/dyev/lab"} {"status": "pull", "id": "REG/dyev/lab"}',
        'image untag <0> {"dyev": "p", "name": "<0>"} {"status": "untag", "id": "<0>"}',
        'image delete <0> {"name": "<0>"} {"status": "delete", "id": "<0>"}']
