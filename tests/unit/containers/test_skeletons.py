"""Container directories made ahead of time (``containers.skeleton``): what a create leaves,
renamed into place; none ready means the create makes its own; a daemon's leftovers go."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from dockyard.containers.skeleton import POOL, Skeletons, make


def _layout(path: Path) -> dict[str, str]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            kind = "link" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "file"
            extra = os.readlink(p) if kind == "link" else oct(stat.S_IMODE(st.st_mode))
            found[str(p.relative_to(path))] = f"{kind} {extra}"
    return found


EXPECTED = {"upper": "dir 0o755", "work": "dir 0o755", "merged": "dir 0o755",
            "upper/.dockerenv": "file 0o755", "upper/etc": "dir 0o755",
            "upper/etc/mtab": "link /proc/mounts", "upper/etc/hosts": "file 0o755",
            "upper/etc/hostname": "file 0o755", "upper/etc/resolv.conf": "file 0o755",
            "upper/dev": "dir 0o755", "upper/dev/console": "file 0o755", "upper/dev/pts": "dir 0o755",
            "upper/dev/shm": "dir 0o755"}  # dockerd's init layer, as its export of busybox shows


def test_make_lays_out_what_a_create_leaves(tmp_path: Path) -> None:
    old = os.umask(0o077)  # the modes hold whatever the daemon's umask
    try:
        make(tmp_path / "c")
    finally:
        os.umask(old)
    assert _layout(tmp_path / "c") == EXPECTED
    assert stat.S_IMODE((tmp_path / "c").stat().st_mode) == 0o755


def test_take_renames_a_ready_one_and_another_is_made(tmp_path: Path) -> None:
    (tmp_path / POOL / "left-by-a-crash").mkdir(parents=True)
    pool = Skeletons(tmp_path)
    try:
        assert not (tmp_path / POOL / "left-by-a-crash").exists()
        assert not pool.take(tmp_path / "first")  # nothing ready yet: the caller makes its own
        deadline = time.monotonic() + 5
        while not os.listdir(tmp_path / POOL) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)  # the one being made is finished
        assert pool.take(tmp_path / "second")
        assert _layout(tmp_path / "second") == EXPECTED
        (tmp_path / "third").mkdir()
        (tmp_path / "third" / "taken").touch()
        deadline = time.monotonic() + 5
        while not os.listdir(tmp_path / POOL) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        [ready] = os.listdir(tmp_path / POOL)
        assert not pool.take(tmp_path / "third")  # the target is taken: refused, nothing left
        assert os.listdir(tmp_path / "third") == ["taken"]
        assert ready not in os.listdir(tmp_path / POOL)
    finally:
        pool.close()
