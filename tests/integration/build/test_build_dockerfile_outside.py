"""A Dockerfile outside the context, as docker-py sends it (and ``%%dockerfile --context``
uses it): the file rides in the tarball under a random name and the ``dockerfile`` parameter
comes twice, name first, then the text; dockerd reads the first."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_dockerfile_outside_the_context(dockyard_client: Any, busybox_image: str,
                                        dockyard_clean_images: Any, tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "data.txt").write_text("from the context\n")
    dockerfile = tmp_path / "elsewhere" / "Dockerfile"
    dockerfile.parent.mkdir()
    dockerfile.write_text("FROM busybox\nCOPY data.txt /\nLABEL outside=yes\n")
    messages = list(dockyard_client.api.build(path=str(tmp_path / "ctx"),
                                              dockerfile=str(dockerfile), decode=True))
    assert not [m for m in messages if "error" in m], messages
    image_id = next(m["aux"]["ID"] for m in messages if "aux" in m)
    assert dockyard_client.images.get(image_id).labels == {"outside": "yes"}
    text = "".join(m.get("stream", "") for m in messages)
    assert "Step 2/3 : COPY data.txt /" in text
