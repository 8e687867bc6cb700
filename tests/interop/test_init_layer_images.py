"""dockerd's init layer (``/.dockerenv``, ``/etc/mtab``, the /etc files' mountpoints) on images
whose ``/etc`` is not busybox's: the container's ``/etc`` keeps the image's mode, an image's
own mtab link is shadowed by the init layer's (dockerd 20.10 exported ``/etc/mtab ->
/proc/mounts`` for an image linking it to ``/proc/self/mounts``), and an image's
``/etc/resolv.conf`` link is shadowed
by the mountpoint (the container's file is bound there, not where the link points). Containers are created in a
row, so most take a directory made ahead of time (``containers.skeleton``) and some make
their own."""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
from pathlib import Path
from typing import Any

import docker
import pytest

IMAGES = {
    "dy-initlayer-etc700": "FROM busybox\nRUN chmod 700 /etc && chown 12:34 /etc\n",
    # -f: a RUN sees the init layer's /etc/mtab already, as under dockerd's classic builder
    "dy-initlayer-ownmtab": "FROM busybox\nRUN ln -sf /proc/self/mounts /etc/mtab\n",
    # a RUN cannot link /etc/resolv.conf: the step's own file is bound there (as under dockerd's
    # classic builder), so the link comes in an ADDed archive
    "dy-initlayer-resolvlink": "FROM busybox\nRUN mkdir -p /run && echo mine > /run/resolv.conf\n"
                               "ADD link.tar /\n",
}


def _context(dockerfile: str) -> io.BytesIO:
    """A build context: the Dockerfile and ``link.tar`` (``etc/resolv.conf -> /run/resolv.conf``)."""
    link = io.BytesIO()
    with tarfile.open(fileobj=link, mode="w") as tar:
        info = tarfile.TarInfo("etc/resolv.conf")
        info.type, info.linkname = tarfile.SYMTYPE, "/run/resolv.conf"
        tar.addfile(info)
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (("Dockerfile", dockerfile.encode()), ("link.tar", link.getvalue())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    return context


@pytest.fixture
def images(client: Any) -> Any:
    try:
        for tag, dockerfile in IMAGES.items():
            client.images.build(fileobj=_context(dockerfile), custom_context=True, tag=tag, rm=True)
        top = Path(client.api.inspect_image("dy-initlayer-resolvlink")["GraphDriver"]["Data"]["UpperDir"])
        assert os.readlink(top / "etc" / "resolv.conf") == "/run/resolv.conf"  # the image links it
        yield client
    finally:  # a build that failed must not leave the others (children of busybox) behind
        for tag in IMAGES:
            with contextlib.suppress(docker.errors.ImageNotFound):
                client.images.remove(tag, force=True)


def test_init_layer_fits_the_images_etc(images: Any) -> None:
    client = images
    for _ in range(3):
        out = client.containers.run("dy-initlayer-etc700", ["sh", "-c",
                                    "stat -c '%a %u:%g' /etc; readlink /etc/mtab; stat -c %a /.dockerenv"],
                                    network_mode="none", remove=True)
        assert out == b"700 12:34\n/proc/mounts\n755\n"
        out = client.containers.run("dy-initlayer-ownmtab", ["readlink", "/etc/mtab"],
                                    network_mode="none", remove=True)
        assert out == b"/proc/mounts\n"
        script = "test -L /etc/resolv.conf && echo link || echo file; cat /run/resolv.conf"
        out = client.containers.run("dy-initlayer-resolvlink", ["sh", "-c", script],
                                    network_mode="none", remove=True)
        assert out == b"file\nmine\n"
    container = client.containers.create("dy-initlayer-ownmtab", ["true"], network_mode="none")
    try:
        assert client.api.diff(container.id) is None or client.api.diff(container.id) == []
    finally:
        container.remove()
