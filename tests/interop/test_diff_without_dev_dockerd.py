"""``docker diff`` and ``docker commit`` of a container of an image without ``/dev`` or ``/etc``
(``docker import`` of a tar holding a static busybox alone), side by side with a private
dockerd 20.10. Recorded from dockerd: its init layer has ``/dev`` and ``/etc``, so a change
in them shows ``C /dev``, ``C /etc`` (never ``A``); an init file changed before any start
(``docker cp`` onto ``/etc/hosts`` or ``/.dockerenv``: no mount is on it yet) is ``C`` and in
the commit's layer; ``dev/`` is in the layer of ``-w /dev/shm/x``. A container changing none
shows nothing and commits no layer."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

IMAGE = "dy-nodev:1"
COMMITTED = "dy-nodev:c"
NAME = "dy-nodev"
CASES: dict[str, tuple[list[str], list[str] | None, list[str]]] = {
    # (create flags, a docker cp's source name and destination, or a command run)
    "nothing": ([], None, ["/bin/busybox", "true"]),
    "workdir in /dev": (["-w", "/dev/x"], None, []),
    "workdir in /etc": (["-w", "/etc/x"], None, []),
    "workdir in /dev/shm": (["-w", "/dev/shm/x"], None, []),
    "workdir in /proc": (["-w", "/proc/x"], None, []),
    "copied onto /etc/hosts": ([], ["f", "/etc/hosts"], []),
    "copied onto /.dockerenv": ([], ["f", "/.dockerenv"], []),
    "copied into /dev": ([], ["f", "/dev/"], []),
    "copied onto /etc/mtab": ([], ["f", "/etc/mtab"], []),
    "a file made in /etc": ([], None, ["/bin/busybox", "touch", "/etc/new"]),
}


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tar of ``bin/busybox`` (static) alone, and a small file to copy in."""
    tmp = tmp_path_factory.mktemp("nodev")
    with tarfile.open(tmp / "rootfs.tar", "w") as tar:
        tar.add(shutil.which("busybox") or "/bin/busybox", "bin/busybox")
    (tmp / "f").write_text("hi\n")
    return tmp


@pytest.fixture
def imported(both: dict[str, Any], rootfs: Path) -> Iterator[dict[str, Any]]:
    for cli, _client in both.values():
        made = cli("import", str(rootfs / "rootfs.tar"), IMAGE)
        assert made.returncode == 0, made.stderr
    try:
        yield both
    finally:
        for cli, _client in both.values():
            cli("rm", "-f", NAME)
            cli("rmi", COMMITTED, IMAGE)


def _committed_layer(cli: Any) -> list[str] | None:
    """The entries of the layer the commit added (name, size of a file), None without one."""
    raw = cli("save", COMMITTED, text=False)
    assert raw.returncode == 0, raw.stderr
    with tarfile.open(fileobj=io.BytesIO(raw.stdout)) as archive:
        layers = json.load(archive.extractfile("manifest.json"))[0]["Layers"]  # type: ignore[arg-type]
        if len(layers) == 1:
            return None
        with tarfile.open(fileobj=archive.extractfile(layers[-1])) as layer:
            return [f"{m.name}{'/' if m.isdir() else ''}{f' {m.size}' if m.isfile() else ''}"
                    for m in layer]


@pytest.mark.parametrize("name", list(CASES))
def test_diff_and_commit_of_an_image_without_dev_as_dockerd(imported: dict[str, Any], rootfs: Path,
                                                            name: str) -> None:
    flags, copy, command = CASES[name]
    seen = {}
    for side, (cli, _client) in imported.items():
        if command and not flags:
            ran = cli("run", "--pull", "never", "--name", NAME, "--network", "none", IMAGE, *command)
        else:
            ran = cli("create", "--pull", "never", "--name", NAME, "--network", "none", *flags, IMAGE,
                      "/bin/busybox", "true")
        assert ran.returncode == 0, ran.stderr
        if copy:
            copied = cli("cp", str(rootfs / copy[0]), f"{NAME}:{copy[1]}")
            assert copied.returncode == 0, copied.stderr
        diff = cli("diff", NAME).stdout
        made = cli("commit", NAME, COMMITTED)
        assert made.returncode == 0, made.stderr
        seen[side] = (diff, _committed_layer(cli))
        cli("rm", NAME)
        cli("rmi", COMMITTED)
    assert seen["dockyard"] == seen["dockerd"]
    assert bool(seen["dockerd"][0]) == (name != "nothing")
    assert "A /dev\n" not in seen["dockerd"][0] and "A /etc\n" not in seen["dockerd"][0]
