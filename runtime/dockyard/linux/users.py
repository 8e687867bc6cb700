"""``--user name|uid[:group|gid]`` resolved through the *image's* /etc/passwd and /etc/group,
the way Docker does it (the host's user database is irrelevant inside a container).

The files are looked up in a stack of directories (a container's upper dir, then the image
layers from the top down), so this works before the overlay is mounted; a whiteout (a 0/0
character device) in a higher layer hides the file below it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import DockyardError


class UnknownUser(DockyardError):
    """A user or group name the image lacks. dockerd looks it up while it makes the runtime
    spec (a start's, an exec's), and a failure there is its ``errdefs.System``: 500."""


@dataclass(frozen=True)
class ExecUser:
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()
    home: str = "/"


def _find(layers_top_down: Iterable[str], relpath: str) -> str | None:
    for layer in layers_top_down:
        path = os.path.join(layer, relpath)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            return None  # overlay whiteout: deleted in this layer
        return path
    return None


def _entries(path: str | None) -> list[list[str]]:
    if path is None:
        return []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    return [line.split(":") for line in lines if line and not line.startswith("#")]


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def resolve(user: str, layers_top_down: list[str], group_add: Iterable[str] = ()) -> ExecUser:
    """Resolve Docker's ``User`` field; unknown *names* are errors, unknown numbers are not."""
    name, _, group = (user or "0").partition(":")
    passwd = [e for e in _entries(_find(layers_top_down, "etc/passwd")) if len(e) >= 7]
    groups = [e for e in _entries(_find(layers_top_down, "etc/group")) if len(e) >= 3]
    uid = _int(name)
    match = [e for e in passwd if (e[2] == name if uid is not None else e[0] == name)]
    if not match and uid is None:
        raise UnknownUser(f"unable to find user {name}: no matching entries in passwd file")
    entry = match[0] if match else None
    uid = int(entry[2]) if entry else uid
    gid = int(entry[3]) if entry and _int(entry[3]) is not None else 0
    if group:
        gid = _group_id(group, groups)
    extra: list[int] = []
    if entry is not None and not group:
        extra = [int(g[2]) for g in groups
                 if len(g) > 3 and entry[0] in g[3].split(",") and _int(g[2]) is not None]
    extra += [_group_id(g, groups, "Unable") for g in group_add]  # libcontainer's capital
    # the primary group is a supplementary one too (containerd and runc since the fix of
    # CVE-2023-25173: dockerd's containers list it in ``id`` and /proc/self/status)
    unique = tuple(dict.fromkeys([gid, *extra]))
    assert uid is not None
    return ExecUser(uid, gid, unique, entry[5] if entry and entry[5] else "/")


def _group_id(group: str, groups: list[list[str]], unable: str = "unable") -> int:
    gid = _int(group)
    if gid is not None:
        return gid
    for g in groups:
        if g[0] == group and _int(g[2]) is not None:
            return int(g[2])
    raise UnknownUser(f"{unable} to find group {group}: no matching entries in group file")
