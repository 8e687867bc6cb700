"""``/system/df``'s Images side by side with a private dockerd 20.10 after classic builds.

dockerd 20.10.24's, recorded here: the list is the one ``docker images`` shows (its
``Images(all=false)``), so a build's intermediate images are not in it, and an image's
SharedSize counts the layers another *listed* image also has — a layer that only an
intermediate image shares is the image's own, so ``docker system df -v`` gives it a UNIQUE
SIZE. Tagging an intermediate image lists it, and the layers it has in common are shared.
"""

from __future__ import annotations

import io
import tarfile
import uuid
from typing import Any

import docker
import pytest

pytestmark = pytest.mark.slow

MARK = uuid.uuid4().hex[:12]  # steps no other test builds: no cache hit from elsewhere
BUILDS = {
    "dydf-a:1": f"FROM busybox\nRUN echo {MARK} > /a\nCOPY f /f\n",
    "dydf-b:1": f"FROM busybox\nRUN echo {MARK} > /a\n",  # A's intermediate image, now tagged
    "dydf-c:1": f"FROM busybox\nRUN echo {MARK}-c > /c\nENV X=1\n",
}


def _context(dockerfile: str) -> io.BytesIO:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in (("Dockerfile", dockerfile.encode()), ("f", b"file contents\n" * 10)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out.seek(0)
    return out


def _scene(api: docker.APIClient) -> dict[str, Any]:
    """Build the three images; per tag: (Size, SharedSize, Containers), whether its parent
    (an intermediate image) is in the df list, and how many listed images carry a tag of ours."""
    for tag, dockerfile in BUILDS.items():
        for message in api.build(fileobj=_context(dockerfile), custom_context=True, tag=tag,
                                 rm=True, pull=False, decode=True):
            assert "error" not in message, message
    listed = api.df()["Images"]
    by_tag = {tag: image for image in listed for tag in image["RepoTags"] or []}
    listed_ids = {image["Id"] for image in listed}
    seen: dict[str, Any] = {}
    for tag in BUILDS:
        image = by_tag[tag]
        parent = api.inspect_image(tag)["Parent"]
        seen[tag] = (image["Size"], image["SharedSize"], image["Containers"], parent in listed_ids)
    seen["ours listed"] = sum(1 for image in listed if any(t in BUILDS for t in image["RepoTags"] or []))
    return seen


def test_system_df_lists_and_shares_as_dockerd_after_classic_builds(both: dict[str, Any]) -> None:
    seen: dict[str, Any] = {}
    for side, (_cli, client) in both.items():
        try:
            seen[side] = _scene(client.api)
        finally:
            for tag in BUILDS:
                if client.api.images(tag):
                    client.api.remove_image(tag, force=True)
    assert seen["dockyard"] == seen["dockerd"]
    theirs = seen["dockerd"]
    # C's RUN layer is shared with its intermediate image only: its own, as dockerd counts it
    size_c, shared_c, _, parent_listed_c = theirs["dydf-c:1"]
    assert size_c > shared_c and not parent_listed_c
    # B is A's tagged intermediate: listed, and the RUN layer they both have is shared
    assert theirs["dydf-a:1"][3] is True and theirs["dydf-b:1"][1] == theirs["dydf-b:1"][0]
    assert theirs["ours listed"] == 3
