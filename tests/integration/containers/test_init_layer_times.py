"""A created container's init entries carry the create's time, as dockerd 20.10's, whose init
layer is made by the create (recorded: ``/.dockerenv``, ``/etc``, ``/etc/hosts``, ``hostname``,
``resolv.conf``, the ``/etc/mtab`` link, ``/dev``, ``/dev/console``, ``/dev/pts``, ``/dev/shm``
and the container's upper dir, atime and mtime — in ``docker export``, ``docker cp`` and the
archive stat). dockyard takes a directory a thread made ahead (``containers.skeleton``): the
ready one is aged here on purpose, so a create that kept its times would show the past."""

from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path
from typing import Any

from dockyard.containers import skeleton
from dockyard.testing.daemon import DaemonProcess

PAST = 1_000_000_000
INIT = (".dockerenv", "etc", "etc/hosts", "etc/hostname", "etc/resolv.conf", "etc/mtab", "dev",
        "dev/console", "dev/pts", "dev/shm")


def _ready(pool: Path, timeout: float = 10.0) -> Path:
    """The skeleton the pool's thread has finished (its last entry, the mtab link, is there)."""
    deadline = time.monotonic() + timeout
    while True:
        done = [p for p in pool.iterdir() if (p / "upper" / "etc" / "mtab").is_symlink()]
        if done:
            return done[0]
        assert time.monotonic() < deadline, f"no skeleton made in {pool}"
        time.sleep(0.01)


def _age(path: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(path):
        for name in (*dirnames, *filenames):
            os.utime(os.path.join(dirpath, name), (PAST, PAST), follow_symlinks=False)
    os.utime(path / "upper", (PAST, PAST))


def _created_over_aged(client: Any, pool: Path) -> tuple[Any, int]:
    """A container created over an aged skeleton (its upper dir the aged one's inode), and the
    time before its create. A create racing the thread's hand-over makes its own: again."""
    for _ in range(20):
        aged = _ready(pool)
        _age(aged)
        inode = (aged / "upper").stat().st_ino
        since = int(time.time())
        container = client.containers.create("busybox", ["true"], network_mode="none")
        upper = Path(container.attrs["GraphDriver"]["Data"]["UpperDir"])
        if upper.stat().st_ino == inode:
            return container, since
        container.remove(force=True)
    raise AssertionError("no create took the aged skeleton")


def test_a_taken_skeletons_init_entries_carry_the_creates_time(
        dockyard_daemon: DaemonProcess, client: Any) -> None:
    client.containers.create("busybox", ["true"], network_mode="none").remove()  # starts the pool
    container, since = _created_over_aged(client, dockyard_daemon.root / "containers" / skeleton.POOL)
    upper = Path(container.attrs["GraphDriver"]["Data"]["UpperDir"])
    on_disk = {rel: os.lstat(upper / rel) for rel in ("", *INIT)}
    assert {rel: (st.st_mtime >= since, st.st_atime >= since) for rel, st in on_disk.items()} == \
        {rel: (True, True) for rel in on_disk}
    with tarfile.open(fileobj=io.BytesIO(b"".join(container.export()))) as tar:
        exported = {m.name: m.mtime >= since for m in tar if m.name in INIT}
    assert exported == dict.fromkeys(INIT, True)
    stream, stat = container.get_archive("/.dockerenv")
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        assert tar.getmember(".dockerenv").mtime >= since
    assert not stat["mtime"].startswith("2001-")  # PAST is 2001-09-09
