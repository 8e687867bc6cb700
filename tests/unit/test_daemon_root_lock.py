"""The data root's lock, as another process sees it: a kernel whose daemon lost the lock waits
for the daemon that holds it (``DataRootLock.held``)."""

from __future__ import annotations

from pathlib import Path

from dockyard.daemon import DataRootLock


def test_held_while_a_daemon_holds_the_data_root(tmp_path: Path) -> None:
    assert not DataRootLock.held(tmp_path / "never-made")
    lock = DataRootLock(tmp_path)
    lock.acquire()
    try:
        assert DataRootLock.held(tmp_path)
    finally:
        lock.release()
    assert (tmp_path / "dockyard.lock").exists() and not DataRootLock.held(tmp_path)
