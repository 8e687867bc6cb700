"""A container's directory made ahead of time: ``upper/`` (with dockerd's init layer:
``/.dockerenv``, ``/etc/mtab`` → ``/proc/mounts``, the mountpoints of ``/etc/hosts``,
``hostname`` and ``resolv.conf``, and ``/dev/console``, ``/dev/pts/``, ``/dev/shm/``), ``work/``
and ``merged/``. A create then fits it to the image (``manager._fit_init_layer``).

Making them is a dozen file-system calls that each journal on ext4 (~0.1–0.2 ms apiece here), and
``create`` is answered only after them: a thread keeps one directory ready under
``containers/.skeletons/``, and a create renames it into place (one call). Without one ready —
a burst of creates — the create makes its own, as before. A taken one's init entries are given
the create's time (:func:`refresh`): dockerd makes its init layer at create, and ``docker cp``,
``docker export`` show their times.
"""

from __future__ import annotations

import itertools
import os
import shutil
import stat
import threading
from pathlib import Path

POOL = ".skeletons"
MTAB_TARGET = "/proc/mounts"  # where the init layer's /etc/mtab points
_ids = itertools.count()


PLACEHOLDERS = (".dockerenv", "etc/hosts", "etc/hostname", "etc/resolv.conf", "dev/console")
"""The init layer's empty files, as dockerd makes them (mode 0755): ``/.dockerenv``, the
mountpoints of the container's /etc files — a start binds those onto them instead of creating
each through the overlay, on its path — and ``/dev/console``."""

DIRS = ("etc", "dev", "dev/pts", "dev/shm")
"""The init layer's directories in ``upper/`` (mode 0755); ``/proc`` and ``/sys`` too, but only
for an image without them (made by the create's fitting)."""


_INIT_ENTRIES = ("", *DIRS, *PLACEHOLDERS, "etc/mtab")


def mkdir(path: Path | str) -> bool:
    """A directory of mode 0755 whatever the umask; whether the umask took a bit of it (so the
    caller knows to ``chmod`` what it makes next)."""
    os.mkdir(path, 0o755)
    if stat.S_IMODE(os.stat(path).st_mode) == 0o755:
        return False
    os.chmod(path, 0o755)
    return True


def make(path: Path, owner: tuple[int, int] | None = None) -> None:
    """The directory as a create leaves it (the init files as for an image without ``/etc`` or
    ``/dev``). Modes are 0755 whatever the umask: the upper dir's is the container's "/". The
    first directory tells whether the umask takes a bit of 0755 (``chmod`` each then; not with
    the usual 022). ``owner``: the host ids of a remapped container's root (``--userns-remap``),
    which the upper dir and its init files get, as dockerd's init layer."""
    upper = path / "upper"
    fix = mkdir(path)
    for directory in (upper, path / "work", path / "merged", *(upper / d for d in DIRS)):
        os.mkdir(directory, 0o755)
        if fix:
            os.chmod(directory, 0o755)
    for name in PLACEHOLDERS:
        os.close(os.open(upper / name, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o755))
        if fix:
            os.chmod(upper / name, 0o755)
    os.symlink(MTAB_TARGET, upper / "etc" / "mtab")
    if owner is not None:
        for rel in _INIT_ENTRIES:
            os.chown(upper / rel, *owner, follow_symlinks=False)


def refresh(path: Path) -> None:
    """The times of ``path``'s init entries (and of its upper dir, the container's "/") set to
    now, as if made by the create that takes it: the thread made them ahead, maybe minutes ago.
    One ``utimensat`` each (atime and mtime, as dockerd's at create); the mtab link's own."""
    upper = f"{path}/upper/"  # joined as strings: Path's joins cost more than the calls
    for rel in _INIT_ENTRIES:
        os.utime(upper + rel, follow_symlinks=False)


class Skeletons:
    """One directory kept ready in ``root/.skeletons`` by a thread of its own."""

    def __init__(self, root: Path, owner: tuple[int, int] | None = None) -> None:
        self.owner = owner  # see make
        self.pool = root / POOL
        shutil.rmtree(self.pool, ignore_errors=True)  # what a previous daemon left
        self.pool.mkdir(parents=True)
        self._ready: list[Path] = []
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._wanted.set()
        self._closed = False
        self._thread: threading.Thread | None = None

    def take(self, target: Path) -> bool:
        """Rename a ready directory to ``target``, its times the take's (:func:`refresh`); False
        when none is ready (the caller makes its own with :func:`make`)."""
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._fill, name="container-skeletons",
                                                daemon=True)
                self._thread.start()
            ready = self._ready.pop() if self._ready else None
        self._wanted.set()
        if ready is None:
            return False
        try:
            os.rename(ready, target)
        except OSError:
            shutil.rmtree(ready, ignore_errors=True)
            return False
        refresh(target)
        return True

    def close(self) -> None:
        self._closed = True
        self._wanted.set()

    def _fill(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._closed:
                return
            with self._lock:
                if self._ready:
                    continue
            path = self.pool / f"{os.getpid()}-{next(_ids)}"
            try:
                make(path, self.owner)
            except OSError:
                shutil.rmtree(path, ignore_errors=True)
                continue  # the next take asks again; meanwhile creates make their own
            with self._lock:
                self._ready.append(path)
