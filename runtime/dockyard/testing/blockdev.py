"""The block device a directory's file system is on, for tests of block I/O (``docker stats``'
blkio counts, ``--device-read-bps`` and the like): direct I/O to a file there reaches that
disk, and is counted in the writer's blkio cgroup."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Disk:
    """A whole disk (a throttle takes no partition): its node and number."""

    node: str
    major: int
    minor: int

    @property
    def number(self) -> str:
        return f"{self.major}:{self.minor}"


def disk_of(path: str) -> Disk:
    """The disk holding ``path``'s file system (its partition's parent, if on one); an
    ``AssertionError`` naming why where there is none (tmpfs, overlay, a network file system)."""
    dev = os.stat(path).st_dev
    sys_dir = f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}"
    if not os.path.isdir(sys_dir):
        raise AssertionError(f"{path} is on no block device ({os.major(dev)}:{os.minor(dev)})")
    real = os.path.realpath(sys_dir)
    if os.path.exists(f"{real}/partition"):
        real = os.path.dirname(real)
    major, minor = Path(f"{real}/dev").read_text(encoding="ascii").split(":")
    uevent = dict(line.split("=", 1) for line in
                  Path(f"{real}/uevent").read_text(encoding="ascii").splitlines() if "=" in line)
    return Disk(f"/dev/{uevent['DEVNAME']}", int(major), int(minor))


@contextmanager
def scratch_on_disk() -> Iterator[tuple[Path, Disk]]:
    """A fresh directory on a disk-backed file system (``/var/tmp``: ``/tmp`` may be a tmpfs)
    and that disk; removed after, with what a test wrote there."""
    directory = Path(tempfile.mkdtemp(prefix="dytest-blkio-", dir="/var/tmp"))
    try:
        yield directory, disk_of(str(directory))
    finally:
        for item in directory.iterdir():
            item.unlink()
        directory.rmdir()
