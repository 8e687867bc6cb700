"""What a build produced, as comparable data, and a readable diff of two such snapshots.

A *snapshot* of an image is the part of it two builders can agree on: the runtime config
(``Env``, ``Cmd``, ``User`` … with empty values dropped, since dockerd writes ``null`` where
others omit the key), the platform, the layer count, the history's ``created_by``/``empty_layer``
and the final filesystem: every path with its type, mode, owner, size and content digest (or
link target). Timestamps and ids are left out: they cannot match between two builds.

The filesystem is read from the image's ``docker save`` archive (``GET /images/{name}/get``),
applying each layer in order with its whiteouts, so any Engine API daemon can be measured the
same way. The fidelity fixtures (``tests/fixtures/dockerfiles/*/expected.json``) are snapshots
recorded from dockerd by ``python3 -m dockyard.testing.record_builds``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import posixpath
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

Snapshot = dict[str, Any]
CONFIG_KEYS = ("User", "ExposedPorts", "Env", "Cmd", "Healthcheck", "ArgsEscaped", "Volumes",
               "WorkingDir", "Entrypoint", "OnBuild", "Labels", "StopSignal", "Shell")
_TYPES = {tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.CHRTYPE: "char",
          tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo"}
WHITEOUT, OPAQUE = ".wh.", ".wh..wh..opq"


def normalize_config(config: dict[str, Any]) -> dict[str, Any]:
    """The comparable part of an image config (see the module docstring)."""
    runtime = config.get("config") or {}
    kept = {key: runtime[key] for key in CONFIG_KEYS if runtime.get(key) not in (None, "", [], {}, False)}
    return {
        "platform": "/".join(p for p in (config.get("os"), config.get("architecture"), config.get("variant")) if p),
        "config": kept,
        "layers": len((config.get("rootfs") or {}).get("diff_ids") or []),
        "history": [{"created_by": h.get("created_by", ""), "empty_layer": bool(h.get("empty_layer"))}
                    for h in config.get("history") or []],
    }


def _path(name: str) -> str:
    """``./a/b/`` → ``/a/b``; ``./`` → ``/``."""
    return posixpath.normpath("/" + name).replace("//", "/", 1)


def _digest(f: IO[bytes]) -> str:
    h = hashlib.sha256()
    while chunk := f.read(1 << 20):
        h.update(chunk)
    return "sha256:" + h.hexdigest()


def _entry(tar: tarfile.TarFile, member: tarfile.TarInfo, tree: dict[str, dict[str, Any]]) -> dict[str, Any]:
    entry: dict[str, Any] = {"mode": f"{stat.S_IMODE(member.mode):04o}", "uid": member.uid, "gid": member.gid}
    if member.islnk():
        return {**tree.get(_path(member.linkname), {"type": "file", "size": 0}), **entry}
    if member.isreg():
        f = tar.extractfile(member)
        assert f is not None
        return {"type": "file", **entry, "size": member.size, "digest": _digest(f)}
    entry["type"] = _TYPES.get(member.type, "other")
    if member.issym():
        entry["target"] = member.linkname
    if member.ischr() or member.isblk():
        entry["device"] = f"{member.devmajor}:{member.devminor}"
    return entry


def _remove(tree: dict[str, dict[str, Any]], path: str, keep_self: bool = False) -> None:
    prefix = path.rstrip("/") + "/"
    for name in [n for n in tree if n.startswith(prefix) or (n == path and not keep_self)]:
        del tree[name]


def apply_layer(tree: dict[str, dict[str, Any]], layer: IO[bytes]) -> None:
    """Apply one layer tar (plain or compressed) to ``tree``, whiteouts included."""
    with tarfile.open(fileobj=layer, mode="r|*") as tar:
        for member in tar:
            path = _path(member.name)
            directory, base = posixpath.split(path)
            if base == OPAQUE:
                _remove(tree, directory, keep_self=True)
            elif base.startswith(WHITEOUT):
                _remove(tree, posixpath.join(directory, base[len(WHITEOUT):]))
            else:
                if not member.isdir() and path in tree:
                    _remove(tree, path)
                tree[path] = _entry(tar, member, tree)


def snapshot_archive(archive: IO[bytes]) -> Snapshot:
    """The snapshot of the (first) image in a ``docker save`` archive."""
    with tarfile.open(fileobj=archive, mode="r:") as tar:
        manifest = json.load(_member(tar, "manifest.json"))[0]
        snap = normalize_config(json.load(_member(tar, manifest["Config"])))
        tree: dict[str, dict[str, Any]] = {}
        for layer in manifest["Layers"]:
            apply_layer(tree, _member(tar, layer))
    tree.pop("/", None)
    snap["tree"] = dict(sorted(tree.items()))
    return snap


def _member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    f = tar.extractfile(name)
    if f is None:
        raise ValueError(f"{name} is not a file in the archive")
    return f


def snapshot_image(api: Any, image: str) -> Snapshot:
    """Snapshot of ``image`` on a daemon, through a docker-py low-level client's ``get_image``."""
    with tempfile.TemporaryFile() as f:
        for chunk in api.get_image(image):
            f.write(chunk)
        f.seek(0)
        return snapshot_archive(f)


def layer_entries(api: Any, image: str) -> list[list[tuple[str, int]]]:
    """Each layer of ``image`` (bottom first) as its tar's (name, permission bits) sorted,
    through ``docker save`` (``get_image``): what a user sees of what a step left, whiteouts
    included."""
    with tempfile.TemporaryFile() as f:
        for chunk in api.get_image(image):
            f.write(chunk)
        f.seek(0)
        with tarfile.open(fileobj=f, mode="r:") as tar:
            manifest = json.load(_member(tar, "manifest.json"))[0]
            layers = []
            for name in manifest["Layers"]:
                with tarfile.open(fileobj=_member(tar, name), mode="r:") as layer:
                    layers.append(sorted((m.name.rstrip("/"), m.mode & 0o7777) for m in layer))
            return layers


@contextmanager
def case_context(case: Path) -> Iterator[Path]:
    """A copy of a corpus case without its ``expected.json``: a recorded result is not build
    input (a ``COPY . /x`` would otherwise see it)."""
    with tempfile.TemporaryDirectory(prefix="dytest-case-") as tmp:
        dest = Path(tmp) / case.name
        shutil.copytree(case, dest, symlinks=True, ignore=shutil.ignore_patterns("expected.json"))
        yield dest


def _describe(entry: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in entry.items())


def _diff_values(where: str, expected: Any, actual: Any) -> Iterator[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            if key not in actual:
                yield f"{where}.{key}: missing (expected {json.dumps(expected[key])})"
            elif key not in expected:
                yield f"{where}.{key}: unexpected {json.dumps(actual[key])}"
            else:
                yield from _diff_values(f"{where}.{key}", expected[key], actual[key])
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual) \
            and any(isinstance(item, dict) for item in expected):
        for i, (left, right) in enumerate(zip(expected, actual, strict=True)):
            yield from _diff_values(f"{where}[{i}]", left, right)
    elif expected != actual:
        yield f"{where}: expected {json.dumps(expected)}, got {json.dumps(actual)}"


def _diff_tree(expected: dict[str, Any], actual: dict[str, Any], ignore: Iterable[str],
               ignore_digests: Iterable[str] = ()) -> Iterator[str]:
    patterns, no_digest = list(ignore), list(ignore_digests)
    for path in sorted(set(expected) | set(actual)):
        if any(fnmatch.fnmatchcase(path, p) for p in patterns):
            continue
        skipped = {"digest"} if any(fnmatch.fnmatchcase(path, p) for p in no_digest) else set()
        if path not in actual:
            yield f"tree {path}: missing ({_describe(expected[path])})"
        elif path not in expected:
            yield f"tree {path}: unexpected ({_describe(actual[path])})"
        else:
            changed = [f"{k} {expected[path].get(k)} -> {actual[path].get(k)}"
                       for k in sorted((set(expected[path]) | set(actual[path])) - skipped)
                       if expected[path].get(k) != actual[path].get(k)]
            if changed:
                yield f"tree {path}: " + ", ".join(changed)


def compare(expected: Snapshot, actual: Snapshot, ignore_keys: Iterable[str] = (),
            ignore_paths: Iterable[str] = (), ignore_digests: Iterable[str] = ()) -> list[str]:
    """Every difference, one readable line each; [] when the builds agree.

    ``ignore_keys`` names top-level parts (``history``, ``layers``) or config keys
    (``config.ArgsEscaped``) left out; ``ignore_paths`` are glob patterns of tree paths;
    ``ignore_digests`` are patterns of paths whose content may differ but whose type, mode,
    owner and size must still agree.
    """
    skip = set(ignore_keys)
    lines: list[str] = []
    for key in ("platform", "layers", "history"):
        if key not in skip:
            lines += _diff_values(key, expected.get(key), actual.get(key))
    config_e = {k: v for k, v in (expected.get("config") or {}).items() if f"config.{k}" not in skip}
    config_a = {k: v for k, v in (actual.get("config") or {}).items() if f"config.{k}" not in skip}
    if "config" not in skip:
        lines += _diff_values("config", config_e, config_a)
    if "tree" not in skip:
        lines += _diff_tree(expected.get("tree") or {}, actual.get("tree") or {}, ignore_paths,
                            ignore_digests)
    return lines


def report(name: str, differences: list[str], limit: int = 60) -> str:
    """A readable block for a test failure."""
    shown = differences[:limit]
    more = f"\n  … and {len(differences) - limit} more" if len(differences) > limit else ""
    return f"{name}: {len(differences)} difference(s)\n  " + "\n  ".join(shown) + more


__all__ = ["Snapshot", "apply_layer", "case_context", "compare", "normalize_config", "report", "snapshot_archive",
           "snapshot_image"]
