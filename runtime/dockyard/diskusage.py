"""Bytes on disk as dockerd counts them for ``system df``, ``ps -s`` and volume sizes.

A rootless daemon may not read every directory it holds: a container's process makes a
directory of mode 0, or 0750 of its user 1000 (a subordinate id on the host), in its upper dir
or in a volume, and an image layer can carry one too. Skipping those gave a size that was
wrong without a word, so a walk the daemon's user is refused in is done again in the user
namespace helper (:func:`dockyard.store.diff.as_owner`), where the container's root reads
everything — one helper start (~0.2 s) for a tree that needs it, none for the others.
"""

from __future__ import annotations

import os
from collections.abc import Iterable


def files_size(dirs: Iterable[str | os.PathLike[str]]) -> int:
    """Sizes of the regular files and links under ``dirs``, each inode once: busybox's applets
    are hard links of one binary, and counted per name they made a 2 MB image weigh 531 MB."""
    from .store.diff import as_owner  # not at the top: the helper imports this module

    return as_owner(_files_size, [os.fspath(d) for d in dirs])


def _files_size(tops: list[str]) -> int:
    """A non-root caller gets PermissionError where a directory may not be read or searched
    (see above); root — the real one, or the helper's — leaves out what is still refused."""
    def refused(exc: OSError) -> None:
        if os.geteuid() != 0 and isinstance(exc, PermissionError):
            raise exc

    total, seen = 0, set()
    for top in tops:
        for dirpath, _dirs, files in os.walk(top, onerror=refused):
            for name in files:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError as exc:  # gone meanwhile, or a directory readable but not searchable
                    refused(exc)
                    continue
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
    return total
