"""Reproducibility: what a notebook built, pushed and ran, kept in a lock file beside it, and
``%docker reproduce``, which pulls exactly those images or rebuilds them.

``dockyard.lock.json`` (written atomically: temp file, fsync, rename)::

    {"version": 1,
     "images": {"<tag or image id>": {
         "dockerfile": "<the Dockerfile text>", "build_args": {"K": "V"}, "target": null,
         "platform": null, "context": "<path relative to the notebook, or null>",
         "base_images": {"busybox:latest": "<repo@sha256:… when known, else sha256:image-id>"},
         "image_id": "sha256:…", "pushed": {"<registry/repo:tag>": "sha256:<manifest digest>"}}},
     "runs": {"<image reference>": "sha256:<image id>"}}

Only notebook kernels keep a lock (its place is "beside the notebook": the kernel's working
directory); a terminal IPython has no notebook and keeps none.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

LOCK_NAME = "dockyard.lock.json"
_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?",
                   re.IGNORECASE | re.MULTILINE)


def base_references(dockerfile: str) -> list[str]:
    """FROM images that are not earlier stages (``FROM build AS …`` names a stage)."""
    stages: set[str] = set()
    bases: list[str] = []
    for match in _FROM.finditer(dockerfile):
        image, alias = match.group(1), match.group(2)
        if image.lower() not in stages and image.lower() != "scratch" and image not in bases:
            bases.append(image)
        if alias:
            stages.add(alias.lower())
    return bases


def pin(client: docker.DockerClient, reference: str) -> str:
    """A registry digest when the image came from one, else its local image ID."""
    image = client.images.get(reference)
    repo = reference.split("@")[0].rsplit(":", 1)[0] if "/" in reference or ":" in reference \
        else reference
    digests = image.attrs.get("RepoDigests") or []
    matching = [d for d in digests if d.split("@")[0].endswith(repo)]
    return str((matching or digests or [image.id])[0])


@dataclass
class LockFile:
    path: Path
    data: dict[str, Any] = field(default_factory=lambda: {"version": 1, "images": {},
                                                          "runs": {}})

    @classmethod
    def load(cls, folder: Path) -> LockFile:
        path = folder / LOCK_NAME
        try:
            return cls(path, json.loads(path.read_text()))
        except FileNotFoundError:
            return cls(path)

    def save(self) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".dockyard-lock-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(self.data, out, indent=2, sort_keys=True)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            os.unlink(tmp)
            raise

    def record_build(self, name: str, entry: dict[str, Any]) -> None:
        previous = self.data["images"].get(name, {})
        entry["pushed"] = previous.get("pushed", {}) if previous.get(
            "image_id") == entry["image_id"] else {}
        self.data["images"][name] = entry

    def record_push(self, reference: str, digest: str, image_id: str) -> None:
        for entry in self.data["images"].values():
            if entry.get("image_id") == image_id:
                entry.setdefault("pushed", {})[reference] = digest

    def record_run(self, reference: str, image_id: str) -> None:
        self.data["runs"][reference] = image_id
