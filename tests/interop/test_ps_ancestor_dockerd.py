"""``docker ps --filter ancestor=…`` side by side with a private dockerd 20.10, whose
foldFilter looks each value up as an image (GetImage: a name in any spelling —
``busybox:latest``, ``docker.io/library/busybox`` —, a full or short ID) and takes that image
and every image built on it; a container matches by its image's ID, never by the name it was
created with: one made from a tag that has moved on no longer matches it, one made from a
child image matches its parent's name. A value naming no image matches nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.slow

TAGS = ("dyanc:one", "dyanc:child")


@pytest.fixture
def made(both: dict[str, tuple[DockerCLI, Any]], tmp_path: Path) -> Iterator[dict[str, str]]:
    """On each side: ``base`` from busybox, ``old`` from dyanc:one (a tag of busybox, then moved
    to the child), ``kid`` from dyanc:child (built FROM busybox); busybox's ID."""
    (tmp_path / "Dockerfile").write_text("FROM busybox\nLABEL dyanc=child\n")
    ids = {}
    for side, (cli, _client) in both.items():
        assert cli("tag", "busybox", "dyanc:one").returncode == 0
        built = cli("build", "-q", "-t", "dyanc:child", str(tmp_path))
        assert built.returncode == 0, built.stderr
        for name, image in (("dyanc-base", "busybox"), ("dyanc-old", "dyanc:one"),
                            ("dyanc-kid", "dyanc:child")):
            ran = cli("create", "--pull", "never", "--name", name, image, "true")
            assert ran.returncode == 0, ran.stderr
        assert cli("tag", "dyanc:child", "dyanc:one").returncode == 0
        ids[side] = cli("image", "inspect", "--format", "{{.Id}}", "busybox").stdout.strip()
    assert ids["dockyard"] == ids["dockerd"]
    yield ids
    for cli, _client in both.values():
        cli("rm", "-f", "dyanc-base", "dyanc-old", "dyanc-kid")
        cli("rmi", *TAGS)


def test_ps_ancestor_names_an_image_and_its_children(both: dict[str, tuple[DockerCLI, Any]],
                                                      made: dict[str, str]) -> None:
    busybox = made["dockerd"]
    values: list[list[str]] = [
        ["busybox"], ["busybox:latest"], ["docker.io/library/busybox"],
        ["docker.io/library/busybox:latest"], ["library/busybox"], [busybox],
        [busybox.removeprefix("sha256:")[:12]], ["dyanc:one"], ["dyanc:child"], ["BUSYBOX"],
        ["nosuch"], ["nosuch", "dyanc:child"], ["busybox:other"]]
    seen: dict[str, list[Any]] = {}
    for side, (cli, _client) in both.items():
        seen[side] = []
        for value in values:
            args = [arg for v in value for arg in ("--filter", f"ancestor={v}")]
            ps = cli("ps", "-a", "--filter", "name=dyanc-", *args, "--format", "{{.Names}}")
            seen[side].append([value, ps.returncode, sorted(ps.stdout.split()), ps.stderr])
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][1][2] == ["dyanc-base", "dyanc-kid", "dyanc-old"]
    assert seen["dockerd"][7][2] == ["dyanc-kid"]
    assert seen["dockerd"][11][2] == ["dyanc-kid"]
