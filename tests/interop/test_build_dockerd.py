"""The same Dockerfiles built by a private real dockerd 20.10 (classic builder) and by the
dockyard daemon: image config, author, every history entry (``created_by`` including COPY's
``file:/dir:/multi:`` hashes, sizes, empty layers) and the stream (ids masked) must agree."""

from __future__ import annotations

import io
import os
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.dockerd import Dockerd, skip_unless_root, start_dockerd, stop_dockerd

pytestmark = [pytest.mark.interop, pytest.mark.root, pytest.mark.slow,
              pytest.mark.usefixtures("busybox_image", "dockyard_clean_images")]

RICH = """FROM busybox
MAINTAINER someone <a@b>
ARG V=1
ARG W
ENV A=$V B="two words"
LABEL k=v "x y"=z
EXPOSE 80 53/udp 8080-8081
VOLUME /data ["/other"]
WORKDIR /srv
WORKDIR app
COPY a.txt b.txt /multi/
COPY sub /subcopy
COPY a.txt /single
ADD arch.tar /arch/
USER nobody
SHELL ["/bin/sh", "-ec"]
RUN echo $V > /tmp/v
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=3s --retries=3 CMD wget -q localhost || exit 1
ONBUILD RUN echo hi
ENTRYPOINT echo entry
CMD ["x", "y z"]
"""
# The stage's output is listed without its time: the two builds may straddle a minute.
STAGES = """FROM busybox AS build
WORKDIR /src
COPY sub/ ./
RUN cat c > /out
FROM busybox
COPY --from=build /out /usr/local/out
RUN stat -c '%A %U %G %s %n' /usr/local/out
"""

TRIGGERS = """FROM busybox AS base
ONBUILD RUN echo hi > /hi
ONBUILD COPY a.txt /a
FROM base
RUN cat /hi /a
"""


@pytest.fixture(scope="module")
def dockerd(busybox_archive: Path) -> Iterator[Dockerd]:
    skip_unless_root()
    daemon = start_dockerd()
    try:
        client = daemon.client()
        with open(busybox_archive, "rb") as f:
            client.images.load(f.read())
        yield daemon
    finally:
        stop_dockerd(daemon)


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "b.txt").write_text("b\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c").write_text("c\n")
    with tarfile.open(tmp_path / "arch.tar", "w") as tar:
        info = tarfile.TarInfo("in/arch.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"arc"))
    return tmp_path


def _build(client: Any, context: Path, dockerfile: str, tag: str) -> dict[str, Any]:
    (context / "Dockerfile").write_text(dockerfile)
    messages = list(client.api.build(path=str(context), tag=tag, decode=True, rm=True,
                                     buildargs={"W": "w"}))
    text = "".join(m.get("stream", "") for m in messages)
    errors = [m["error"] for m in messages if "error" in m]
    result: dict[str, Any] = {"text": re.sub(r"[0-9a-f]{12}", "<id>", text), "errors": errors}
    if not errors:
        inspect = client.api.inspect_image(tag)
        config = {k: v for k, v in inspect["Config"].items() if k not in ("Image", "Hostname")}
        history = [(h["CreatedBy"], h["Size"]) for h in client.api.history(tag)]
        result.update(config=config, author=inspect["Author"], history=history,
                      layers=len(inspect["RootFS"]["Layers"]))
    return result


@pytest.mark.parametrize("name", ["rich", "stages", "whole-context", "failing", "triggers"])
def test_classic_builder_parity(name: str, dockerd: Dockerd, dockyard_client: Any,
                                busybox_image: str, context: Path) -> None:
    dockerfile = {"rich": RICH, "stages": STAGES,
                  "whole-context": "FROM busybox\nCOPY . /ctx/\nCOPY sub/ /sub2\n",
                  "failing": "FROM busybox\nRUN echo out && exit 7\n",
                  "triggers": TRIGGERS}[name]
    theirs = _build(dockerd.client(), context, dockerfile, f"parity-{name}:1")
    mine = _build(dockyard_client, context, dockerfile, f"parity-{name}:1")
    assert mine["errors"] == theirs["errors"]
    assert mine["text"] == theirs["text"]
    for key in ("config", "author", "history", "layers"):
        assert mine.get(key) == theirs.get(key), key
    if not mine["errors"]:
        dockyard_client.api.remove_image(f"parity-{name}:1")


PULLS = {
    "one": "FROM {a}\nRUN cat /note\n",
    "stages": "FROM {a} AS one\nRUN cat /note > /one\nFROM {b}\nCOPY --from={c} /note /c\n"
              "COPY --from=one /one /one\n",
    "pull-again": "FROM {a}\nRUN cat /note\n",
    "onbuild": "FROM busybox AS base\nONBUILD COPY --from={c} /note /c\nFROM base\nRUN cat /c\n",
    "unknown-repository": "FROM {host}/nope/x:1\nRUN true\n",
    "unknown-tag": "FROM {a}9\nRUN true\n",
}


def _pull_transcript(client: Any, dockerfile: str, **kwargs: Any) -> list[str]:
    """The build's stream as lines, pull messages as ``id: status`` (ids masked): a layer's
    messages are left out (which layers a daemon already holds is its own business) once
    checked to stand between ``Pulling from`` and ``Digest:``."""
    messages = list(client.api.build(fileobj=io.BytesIO(dockerfile.encode()), decode=True,
                                     rm=True, **kwargs))
    out: list[str] = []
    in_pull = False
    for m in messages:
        if "stream" in m:
            out.append(m["stream"])
        elif "status" in m and re.fullmatch(r"[0-9a-f]{12}", m.get("id", "")):
            assert in_pull, messages
        elif "status" in m:
            out.append(f"{m['id']}: {m['status']}\n" if m.get("id") else m["status"] + "\n")
            in_pull = "Pulling from" in m["status"]
        elif "error" in m:
            out.append(f"ERROR {m['error']}\n")
    return re.sub(r"[0-9a-f]{12}", "<id>", "".join(out)).splitlines()


@pytest.mark.parametrize("name", list(PULLS))
def test_implicit_pull_parity(name: str, dockerd: Dockerd, dockyard_client: Any,
                              busybox_image: str, dockyard_registry: Any) -> None:
    """A base image neither daemon has, from a registry on loopback: the pull's messages (or
    its error) stand in the build's stream where dockerd's classic builder puts them."""
    from dockyard.testing.busybox import make_image
    from dockyard.testing.registry import push_image

    names = {"host": dockyard_registry.host}
    for key in "abc":
        repo = f"pull-{name}/{key}"
        image = make_image(f"{repo}:1", extra_files={"/note": f"{repo} {os.urandom(8).hex()}\n".encode()})
        push_image(dockyard_registry.url, repo, image)
        names[key] = f"{dockyard_registry.host}/{repo}:1"
    dockerfile = PULLS[name].format(**names)
    transcripts = []
    for client in (dockerd.client(), dockyard_client):
        if name == "pull-again":
            _pull_transcript(client, dockerfile)
        transcripts.append(_pull_transcript(client, dockerfile, pull=name == "pull-again"))
    theirs, mine = transcripts
    assert any("Pulling from" in line for line in theirs) or "ERROR" in theirs[-1], theirs
    assert mine == theirs
