"""Temporary directories, files and mounts a test run left behind, and the test each came from.

The plugin watches them as it watches cgroups: what appears during a test is noted at its
teardown (one ``os.scandir`` of each temporary directory and one read of
``/proc/self/mountinfo``), and what is still there when the session ends is a leak, named with
that test.

Watched by name, not "any new entry": the temporary directory is shared with everything on
the machine (the system's services, the browser and node processes the e2e tests start, a
developer's shell, other test runs) and a check that fails CI must point at something a test
author can fix. So an entry counts when its name starts with one of :data:`PREFIXES` — the
prefixes dockyard's code, its test helpers and its tests give the temporary directories and
files they make outside pytest's ``tmp_path`` (pytest's ``/tmp/pytest-of-*`` is pytest's to
keep). A new prefix cannot slip past: ``tests/unit/testing/test_temp_leak_report.py`` reads
every ``mkdtemp``/``mkstemp``/``TemporaryDirectory``/``NamedTemporaryFile`` call of the
package and the tests that lands in a temporary directory and fails unless its prefix is one
of them.

A mount is watched when its mount point, its source or the path it binds (mountinfo's root)
lies in a watched entry, or when its mount point lies under this session's ``tmp_path`` base
(a network namespace pinned on a file there by a bind mount of ``/proc/<pid>/ns/net``): a
mount is never pytest's to keep, and pytest cannot remove a directory with one in it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from ..linux.mounts import unescape

# The start of every temporary name dockyard's code and tests give in a temporary directory:
#   dockyard-   daemon.py's, registry.py's, the plugin's netguard, the quickstart's, the rootless
#               daemon's /tmp/dockyard-<uid> fallback runtime directory
#   dkd- dkc- dkm- dks- noev- jplab- jpserver-   private dockerds, daemons and Jupyter servers
#   capture-    createcapture.py's docker config and socket
#   dytest-     the tests' own (remapped runtimes, rootless users' homes, binds, blkio scratch)
#   dy-idmap-   the store's id map test
#   dockerfile- the %docker build magic's context
PREFIXES: tuple[str, ...] = ("dockyard-", "dkd-", "dkc-", "dkm-", "dks-", "noev-", "jplab-",
                             "jpserver-", "capture-", "dytest-", "dy-idmap-", "dockerfile-")


def watched_name(name: str) -> bool:
    return name.startswith(PREFIXES)


def temp_dirs() -> list[str]:
    """Where temporary names are made: Python's temporary directory, ``/tmp`` (helpers that
    need short socket paths name it) and ``/var/tmp`` (disk-backed scratch)."""
    found: list[str] = []
    for path in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
        real = os.path.realpath(path)
        if real not in found and os.path.isdir(real):
            found.append(real)
    return found


def entries(dirs: list[str]) -> set[str]:
    """The watched entries directly in ``dirs`` (one scandir each, no walk)."""
    found = set[str]()
    for directory in dirs:
        try:
            with os.scandir(directory) as it:
                found.update(e.path for e in it if watched_name(e.name))
        except OSError:
            pass
    return found


@dataclass(frozen=True)
class Mount:
    """One line of ``/proc/self/mountinfo`` (paths unescaped)."""

    mount_id: str
    dev: str
    root: str
    target: str
    fstype: str
    source: str

    def describe(self) -> str:
        return f"{self.target} ({self.fstype} {self.source}, {self.root})"


def mounts() -> list[Mount]:
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split(" ")
        sep = fields.index("-")
        found.append(Mount(fields[0], fields[2], unescape(fields[3]), unescape(fields[4]),
                           fields[sep + 1], unescape(fields[sep + 2])))
    return found


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _in_watched_entry(path: str, directory: str) -> bool:
    """``path`` is a watched entry of ``directory`` or lies in one."""
    if not _under(path, directory) or path == directory:
        return False
    return watched_name(path[len(directory.rstrip("/")) + 1:].split("/", 1)[0])


def _where_in_fs(directory: str, table: list[Mount]) -> tuple[str, str] | None:
    """The file system ``directory`` is on (its device) and its path from that file system's
    root, as mountinfo's root field writes a bind mount's origin."""
    holder = None
    for m in table:  # the last of the longest: a later mount on the same point hides earlier
        if _under(directory, m.target) and (holder is None or len(m.target) >= len(holder.target)):
            holder = m
    if holder is None:
        return None
    rest = directory[len(holder.target.rstrip("/")):]
    return holder.dev, (holder.root.rstrip("/") + rest) or "/"


class Watch:
    """What a session had at its start, and each watched entry and mount that appeared since
    with the test during which it was first seen."""

    def __init__(self, basetemp: str | None = None) -> None:
        self.dirs = temp_dirs()
        self.basetemp = os.path.realpath(basetemp) if basetemp else None
        self.entries_at_start = frozenset(entries(self.dirs))
        self.mounts_at_start = frozenset(self.current_mounts())
        self.seen_entries: dict[str, str] = {}  # a path → the test it appeared in
        self.seen_mounts: dict[Mount, str] = {}

    def _watched(self, m: Mount, in_fs: list[tuple[str, str] | None]) -> bool:
        if self.basetemp and _under(m.target, self.basetemp):
            return True
        for directory, where in zip(self.dirs, in_fs, strict=True):
            if _in_watched_entry(m.target, directory) or _in_watched_entry(m.source, directory):
                return True
            if where and m.dev == where[0] and _in_watched_entry(m.root, where[1]):
                return True
        return False

    def current_mounts(self) -> set[Mount]:
        table = mounts()
        in_fs = [_where_in_fs(directory, table) for directory in self.dirs]
        return {m for m in table if self._watched(m, in_fs)}

    def scan(self, nodeid: str) -> None:
        for path in entries(self.dirs) - self.entries_at_start:
            self.seen_entries.setdefault(path, nodeid)
        for m in self.current_mounts() - self.mounts_at_start:
            self.seen_mounts.setdefault(m, nodeid)

    def left(self) -> list[tuple[str, str]]:
        """Each leak still there as (what, the test it appeared in), sorted."""
        found = [(f"temporary {'directory' if os.path.isdir(p) else 'file'} {p}", nodeid)
                 for p, nodeid in self.seen_entries.items() if os.path.lexists(p)]
        now = self.current_mounts()
        found += [(f"mount on {m.describe()}", nodeid) for m, nodeid in self.seen_mounts.items()
                  if m in now]
        return sorted(found)
