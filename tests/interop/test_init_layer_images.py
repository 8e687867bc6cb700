"""dockerd's init layer (``/.dockerenv``, ``/etc/mtab``, the /etc files' mountpoints) on images
whose ``/etc`` is not busybox's: the container's ``/etc`` keeps the image's mode, an image's
own mtab link is shadowed by the init layer's (dockerd 20.10 exported ``/etc/mtab ->
/proc/mounts`` for an image linking it to ``/proc/self/mounts``), and an image's
``/etc/resolv.conf`` link is shadowed
by the mountpoint (the container's file is bound there, not where the link points). Containers are created in a
row, so most take a directory made ahead of time (``containers.skeleton``) and some make
their own."""

from __future__ import annotations

import io
from typing import Any

import pytest

IMAGES = {
    "dy-initlayer-etc700": "FROM busybox\nRUN chmod 700 /etc && chown 12:34 /etc\n",
    "dy-initlayer-ownmtab": "FROM busybox\nRUN ln -s /proc/self/mounts /etc/mtab\n",
    "dy-initlayer-resolvlink": "FROM busybox\nRUN mkdir -p /run && echo mine > /run/resolv.conf"
                               " && ln -s /run/resolv.conf /etc/resolv.conf\n",
}


@pytest.fixture
def images(client: Any) -> Any:
    for tag, dockerfile in IMAGES.items():
        client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    yield client
    for tag in IMAGES:
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
