"""Reproducibility: what a notebook built, pushed and ran, kept in a lock file beside it and in
the notebook's own metadata, so ``%docker reproduce`` can pull exactly those images or rebuild
them — even where the notebook travelled alone.

``dockyard.lock.json`` (written atomically: temp file, fsync, rename)::

    {"version": 1,
     "images": {"<tag or image id>": {
         "dockerfile": "<the Dockerfile text>", "build_args": {"K": "V", "TOKEN": null},
         "target": null, "platform": null, "context": "<path relative to the notebook, or null>",
         "base_images": {"busybox:latest": "<repo@sha256:… when known, else sha256:image-id>"},
         "image_id": "sha256:…", "pushed": {"<registry/repo:tag>": "sha256:<manifest digest>"}}},
     "runs": {"<image reference>": "sha256:<image id>"},
     "notebooks": {"<notebook file name>": {"images": ["<name>"], "runs": ["<reference>"]}}}

Only notebook kernels keep a lock (its place is "beside the notebook": the kernel's working
directory); a terminal IPython has no notebook and keeps none. Several notebooks in one folder
share the lock, so ``notebooks`` says which one recorded what (the kernel knows its notebook from
``JPY_SESSION_NAME``, which Jupyter server sets).

The same record, cut down to one notebook's entries by :func:`for_notebook`, is what the
JupyterLab panel merges into the notebook's ``metadata.dockyard`` (fetched from the server's
``GET /dockyard/lock?path=NOTEBOOK``), so the next save carries it inside the ``.ipynb``.

No secret is ever written: a build arg whose name looks like a secret (``TOKEN``,
``DB_PASSWORD``, ``API_KEY``, ``AWS_SECRET_ACCESS_KEY``…) is kept as ``null``, and reproducing takes its value from the kernel's environment, as ``docker build
--build-arg NAME`` does.
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

from dockyard.errors import InvalidArgument

LOCK_NAME = "dockyard.lock.json"
METADATA_KEY = "dockyard"
_SECRET_WORDS = {"apikey", "auth", "credential", "credentials", "key", "passphrase", "password",
                 "passwd", "pwd", "secret", "token"}
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z0-9]+(?![a-z])")


class InvalidRecord(InvalidArgument):
    """A lock file or ``metadata.dockyard`` that is not the shape documented above."""
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


def looks_secret(name: str) -> bool:
    """``GITHUB_TOKEN``, ``dbPassword``, ``API_KEY``: any word of the name is a secret's word."""
    words = [w.lower() for w in _WORD.findall(name)]
    return any(w in _SECRET_WORDS for w in words) or "apikey" in "".join(words)


def redact(build_args: dict[str, Any]) -> dict[str, Any]:
    return {k: None if looks_secret(k) else v for k, v in build_args.items()}


def notebook_name() -> str | None:
    """The notebook this kernel serves (Jupyter server's ``JPY_SESSION_NAME``), as a file name:
    the lock sits in the notebook's folder, so the name alone identifies it there."""
    session = os.environ.get("JPY_SESSION_NAME", "")
    return Path(session).name if session.endswith(".ipynb") else None


def empty() -> dict[str, Any]:
    return {"version": 1, "images": {}, "runs": {}}


def validate(data: Any, where: str) -> dict[str, Any]:
    """The record's shape, checked before anything trusts it (it may come from a shared file)."""
    if not isinstance(data, dict) or data.get("version") != 1:
        raise InvalidRecord(f"{where}: not a dockyard lock record (version 1)")
    for key in ("images", "runs"):
        if not isinstance(data.get(key, {}), dict):
            raise InvalidRecord(f"{where}: {key!r} must be an object")
    if not all(isinstance(e, dict) for e in data.get("images", {}).values()):
        raise InvalidRecord(f"{where}: every image entry must be an object")
    return data


def for_notebook(data: dict[str, Any], notebook: str | None,
                 present: set[str] | None = None) -> dict[str, Any]:
    """One notebook's part of a folder's lock, as it goes into that notebook's metadata:
    entries another notebook recorded are left out, unattributed ones kept, secrets nulled.
    With ``present`` (the notebooks in the folder now), a notebook that is gone — renamed while
    its kernel kept recording under the old name, say — claims nothing."""
    notebooks = {name: owned for name, owned in (data.get("notebooks") or {}).items()
                 if present is None or name in present}
    others = _owned_by_others(notebooks, notebook)
    images = {n: dict(e, build_args=redact(e.get("build_args") or {}))
              for n, e in data.get("images", {}).items() if n not in others["images"]}
    runs = {r: i for r, i in data.get("runs", {}).items() if r not in others["runs"]}
    return {"version": 1, "images": images, "runs": runs}


def _owned_by_others(notebooks: dict[str, Any], notebook: str | None) -> dict[str, set[str]]:
    others: dict[str, set[str]] = {"images": set(), "runs": set()}
    for name, owned in notebooks.items():
        if name != notebook and isinstance(owned, dict):
            for key, names in others.items():
                names.update(owned.get(key) or [])
    return others


def merged(older: dict[str, Any], newer: dict[str, Any]) -> dict[str, Any]:
    """Entry by entry, the newer record wins; what only the older one has stays."""
    return {"version": 1, "images": {**older.get("images", {}), **newer.get("images", {})},
            "runs": {**older.get("runs", {}), **newer.get("runs", {})}}


def notebook_record(path: Path) -> dict[str, Any] | None:
    """``metadata.dockyard`` of a saved notebook, or None when it has none."""
    try:
        notebook = json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidRecord(f"no such notebook: {path}") from None
    except (UnicodeDecodeError, ValueError):
        raise InvalidRecord(f"{path} is not a notebook (not JSON)") from None
    record = (notebook.get("metadata") or {}).get(METADATA_KEY) if isinstance(
        notebook, dict) else None
    return None if record is None else validate(record, f"{path} metadata.{METADATA_KEY}")


@dataclass
class LockFile:
    path: Path
    data: dict[str, Any] = field(default_factory=empty)
    notebook: str | None = field(default_factory=notebook_name)

    @classmethod
    def load(cls, folder: Path) -> LockFile:
        path = folder / LOCK_NAME
        try:
            text = path.read_text()
        except FileNotFoundError:
            return cls(path)
        try:
            data = json.loads(text)
        except ValueError:
            raise InvalidRecord(f"{path} is not valid JSON") from None
        data = validate(data, str(path))
        data.setdefault("images", {})
        data.setdefault("runs", {})
        return cls(path, data)

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
        entry["build_args"] = redact(entry.get("build_args") or {})
        self.data["images"][name] = entry
        self._attribute("images", name)

    def record_push(self, reference: str, digest: str, image_id: str) -> None:
        for entry in self.data["images"].values():
            if entry.get("image_id") == image_id:
                entry.setdefault("pushed", {})[reference] = digest

    def record_run(self, reference: str, image_id: str) -> None:
        self.data["runs"][reference] = image_id
        self._attribute("runs", reference)

    def _attribute(self, key: str, name: str) -> None:
        """Say which notebook recorded ``name`` (another notebook recording it takes it over)."""
        if self.notebook is None:
            return
        notebooks = self.data.setdefault("notebooks", {})
        for other, owned in notebooks.items():
            if other != self.notebook and name in owned.get(key, []):
                owned[key].remove(name)
        mine = notebooks.setdefault(self.notebook, {"images": [], "runs": []})
        if name not in mine.setdefault(key, []):
            mine[key].append(name)
