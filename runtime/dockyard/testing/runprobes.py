"""Dockerfiles and helpers that look at the container a build's RUN step runs in, for the
tests comparing dockyard's builder with a real dockerd's classic builder.

A cgroup parent with a memory limit (``--cgroup-parent``): a step under it reads the limit as
``hierarchical_memory_limit`` in its own ``memory.stat`` (cgroup v1), whatever its cgroup
namespace shows. The init layer's files (``/.dockerenv``, ``/etc/mtab``): what a step sees and
what its layer keeps.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..linux import cgroups


def own_cgroup(pid: int, controller: str) -> str:
    """The cgroup of process ``pid`` in ``controller``'s v1 hierarchy ("/" when none)."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _num, names, path = line.split(":", 2)
        if controller in names.split(","):
            return path
    return "/"


@contextlib.contextmanager
def limited_parent(path: str, limit: int) -> Iterator[None]:
    """The v1 memory cgroup ``path`` (from the root) limited to ``limit`` bytes; after, it is
    removed from every hierarchy (a daemon makes the parent in each it uses, and leaves it:
    dockerd does). A container cgroup left inside makes that ``rmdir`` fail: the leak check
    for a parent the plugin's (``dockyard/`` only) does not watch."""
    hier = cgroups.detected()
    memory = Path(hier.v1["memory"], path.lstrip("/"))
    memory.mkdir()
    try:
        (memory / "memory.limit_in_bytes").write_text(str(limit))
        yield
    finally:
        for mount in _cgroup_mounts():
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(os.path.join(mount, path.lstrip("/")))


def _cgroup_mounts() -> set[str]:
    """Every cgroup file system mounted here: dockerd makes a parent in each (``name=systemd``
    and the v2 one too), where dockyard's builds use a few."""
    found = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        if right.split()[0] in ("cgroup", "cgroup2"):
            found.add(left.split()[4])
    return found


def memory_limit_seen(output: str) -> int:
    """The ``hierarchical_memory_limit`` a step printed (``grep`` of its memory.stat)."""
    line = next(x for x in output.splitlines() if x.startswith("hierarchical_memory_limit"))
    return int(line.split()[1])


PROBE = "FROM busybox\nRUN grep hierarchical_memory_limit /sys/fs/cgroup/memory/memory.stat\n"
"""A Dockerfile whose one step prints what :func:`memory_limit_seen` reads."""

INIT_FILES = """FROM busybox
RUN ls -l /.dockerenv && readlink /etc/mtab && echo x > /x
RUN rm /.dockerenv /etc/mtab
RUN test -f /.dockerenv && test -L /etc/mtab && echo again > /again
RUN touch /.dockerenv
"""
"""Four steps: the files seen; removed (whiteouts); seen again; one touched (in the layer)."""

SCRATCH = """FROM scratch
COPY --from=busybox /bin/busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox test -f /.dockerenv && /bin/busybox echo hi > /x"]
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox echo y > /etc/y"]
"""
"""An image without /etc, /dev, /proc, /sys: its steps' layers hold only what they wrote."""

ETC_MODE = "FROM busybox\nRUN chmod 750 /etc\nRUN echo z > /etc/z\n"
"""A step writing in an /etc of mode 0750: its layer's ``etc/`` keeps the mode."""
