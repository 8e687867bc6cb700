"""The ``local`` volume driver: one directory per volume, as dockerd lays them out.

On disk::

    <data-root>/volumes/
        <name>/
            volume.json    {"Name", "CreatedAt", "Labels", "Options"} — temp → fsync → rename
            _data/         the volume's content: its Mountpoint, bind-mounted into containers
        .new-<rand>/       a volume being created; renamed to <name> once complete, so a volume
                           is never visible half made (a crash leaves only a .new- dir, swept)
        .gone-<rand>/      a volume being removed: renamed away first, then deleted

A name is checked against ``[a-zA-Z0-9][a-zA-Z0-9_.-]+`` before it touches the disk, so it
can only ever name a direct child of ``volumes/``.

``Options`` (``DriverOpts``) ``type``/``device``/``o`` mount a file system on ``_data`` on
first use, as ``mount -t TYPE -o O DEVICE`` would (``type=tmpfs``, ``o=bind`` with a host
path…); it stays mounted until the volume is removed or, unused, the daemon stops.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..diskusage import files_size
from ..errors import DockyardError, InvalidArgument, NotFound
from ..linux.mounts import unescape
from ..store.timefmt import rfc3339_ns
from .parse import NAME_RE, check_volume_name

META: Final = "volume.json"
DATA: Final = "_data"
VALID_OPTS: Final = ("type", "device", "o", "size")
REQUIRED_OPTS: Final = {"device": ("type",), "type": ("device",), "o": ("device", "type")}
# mount option words that are flags (value for mount(2)), the rest goes to the file system
_FLAGS: Final = {"ro": 1, "nosuid": 2, "nodev": 4, "noexec": 8, "sync": 16, "dirsync": 128,
                 "noatime": 1024, "nodiratime": 2048, "bind": 4096, "rbind": 4096 | 16384,
                 "relatime": 1 << 21, "strictatime": 1 << 24}
_CLEAR: Final = ("rw", "suid", "dev", "exec", "async", "atime", "diratime", "defaults")


class VolumeMountError(DockyardError):
    pass


@dataclass
class Volume:
    name: str
    created_at: str
    labels: dict[str, str] | None
    options: dict[str, str] | None
    path: Path                      # <root>/<name>

    @property
    def data(self) -> Path:
        return self.path / DATA

    @property
    def anonymous(self) -> bool:
        return "com.docker.volume.anonymous" in (self.labels or {})

    def view(self) -> dict[str, Any]:
        """The Engine API ``Volume`` object."""
        return {"CreatedAt": self.created_at, "Driver": "local", "Labels": self.labels,
                "Mountpoint": str(self.data), "Name": self.name, "Options": self.options,
                "Scope": "local"}


def check_options(opts: dict[str, str]) -> None:
    """The local driver's option rules and wording."""
    for key in opts:
        if key not in VALID_OPTS:
            raise InvalidArgument(f'invalid option: "{key}"')
    if "size" in opts:
        raise InvalidArgument("quota size requested but no quota support")
    for key, needs in REQUIRED_OPTS.items():
        for need in needs if key in opts else ():
            if need not in opts:
                raise InvalidArgument(f'missing required option: "{need}"')


def mount_args(opts: dict[str, str]) -> tuple[str, str | None, int, str]:
    """``(source, fstype, flags, data)`` for mount(2) from type/device/o."""
    flags, data = 0, []
    for word in (w for w in opts.get("o", "").split(",") if w):
        if word in _FLAGS:
            flags |= _FLAGS[word]
        elif word not in _CLEAR:
            data.append(word)
    fstype = None if flags & _FLAGS["bind"] else opts.get("type") or None
    return opts.get("device", ""), fstype, flags, ",".join(data)


class LocalDriver:
    def __init__(self, root: Path, owner: tuple[int, int] | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.owner = owner  # --userns-remap: a new _data is the remapped root's, as dockerd's
        self._lock = threading.Lock()
        self._sweep()

    def _sweep(self) -> None:
        for entry in self.root.iterdir():
            if entry.name.startswith((".new-", ".gone-")):
                shutil.rmtree(entry, ignore_errors=True)

    # ---- metadata -----------------------------------------------------------------------

    def get(self, name: str) -> Volume:
        if not NAME_RE.match(name):  # never a path: no "/", "..", NUL, or our .new-/.gone- dirs
            raise NotFound(f"get {name}: no such volume")
        path = self.root / name
        try:
            with open(path / META, encoding="utf-8") as f:
                meta = json.load(f)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"get {name}: no such volume") from None
        return Volume(name, meta.get("CreatedAt", ""), meta.get("Labels"), meta.get("Options"), path)

    def all(self) -> list[Volume]:
        out = []
        for entry in sorted(os.listdir(self.root)):
            if not entry.startswith("."):
                try:
                    out.append(self.get(entry))
                except NotFound:
                    continue
        return out

    def create(self, name: str, opts: dict[str, str] | None,
               labels: dict[str, str] | None) -> tuple[Volume, bool]:
        """The volume (new or existing) and whether this call made it."""
        check_volume_name(name)
        with self._lock:
            try:
                return self.get(name), False  # before the options, which only a new one needs
            except NotFound:
                pass
            try:
                check_options(opts or {})
            except InvalidArgument as exc:
                raise InvalidArgument(f"create {name}: {exc}") from None
            tmp = self.root / f".new-{secrets.token_hex(8)}"
            (tmp / DATA).mkdir(parents=True, mode=0o755)
            if self.owner is not None:
                os.chown(tmp / DATA, *self.owner)
            meta = {"Name": name, "CreatedAt": rfc3339_ns(time.time_ns() // 10**9 * 10**9),
                    "Labels": labels, "Options": opts}
            _write_json(tmp / META, meta)
            os.rename(tmp, self.root / name)
        return self.get(name), True

    def remove(self, volume: Volume) -> None:
        self.unmount(volume)
        gone = self.root / f".gone-{secrets.token_hex(8)}"
        try:
            os.rename(volume.path, gone)
        except FileNotFoundError:
            return
        shutil.rmtree(gone, ignore_errors=True)

    # ---- devices ---------------------------------------------------------------------------

    def mountpoint(self, volume: Volume) -> str:
        """``_data``, with the volume's device mounted there first if it has one."""
        opts = volume.options or {}
        if opts.get("device") and not mounted(volume.data):
            from ..linux import syscalls
            source, fstype, flags, data = mount_args(opts)
            try:
                syscalls.mount(source, str(volume.data), fstype, flags, data or None)
            except OSError as exc:
                raise VolumeMountError(
                    f"error while mounting volume '{volume.data}': failed to mount local volume: "
                    f"mount {source}:{volume.data}, flags: 0x{flags:x}, data: {data}: "
                    f"{os.strerror(exc.errno or 0).lower()}") from None
        return str(volume.data)

    def unmount(self, volume: Volume) -> None:
        """Detach whatever is mounted on or below the volume, and check: a bind-mounted device
        must never be reached by the removal that follows."""
        from ..linux import syscalls
        for point in sorted(mounts_below(volume.path), reverse=True):
            syscalls.umount2(point, 2)  # MNT_DETACH
        if mounts_below(volume.path):
            raise VolumeMountError(f"remove {volume.name}: volume is still mounted")

    def size(self, volume: Volume) -> int:
        """Bytes in the volume (dockerd's ``directory.Size``: each inode once)."""
        return files_size([volume.data])


def mounts_below(path: Path | str) -> list[str]:
    """Mount points at or under ``path`` in our mount namespace (``os.path.ismount`` misses a
    bind mount from the same file system)."""
    root = os.path.realpath(path)
    out = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            point = unescape(line.split(" ", 5)[4])
            if point == root or point.startswith(root + "/"):
                out.append(point)
    return out


def mounted(path: Path | str) -> bool:
    return os.path.realpath(path) in mounts_below(path)


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


__all__ = ["LocalDriver", "Volume", "VolumeMountError", "check_options", "mount_args"]
