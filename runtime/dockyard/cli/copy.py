"""``cp`` and ``export``: tar streams between the host and a container, as docker moves them.

``cp`` resolves its destination the way ``docker cp`` does: into an existing directory under
the source's base name, otherwise as the destination's own name in its parent. Streams from the
daemon are unpacked member by member with tarfile's ``tar`` filter, so no archive entry can land
outside the destination (absolute paths, ``..``, links pointing out are refused).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument, NotFound
from . import formatting as fmt
from .client import connect
from .images import write_atomically

_DIR_BIT = 1 << 31  # Go's os.ModeDir in the path-stat header


def split_spec(arg: str) -> tuple[str | None, str]:
    """``container:path`` → (container, path); a local path → (None, path), as docker splits."""
    if arg == "-" or os.path.isabs(arg):
        return None, arg
    name, sep, path = arg.partition(":")
    if not sep or name.startswith(".") or "/" in name:
        return None, arg
    return name, path


class _ChunkReader(io.RawIOBase):
    """A file over an iterator of byte chunks (docker-py's archive stream), counting bytes."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n], self._pending = self._pending[:n], self._pending[n:]
        self.count += n
        return n


def path_stat(api: Any, container: str, path: str) -> dict[str, Any] | None:
    """The container path's stat (``HEAD /containers/{id}/archive``), None when it is missing."""
    url = api._url("/containers/{0}/archive", container)
    resp = api.head(url, params={"path": path})  # APIClient is a requests Session
    if resp.status_code == 404:
        _raise_unless_path_missing(api, url)
        return None
    api._raise_for_status(resp)
    header = resp.headers.get("X-Docker-Container-Path-Stat", "")
    return json.loads(base64.b64decode(header)) if header else {}


def _raise_unless_path_missing(api: Any, url: str) -> None:
    """A HEAD's 404 has no body to tell "no such path" from "no such container/route": a GET of
    a path that cannot exist answers with the daemon's message, raised unless it is the path's."""
    probe = api._get(url, params={"path": "/.dockyard-cp-probe/none"})
    if probe.status_code == 404 and "Could not find the file" in probe.text:
        return
    api._raise_for_status(probe)


def _is_dir(stat: dict[str, Any] | None) -> bool:
    return bool(stat) and bool(int(stat.get("mode", 0)) & _DIR_BIT)  # type: ignore[union-attr]


def copy_from(api: Any, container: str, path: str, dest: str, keep_owner: bool) -> int:
    chunks, stat = api.get_archive(container, path)
    reader = _ChunkReader(chunks)
    if dest == "-":
        for block in iter(lambda: reader.read(1 << 20), b""):
            sys.stdout.buffer.write(block)
        sys.stdout.buffer.flush()
        return reader.count
    target = Path(dest)
    if target.is_dir():
        extract(reader, target, None, keep_owner)
    else:
        if dest.endswith("/"):
            raise NotFound(f"destination directory {dest} does not exist")
        if not target.parent.is_dir():
            raise NotFound(f"destination directory {target.parent} does not exist")
        extract(reader, target.parent, (stat["name"], target.name), keep_owner)
    return reader.count


def extract(source: io.RawIOBase, dest: Path, rename: tuple[str, str] | None, keep_owner: bool) -> None:
    """Unpack a tar stream into ``dest``; ``rename`` swaps the top-level name (docker cp's rule)."""
    import tarfile  # here, not at the top: `dockyard run` imports this module for its flags

    with tarfile.open(fileobj=io.BufferedReader(source), mode="r|") as tar:
        for member in tar:
            if rename is not None:
                head, sep, rest = member.name.partition("/")
                if head == rename[0]:
                    member.name = rename[1] + sep + rest
            if not keep_owner:
                member.uid, member.gid = os.getuid(), os.getgid()
            tar.extract(member, dest, filter="tar")


def copy_to(api: Any, source: str, container: str, path: str) -> int:
    import tarfile
    import tempfile

    if source == "-":
        data = sys.stdin.buffer.read()
        api.put_archive(container, path, data)
        return len(data)
    src = Path(source)
    if not src.exists() and not src.is_symlink():
        raise NotFound(f"lstat {source}: no such file or directory")
    stat = path_stat(api, container, path)
    if _is_dir(stat):
        into, name = path, src.name
    else:
        if path.endswith("/"):
            raise NotFound(f"Could not find the file {path} in container {container}")
        into, name = os.path.dirname(path.rstrip("/")) or "/", os.path.basename(path.rstrip("/"))
    with tempfile.TemporaryFile() as spool:
        with tarfile.open(fileobj=spool, mode="w") as tar:
            tar.add(str(src), arcname=name)
        size = spool.tell()
        spool.seek(0)
        api.put_archive(container, into, spool)
    return size


def cp(args: argparse.Namespace) -> int:
    src_ctr, src_path = split_spec(args.src)
    dst_ctr, dst_path = split_spec(args.dst)
    if src_ctr and dst_ctr:
        raise InvalidArgument("copying between containers is not supported")
    if not src_ctr and not dst_ctr:
        raise InvalidArgument("must specify at least one container source")
    api = connect(args, timeout=None)
    if src_ctr:
        size = copy_from(api, src_ctr, src_path, args.dst, args.archive)
        where = args.dst
    else:
        size = copy_to(api, args.src, str(dst_ctr), dst_path)
        where = args.dst
    if not args.quiet and args.dst != "-":
        print(f"Successfully copied {fmt.human_size(size)} to {where}", file=sys.stderr)
    return 0


def export(args: argparse.Namespace) -> int:
    if args.output is None and sys.stdout.isatty():
        raise InvalidArgument("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    chunks = connect(args, timeout=None).export(args.container)
    if args.output is None:
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
    else:
        write_atomically(args.output, iter(chunks))
    return 0


def add_cp(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", metavar="SRC")
    p.add_argument("dst", metavar="DEST")
    p.add_argument("-a", "--archive", action="store_true", help="archive mode (copy all uid/gid information)")
    p.add_argument("-L", "--follow-link", action="store_true", help="always follow symbol link in SRC_PATH")
    p.add_argument("-q", "--quiet", action="store_true", help="suppress progress output during copy")
    p.set_defaults(func=cp)


def add_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("-o", "--output", type=Path, help="write to a file, instead of STDOUT")
    p.set_defaults(func=export)
