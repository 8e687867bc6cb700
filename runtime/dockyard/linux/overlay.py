"""The container root file system: overlayfs over the image's layer dirs plus a per-container
upper/work dir.

overlayfs lists ``lowerdir`` from the *top* down, while images list layers from the bottom up;
:func:`options` does the reversal so callers keep the image order. The option string must fit
in one page (4096 bytes); long layer paths are shortened by mounting from a common parent
directory with relative paths, as Docker's overlay2 driver does with its ``l/`` links.
"""

from __future__ import annotations

import os
from typing import Final

from ..errors import InvalidArgument
from . import syscalls

PAGE: Final = 4096
_SPECIAL: Final = (",", ":", "\\")


def check_path(path: str) -> str:
    """``path`` as an overlay option takes it (refused when it holds a separator)."""
    for ch in _SPECIAL:
        if ch in path:
            raise InvalidArgument(f"overlay layer path {path!r} contains {ch!r}, "
                                  "which overlayfs options cannot carry")
    return path


def options(lower_dirs: list[str], upper: str, work: str, userxattr: bool = False) -> str:
    """The ``mount -t overlay`` data string; ``lower_dirs`` lowest first."""
    lowers = ":".join(check_path(d) for d in reversed(lower_dirs))
    data = f"lowerdir={lowers},upperdir={check_path(upper)},workdir={check_path(work)}"
    return data + (",userxattr" if userxattr else "")


def mount(lower_dirs: list[str], upper: str, work: str, target: str,
          userxattr: bool = False, flags: int = 0) -> None:
    """Mount the overlay on ``target``; falls back to relative paths if the options are long."""
    target = os.path.abspath(target)
    data = options(lower_dirs, upper, work, userxattr)
    if len(data) < PAGE - 1:
        syscalls.mount("overlay", target, "overlay", flags, data)
        return
    base = os.path.commonpath([*lower_dirs, upper, work])
    rel = options([os.path.relpath(d, base) for d in lower_dirs], os.path.relpath(upper, base),
                  os.path.relpath(work, base), userxattr)
    if len(rel) >= PAGE - 1:
        raise InvalidArgument(f"{len(lower_dirs)} layers are too many for one overlay mount")
    here = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.chdir(base)
        syscalls.mount("overlay", target, "overlay", flags, rel)
    finally:
        os.fchdir(here)
        os.close(here)
