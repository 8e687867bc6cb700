"""docker's command-line syntax → docker-py keyword arguments, and the notebook's own rules
(a ``-v`` host path is taken from the notebook's directory). Pure: no I/O, so every rule is
unit-tested without a daemon. ``%docker run``'s flags are dockyard's one table
(``dockyard.cli.runopts``), which builds the Engine API body the docker CLI sends."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .errors import CommandUsage


def parse_key_values(items: list[str], flag: str, *, allow_bare: bool = False) -> dict[str, str]:
    """``K=V`` lists (``--label``, ``--build-arg``, ``--opt``); bare ``K`` only where docker
    allows it (taken from the environment for ``--build-arg``)."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise CommandUsage(f"invalid argument '{item}' for \"{flag}\" flag")
        if not sep:
            if not allow_bare:
                raise CommandUsage(f"invalid argument '{item}' for \"{flag}\" flag: "
                                   "expected KEY=VALUE")
            if key not in os.environ:
                continue
            value = os.environ[key]
        result[key] = value
    return result


def resolve_path(path: str, cwd: Path) -> Path:
    expanded = Path(os.path.expanduser(path))
    return expanded if expanded.is_absolute() else (cwd / expanded).resolve()


def _is_host_path(source: str) -> bool:
    """docker treats a bare word as a named volume; a path has a slash or starts with . or ~."""
    return "/" in source or source.startswith((".", "~"))


def parse_volume(spec: str, cwd: Path) -> str:
    """``-v SRC:DST[:MODE]`` with SRC relative to the notebook's directory when it is a path."""
    parts = spec.split(":")
    if len(parts) == 1:
        return spec
    if len(parts) > 3 or not parts[0] or not parts[1]:
        raise CommandUsage(f"invalid volume specification: '{spec}'")
    if _is_host_path(parts[0]):
        parts[0] = str(resolve_path(parts[0], cwd))
    return ":".join(parts)


def parse_filters(items: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandUsage(f"bad format of filter (expected name=value): {item}")
        filters.setdefault(key, []).append(value)
    return filters


def build_kwargs(ns: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for docker-py's low-level ``APIClient.build``."""
    kw: dict[str, Any] = {
        "tag": ns.tag[0] if ns.tag else None,
        "buildargs": parse_key_values(ns.build_arg, "--build-arg", allow_bare=True) or None,
        "labels": parse_key_values(ns.label, "--label") or None,
        "target": ns.target, "nocache": ns.no_cache, "pull": ns.pull,
        "platform": ns.platform, "decode": True, "rm": getattr(ns, "rm", True),
        "forcerm": getattr(ns, "force_rm", True),
    }
    if getattr(ns, "network", None):
        kw["network_mode"] = ns.network
    return {k: v for k, v in kw.items() if v is not None}


def split_repo_tag(name: str) -> tuple[str, str | None]:
    """``host:5000/repo:tag`` → (``host:5000/repo``, ``tag``); digests stay in the repository."""
    if "@" in name:
        return name, None
    repo, sep, tag = name.rpartition(":")
    if sep and "/" not in tag:
        return repo, tag
    return name, None
