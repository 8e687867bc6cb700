"""``%docker reproduce``: bring back exactly the images a notebook recorded — by pulling the
pushed manifest digest, or by rebuilding the recorded Dockerfile on its pinned bases.

The record is the lock file beside the notebook, entry by entry over the notebook's own
``metadata.dockyard`` (which the JupyterLab panel keeps in the ``.ipynb``): a notebook copied
alone to another machine still reproduces. The kernel finds its notebook through
``JPY_SESSION_NAME`` (set by Jupyter server), or ``--from PATH.ipynb`` names one."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

import docker.errors

from .errors import CommandUsage
from .lockfile import METADATA_KEY, LockFile, merged, notebook_record
from .translate import split_repo_tag
from .verbs import Context, _pull, build_from_text


def reproduce(ctx: Context, ns: argparse.Namespace) -> list[Any]:
    images, where = recorded(ctx.cwd, getattr(ns, "from_notebook", None))
    names = ns.images or sorted(images)
    if not names:
        raise CommandUsage(f"nothing to reproduce: no images recorded in {where}")
    ctx.lock = None                    # reproducing must not rewrite the record it follows
    results = []
    for name in names:
        entry = images.get(name)
        if entry is None:
            raise CommandUsage(f"{name} is not recorded in {where}")
        pulled = entry.get("pushed") and not ns.build
        results.append(pull_pinned(ctx, name, entry) if pulled else rebuild(ctx, name, entry))
    return results


def recorded(cwd: Path, from_notebook: str | None) -> tuple[dict[str, Any], str]:
    """The images to reproduce (the lock's entries over the notebook metadata's) and where
    they were read, for messages."""
    notebook = cwd / os.path.expanduser(from_notebook) if from_notebook else own_notebook(cwd)
    lock = LockFile.load(notebook.parent if from_notebook and notebook else cwd)
    metadata = notebook_record(notebook) if notebook is not None else None
    sources = [str(lock.path)] if lock.path.is_file() or metadata is None else []
    if metadata is not None:
        sources.append(f"{notebook} (metadata.{METADATA_KEY})")
    return merged(metadata or {}, lock.data)["images"], " or ".join(sources)


def own_notebook(cwd: Path) -> Path | None:
    """The notebook this kernel serves: ``JPY_SESSION_NAME`` is its path (absolute from
    Jupyter server ≥ 2.x, else relative to the server root, whose folder is our cwd)."""
    session = os.environ.get("JPY_SESSION_NAME", "")
    if not session.endswith(".ipynb"):
        return None
    for candidate in (Path(session), cwd / Path(session).name):
        if candidate.is_absolute() and candidate.is_file():
            return candidate
    return None


def pull_pinned(ctx: Context, name: str, entry: dict[str, Any]) -> Any:
    reference, digest = min(entry["pushed"].items())
    repo, _tag = split_repo_tag(reference)
    print(f"{name}: pulling {repo}@{digest}")
    image = _pull(ctx, f"{repo}@{digest}")
    if not name.startswith("sha256:"):
        local_repo, local_tag = split_repo_tag(name)
        ctx.api.tag(image.id, local_repo, local_tag or "latest")
    return ctx.client.images.get(image.id)


def rebuild(ctx: Context, name: str, entry: dict[str, Any]) -> Any:
    text = str(entry["dockerfile"])
    for ref, pinned in entry.get("base_images", {}).items():
        text = use_pinned_base(ctx, text, ref, pinned)
    print(f"{name}: rebuilding the recorded Dockerfile")
    ns = argparse.Namespace(
        tag=[] if name.startswith("sha256:") else [name], label=[], no_cache=False, pull=False,
        build_arg=build_args(entry.get("build_args") or {}),
        target=entry.get("target"), platform=entry.get("platform"), quiet=False,
        context=entry.get("context"))
    return build_from_text(ctx, text, ns)


def build_args(recorded: dict[str, Any]) -> list[str]:
    """``K=V`` as recorded; a secret (recorded as null) is passed bare, so it comes from the
    kernel's environment as ``docker build --build-arg K`` takes it."""
    args = []
    for key, value in recorded.items():
        if value is None:
            where = "taken from" if key in os.environ else "not set in"
            print(f"build arg {key} was not recorded (a secret): {where} the environment",
                  file=sys.stderr)
        args.append(key if value is None else f"{key}={value}")
    return args


def use_pinned_base(ctx: Context, text: str, ref: str, pinned: str) -> str:
    """FROM a registry digest exactly; a local-only base is checked against its recorded ID."""
    if "@sha256:" in pinned:
        try:
            ctx.client.images.get(pinned)
        except docker.errors.ImageNotFound:
            _pull(ctx, pinned)
        pattern = rf"(^\s*FROM\s+(?:--\S+\s+)*){re.escape(ref)}(?=\s|$)"
        return re.sub(pattern, lambda m: m.group(1) + pinned, text, flags=re.IGNORECASE | re.MULTILINE)
    try:
        local = ctx.client.images.get(ref).id
    except docker.errors.ImageNotFound:
        raise CommandUsage(f"base image {ref} (recorded as {pinned}) is not here and was "
                           "never pushed: load or pull it first") from None
    if local != pinned:
        print(f"warning: base image {ref} is now {local[:19]}, the lock recorded "
              f"{pinned[:19]}", file=sys.stderr)
    return text
