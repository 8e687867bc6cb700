"""``docker export`` shows dockerd's init layer — ``/.dockerenv``, the /etc mountpoints and
``/etc/mtab``, and ``/dev/console``, ``/dev/pts/``, ``/dev/shm/`` (``/proc`` and ``/sys`` too for
an image without them) — fitted to the image; ``docker diff`` and ``docker commit`` never show
any of it. The expectations are what dockerd 20.10 exported, diffed and committed on this
machine for the same images (busybox, and two imported with the shapes below)."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI
from dockyard.testing.dockerd import busybox_rootfs_tar


@pytest.fixture
def docker(dockyard_daemon: Any, client: Any) -> Any:
    return DockerCLI(dockyard_daemon.host, text=False)


def _image_tar(odd: bool) -> bytes:
    """The busybox rootfs without /dev, /proc and /sys; ``odd`` adds a /dev of mode 0750 and
    owner 1:2, /dev/pts 0700 of 3:4, /dev/shm → /run/shm, /dev/console a node, a regular mtab."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(busybox_rootfs_tar())) as base, \
            tarfile.open(fileobj=out, mode="w") as tar:
        for member in base.getmembers():
            tar.addfile(member, base.extractfile(member) if member.isfile() else None)
        if odd:
            for name, kind, mode, owner, link in (
                    ("dev", tarfile.DIRTYPE, 0o750, (1, 2), ""), ("dev/pts", tarfile.DIRTYPE, 0o700, (3, 4), ""),
                    ("dev/shm", tarfile.SYMTYPE, 0o777, (0, 0), "/run/shm"),
                    ("dev/console", tarfile.CHRTYPE, 0o600, (0, 0), ""), ("etc/mtab", tarfile.REGTYPE, 0o644, (0, 0), "")):
                info = tarfile.TarInfo(name)
                info.type, info.mode, (info.uid, info.gid), info.linkname = kind, mode, owner, link
                info.mtime, info.devmajor, info.devminor = 1600000000, 5, 1
                tar.addfile(info)
    return out.getvalue()


@pytest.fixture
def images(docker: Any, dockyard_clean_images: Any) -> Iterator[None]:
    for tag, odd in (("dy-nodev:1", False), ("dy-odddev:1", True)):
        done = docker("import", "-c", 'CMD ["sh"]', "-", tag, input=_image_tar(odd))
        assert done.returncode == 0, done.stderr
    yield


INIT_NAMES = (".dockerenv", "dev", "dev/console", "dev/pts", "dev/shm", "etc", "etc/hostname", "etc/hosts",
              "etc/mtab", "etc/resolv.conf", "proc", "sys")

# (type, mode, uid:gid, size, link target) of those entries in dockerd 20.10's export
FILE, DIR = ("0", 0o755, "0:0", 0, ""), ("5", 0o755, "0:0", 0, "")
DOCKERD = {".dockerenv": FILE, "dev": DIR, "dev/console": FILE, "dev/pts": DIR, "dev/shm": DIR,
           "etc": DIR, "etc/hostname": FILE, "etc/hosts": FILE, "etc/mtab": ("2", 0o777, "0:0", 0, "/proc/mounts"),
           "etc/resolv.conf": FILE}
DOCKERD_BUSYBOX = {**DOCKERD, "proc": ("5", 0o555, "0:0", 0, ""), "sys": ("5", 0o555, "0:0", 0, "")}
DOCKERD_NODEV = {**DOCKERD, "proc": DIR, "sys": DIR}
DOCKERD_ODDDEV = {**DOCKERD_NODEV, "dev": ("5", 0o750, "1:2", 0, ""), "dev/pts": ("5", 0o700, "3:4", 0, "")}


def _exported(docker: Any, name: str) -> dict[str, tuple[str, int, str, int, str]]:
    done = docker("export", name)
    assert done.returncode == 0, done.stderr
    found = {}
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        for m in tar.getmembers():
            if m.name.rstrip("/") in INIT_NAMES:
                mode = m.mode & 0o7777  # its type bits too, as dockerd's: test_archive_headers_dockerd
                found[m.name.rstrip("/")] = (m.type.decode(), mode, f"{m.uid}:{m.gid}", m.size, m.linkname)
    return found


@pytest.mark.parametrize(("image", "wanted"), [("busybox", DOCKERD_BUSYBOX), ("dy-nodev:1", DOCKERD_NODEV),
                                               ("dy-odddev:1", DOCKERD_ODDDEV)])
def test_export_shows_the_init_layer_as_dockerd(docker: Any, images: None, image: str,
                                                wanted: dict[str, Any]) -> None:
    name = "dy-export-" + image.split(":")[0]
    assert docker("create", "--name", name, "--network", "none", image, "true").returncode == 0
    assert _exported(docker, name) == wanted
    done = docker("start", "-a", name)
    assert done.returncode == 0, done.stderr
    assert _exported(docker, name) == wanted
    assert docker("diff", name).stdout == b""  # dockerd 20.10: nothing to show


def test_a_commit_carries_none_of_it(docker: Any, images: None) -> None:
    """dockerd 20.10's committed layer of ``touch /x`` on an image without /dev: ``x`` alone."""
    done = docker("run", "--name", "dy-export-commit", "--network", "none", "dy-nodev:1", "touch", "/x")
    assert done.returncode == 0, done.stderr
    assert docker("diff", "dy-export-commit").stdout == b"A /x\n"
    assert docker("commit", "dy-export-commit", "dy-export-committed:1").returncode == 0
    saved = docker("save", "dy-export-committed:1")
    with tarfile.open(fileobj=io.BytesIO(saved.stdout)) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        top = archive.extractfile(manifest[0]["Layers"][-1])
        with tarfile.open(fileobj=top) as layer:  # type: ignore[arg-type]
            assert layer.getnames() == ["x"]
    docker("rmi", "dy-export-committed:1")
