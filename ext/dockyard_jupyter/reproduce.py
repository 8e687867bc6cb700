"""``%docker reproduce``: bring back exactly the images the lock file recorded — by pulling
the pushed manifest digest, or by rebuilding the recorded Dockerfile on its pinned bases."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

import docker.errors

from .errors import CommandUsage
from .lockfile import LockFile
from .translate import split_repo_tag
from .verbs import Context, _pull, build_from_text, verb


@verb("reproduce")
def reproduce(ctx: Context, ns: argparse.Namespace) -> list[Any]:
    lock = LockFile.load(ctx.cwd)
    images: dict[str, Any] = lock.data["images"]
    names = ns.images or sorted(images)
    if not names:
        raise CommandUsage(f"nothing to reproduce: no images recorded in {lock.path}")
    ctx.lock = None                    # reproducing must not rewrite the record it follows
    results = []
    for name in names:
        entry = images.get(name)
        if entry is None:
            raise CommandUsage(f"{name} is not recorded in {lock.path}")
        pulled = entry.get("pushed") and not ns.build
        results.append(pull_pinned(ctx, name, entry) if pulled else rebuild(ctx, name, entry))
    return results


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
        build_arg=[f"{k}={v}" for k, v in entry.get("build_args", {}).items()],
        target=entry.get("target"), platform=entry.get("platform"), quiet=False,
        context=entry.get("context"))
    return build_from_text(ctx, text, ns)


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
