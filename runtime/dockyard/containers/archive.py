"""``docker cp`` and ``docker export``: files in and out of a container, running or stopped.

The work happens in a helper process that chroots into the container (see
:mod:`dockyard.linux.cparchive` for why): the daemon only picks the root (the running init's
``/proc/<pid>/root``, or the stopped container's layers, which the helper mounts in a private
mount namespace on the record's ``rootfs`` directory), pipes bytes, and turns the helper's
one-line reports into dockerd's errors. Copies into one stopped container are serialised (one
overlay mount of its upper dir at a time).
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any, Final

from ..errors import DockyardError, InvalidArgument, NotFound
from .tarcheck import TarCheck

_PACKAGE_ROOT: Final = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_BOOT: Final = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
                "from dockyard.linux.cparchive import main; main()")
_CHUNK: Final = 1 << 16
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def stat_header(stat: dict[str, Any]) -> str:
    """``X-Docker-Container-Path-Stat``: base64 (URL alphabet, as dockerd) of the JSON stat."""
    return base64.urlsafe_b64encode(json.dumps(stat).encode()).decode()


def _binds(record: Any) -> list[dict[str, Any]]:
    """The binds of the helper: the record's bind mounts with each volume's subpath resolved
    as a start resolves them (dockerd's ``docker cp`` mounts the volumes as a start does,
    subpath and its refusals included)."""
    from ..volumes.subpath import resolve_mounts
    from .spec import Mount
    binds = [Mount(**m) for m in getattr(record, "spec_mounts", []) or [] if m.get("type") == "bind"]
    return [asdict(m) for m in resolve_mounts(binds)]


def _lock(container_id: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(container_id, threading.Lock())


class _Helper:
    """One helper process: its first stdout line is a report, the rest (if any) is a tar."""

    def __init__(self, record: Any, op: str, path: str, stdin: int | None = subprocess.DEVNULL,
                 remap: Any = None, files: list[dict[str, Any]] | None = None,
                 **extra: Any) -> None:
        options: dict[str, Any] = {"path": path, **extra}
        if remap is not None:  # --userns-remap: ids shifted in, mapped back out (cparchive)
            options["remap"] = {"uid_map": remap.uid_map, "gid_map": remap.gid_map}
        running = record.state.get("Running") and record.state.get("Pid")
        self.lock = None if running else _lock(record.id)
        if running:
            options["pid"] = int(record.state["Pid"])
        else:
            os.makedirs(record.rootfs, exist_ok=True)
            options.update(lower_dirs=list(record.lower_dirs), upper_dir=record.upper_dir,
                           work_dir=record.work_dir, mountpoint=record.rootfs,
                           binds=[] if op == "export" else [*_binds(record), *(files or [])])
        if self.lock is not None:
            self.lock.acquire()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-S", "-c", _BOOT, _PACKAGE_ROOT, op, json.dumps(options)],
                stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except BaseException:
            self._release()
            raise
        assert self.proc.stdout is not None
        self.stdout: IO[bytes] = self.proc.stdout

    def report(self) -> dict[str, Any]:
        line = self.stdout.readline()
        if not line:
            self.proc.wait()
            stderr = self.proc.stderr.read().decode(errors="replace").strip() if self.proc.stderr else ""
            self.close()
            raise DockyardError(f"copy helper failed: {stderr.splitlines()[-1] if stderr else 'no output'}")
        report: dict[str, Any] = json.loads(line)
        return report

    def chunks(self) -> Iterator[bytes]:
        try:
            while chunk := self.stdout.read1(_CHUNK):  # type: ignore[attr-defined]
                yield chunk
            if self.proc.wait() != 0:
                raise DockyardError("copy helper failed mid-stream")
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        self._release()

    def _release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def _raise(report: dict[str, Any], name: str, path: str, record: Any = None) -> None:
    """The helper's error as dockerd answers it; ``record``: the container's, whose root
    directory on the host dockerd's symlink-loop message names the looping path under."""
    kind, message = report.get("error"), report.get("message", "")
    if kind is None:
        return
    if kind == "notfound":
        raise NotFound(f"Could not find the file {path} in container {name}")
    if kind == "toomany":
        raise DockyardError(f"evalSymlinksInScope: too many links in {record.rootfs}{message}")
    if kind in ("notdir", "conflict", "breakout", "invalid"):
        raise InvalidArgument(message)
    raise DockyardError(message)


def _remap(containers: Any) -> Any:
    """The store's ``--userns-remap`` map (a ``UserNamespace``), or None."""
    return getattr(containers, "remap", None)


def _network_files(record: Any) -> list[dict[str, Any]]:
    """dockerd's NetworkMounts for a stopped container's cp: /etc/resolv.conf, hostname and
    hosts bound from the files its last start wrote (a ``container:`` joiner's are the ones
    its donor had at its last start, ``etc_dir``; none before a first start, nor where the user
    mounted something there), read-only with a read-only root file system. dockerd mounts them
    for an archive request as a start does."""
    if record.state.get("Running"):
        return []  # its root, seen through /proc, has them mounted
    directory = Path(getattr(record, "etc_dir", "") or record.dir)
    taken = {posixpath.normpath(str(m.get("Destination") or "")) for m in record.mounts or []}
    read_only = bool((record.host_config or {}).get("ReadonlyRootfs"))
    return [{"source": str(source), "target": f"/etc/{name}", "read_only": read_only}
            for name in ("resolv.conf", "hostname", "hosts")
            if f"/etc/{name}" not in taken and (source := directory / name).is_file()]


def _check_path(path: str | None) -> str:
    if not path:
        raise InvalidArgument("Path cannot be empty")
    return path


def stat(containers: Any, name: str, path: str | None) -> dict[str, Any]:
    """HEAD /containers/{id}/archive: the path's stat (symlinks in it resolved in the container)."""
    path = _check_path(path)
    record = containers.get(name)
    helper = _Helper(record, "stat", path, remap=_remap(containers),
                     files=_network_files(record))
    try:
        report = helper.report()
    finally:
        helper.close()
    _raise(report, name, path, record)
    result: dict[str, Any] = report["stat"]
    return result


def get(containers: Any, name: str, path: str | None) -> tuple[dict[str, Any], Iterator[bytes]]:
    """GET /containers/{id}/archive: the stat and a tar stream of ``path``."""
    path = _check_path(path)
    record = containers.get(name)
    helper = _Helper(record, "get", path, remap=_remap(containers),
                     files=_network_files(record))
    try:
        report = helper.report()
        _raise(report, name, path, record)
    except BaseException:
        helper.close()
        raise
    return report["stat"], helper.chunks()


def export(containers: Any, name: str) -> Iterator[bytes]:
    """GET /containers/{id}/export: the container's root file system (no volumes, no /proc)."""
    helper = _Helper(containers.get(name), "export", "/", remap=_remap(containers))
    try:
        _raise(helper.report(), name, "/")
    except BaseException:
        helper.close()
        raise
    return helper.chunks()


def put(containers: Any, name: str, path: str | None, body: IO[bytes],
        no_overwrite_dir_non_dir: bool = False, copy_uid_gid: bool = False) -> None:
    """PUT /containers/{id}/archive: unpack the tar ``body`` into directory ``path``."""
    path = _check_path(path)
    record = containers.get(name)
    _check_writable(record, path)
    # -a: the container's --user owns what arrives; without one, the archive's owners stay
    # (dockerd's tarCopyOptions: only a configured user gives the copy new owners)
    chown = (record.config or {}).get("User") or None if copy_uid_gid else None
    helper = _Helper(record, "put", path, stdin=subprocess.PIPE, remap=_remap(containers),
                     files=_network_files(record),
                     no_overwrite_dir_non_dir=no_overwrite_dir_non_dir, chown_user=chown)
    check = TarCheck()
    try:
        _feed(helper, body, check)
        report = helper.report()
    finally:
        helper.close()
    if report.get("error") in (None, "failed"):  # it read the stream: say what Go's reader would
        if check.empty:
            return  # nothing to unpack is no error for dockerd
        if (verdict := check.verdict()) is not None:
            raise DockyardError(f"Error processing tar file(exit status 1): {verdict}")
    _raise(report, name, path)


def _check_writable(record: Any, path: str) -> None:
    """dockerd's rule (500s both): a copy into a bind or volume needs that mount read-write (the
    deepest one holding the path); anywhere else, a root file system that is not read-only."""
    target = posixpath.normpath("/" + path.lstrip("/"))
    holding = [m for m in getattr(record, "mounts", None) or [] if m.get("Type") in ("bind", "volume")
               and _within(target, posixpath.normpath(str(m.get("Destination") or "/")))]
    if holding:
        if not max(holding, key=lambda m: len(str(m.get("Destination")))).get("RW"):
            raise DockyardError("mounted volume is marked read-only")
        return
    if (record.host_config or {}).get("ReadonlyRootfs"):
        raise DockyardError("container rootfs is marked read-only")


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _feed(helper: _Helper, body: IO[bytes], check: TarCheck) -> None:
    """Copy the upload to the helper; if it stops reading (an early error), drain the rest."""
    stdin = helper.proc.stdin
    assert stdin is not None
    try:
        while chunk := body.read(_CHUNK):
            check.feed(chunk)
            stdin.write(chunk)
        stdin.close()
    except BrokenPipeError:
        while chunk := body.read(_CHUNK):
            check.feed(chunk)
