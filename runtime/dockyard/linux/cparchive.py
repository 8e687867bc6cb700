"""``docker cp`` and ``docker export`` inside a container's root, in a short-lived helper process.

Why a separate process that ``chroot``s: every path a client sends (and every symlink the image
holds) must resolve *inside* the container — an absolute link points at the container's ``/``,
``..`` stops there. Resolving in Python and then opening by host path would race with a running
container swapping a directory for a symlink; inside a chroot the kernel does the resolution.
The root is ``/proc/<pid>/root`` for a running container (its mounts, volumes included, are
seen there), or, for a stopped one, its overlay mounted in a private mount namespace that dies
with the helper — nothing can leak (its bind mounts and volumes are mounted there too).

Hardening: a hostile image must not run code in this root process. Everything is imported
before the chroot and file-based imports are switched off after it; no NSS lookups (glibc would
load the image's modules): a tar out's user and group names, which dockerd's headers carry as
its chrooted getpwuid/getgrgid finds them, are read from the image's /etc/passwd and /etc/group
as text. A tar out's headers are Go's (:mod:`dockyard.gotar`), byte for byte dockerd's.

Under ``--userns-remap`` (option ``remap``: the store's uid and gid maps) the files hold the
host ids of the container's: a tar out gives the container's ids back (an id the map lacks is
65534, as the kernel shows it), and a tar in is given the host ids of its headers' (or of
``-a``'s user), refused in dockerd's words for an id the map lacks (the arithmetic is
:mod:`.idmap`'s, as the store's id map's). A rootless daemon's helper works inside its user
namespace, where the kernel shows the containers' ids already: no map.

Protocol (argv: ``op``, JSON options; stdout)::

    stat    → one JSON line: {"stat": {...}} | {"error": "notfound"|"notdir"|…, "message": …}
    get     → that line, then a tar stream of the path (named by its base name)
    export  → {"stat": …} line, then a tar of the whole root (one file system: no /proc, volumes)
    put     ← a tar on stdin; → one JSON line at the end: {"ok": true} | {"error": …}
"""

from __future__ import annotations

import bz2  # noqa: F401 - tarfile imports these lazily; after the chroot it could not
import errno
import json
import lzma  # noqa: F401
import os
import shutil
import stat
import sys
import tarfile
import zlib  # noqa: F401
from datetime import UTC, datetime
from typing import IO, Any, Final

from .. import gotar
from . import idmap, mounts, namespaces, overlay, syscalls, userns, users

# Go's os.FileMode type bits, which X-Docker-Container-Path-Stat carries.
_GO_DIR, _GO_SYMLINK, _GO_DEVICE, _GO_PIPE = 1 << 31, 1 << 27, 1 << 26, 1 << 25
_GO_SOCKET, _GO_SETUID, _GO_SETGID, _GO_CHARDEV, _GO_STICKY = 1 << 24, 1 << 23, 1 << 22, 1 << 21, 1 << 20


class CopyError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def go_mode(mode: int) -> int:
    """A unix ``st_mode`` as Go's ``os.FileMode`` (type bits high, permissions low)."""
    out = mode & 0o777
    kind = stat.S_IFMT(mode)
    out |= {stat.S_IFDIR: _GO_DIR, stat.S_IFLNK: _GO_SYMLINK, stat.S_IFIFO: _GO_PIPE,
            stat.S_IFSOCK: _GO_SOCKET, stat.S_IFBLK: _GO_DEVICE,
            stat.S_IFCHR: _GO_DEVICE | _GO_CHARDEV}.get(kind, 0)
    for bit, flag in ((stat.S_ISUID, _GO_SETUID), (stat.S_ISGID, _GO_SETGID), (stat.S_ISVTX, _GO_STICKY)):
        if mode & bit:
            out |= flag
    return out


def _rfc3339(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{moment.microsecond:06d}".rstrip("0")
    return text + (f".{frac}" if frac else "") + "Z"


def container_path(path: str) -> str:
    """The requested path made absolute, keeping a trailing ``/`` or ``/.`` (they mean "the
    directory's contents" and "follow the final symlink")."""
    clean = os.path.normpath("/" + path)
    clean = "/" + clean.lstrip("/")
    if path.endswith("/.") and clean != "/":
        return clean + "/."
    if path.endswith("/") and clean != "/":
        return clean + "/"
    return clean


def base_name(path: str) -> str:
    """Go's filepath.Base of the requested path: ``/`` for the root, ``.`` for ``dir/.``."""
    if path == "/":
        return "/"
    if path.endswith("/."):
        return "."
    return os.path.basename(path.rstrip("/"))


def path_stat(path: str) -> dict[str, Any]:
    """dockerd's ContainerPathStat for ``path`` (already inside the root)."""
    follow = path.endswith(("/", "/."))
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except FileNotFoundError:
        raise CopyError("notfound", path) from None
    except NotADirectoryError:
        raise CopyError("notfound", path) from None
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        clean = os.path.normpath(path)  # dockerd follows the parent's links, the path's own with a "/"
        raise CopyError("toomany", clean if follow else os.path.dirname(clean)) from None
    link = ""
    if stat.S_ISLNK(st.st_mode):
        link = link_target(path)
    return {"name": base_name(path), "size": st.st_size, "mode": go_mode(st.st_mode),
            "mtime": _rfc3339(st.st_mtime), "linkTarget": link}


KERNEL_VIEWS: Final = ("proc", "sys")
"""Where dockerd's copy sees empty directories (it mounts the root and the volumes only): a
running container's files there, which the helper sees, are never followed."""

MAX_LINKS: Final = 255  # moby's FollowSymlinkInScope gives up after as many


def link_target(path: str) -> str:
    """dockerd's ``linkTarget``: ``path`` with every symlink in it followed inside the root
    (already entered), as moby's ``FollowSymlinkInScope`` — a component that is missing or
    unreadable ends the following and the rest is kept as written; nothing below
    :data:`KERNEL_VIEWS` is followed (``/etc/mtab`` gives ``/proc/mounts``, and never a
    ``/proc/self`` of a process outside the container's pid namespace); a loop is a
    ``toomany`` :class:`CopyError`, as moby's "too many links"."""
    try:
        return mounts.in_root("/", path, MAX_LINKS, KERNEL_VIEWS)
    except mounts.LinkLoop:
        raise CopyError("toomany", os.path.normpath(path)) from None


# ---- entering the root -------------------------------------------------------------------------


def enter_root(options: dict[str, Any]) -> None:
    """chroot into the container (see the module docstring), then forbid file-based imports."""
    if options.get("pid"):
        root = f"/proc/{int(options['pid'])}/root"
        if os.geteuid() != 0:  # rootless: chroot needs CAP_SYS_CHROOT, which its userns grants
            namespaces.join(int(options["pid"]), ("user",))
    else:
        root = options["mountpoint"]  # an empty directory the caller owns
        rootless = os.geteuid() != 0
        if rootless:  # mounting needs the user namespace the container's files belong to
            userns.enter()
        syscalls.unshare(syscalls.CLONE_NEWNS)
        mounts.make_private()
        overlay.mount(options["lower_dirs"], options["upper_dir"], options["work_dir"], root,
                      userxattr=rootless)
        for m in options.get("binds", []):  # its volumes and bind mounts, as dockerd mounts them
            mounts.bind(root, m["source"], m["target"], m.get("read_only", False),
                        subpath=m.get("subpath", ""))
    os.chroot(root)
    os.chdir("/")
    tarfile.pwd = tarfile.grp = None  # type: ignore[attr-defined]  # no NSS: numbers only
    sys.path.clear()
    sys.path_hooks.clear()
    sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__name__", "") in
                        ("BuiltinImporter", "FrozenImporter")]


# ---- tar out -----------------------------------------------------------------------------------


Maps = list[tuple[int, int, int]]
_REMAP: tuple[Maps, Maps] | None = None  # the store's (uid, gid) maps under --userns-remap


def _to_container(maps: Maps, host: int) -> int:
    inside = idmap.namespace_id(maps, host)
    return idmap.OVERFLOW_ID if inside is None else inside


def _to_host(maps: Maps, container_id: int) -> int:
    host = idmap.host_id(maps, container_id)
    if host is None:
        raise CopyError("failed", f"Error processing tar file(exit status 1): Container ID {container_id} "
                                  "cannot be mapped to a host ID")
    return host


class _Out:
    """A write-only binary stream over fd 1."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        return len(data)


def _id_names(database: str) -> dict[int, bytes]:
    """An id → name table of the container's ``/etc/passwd`` or ``/etc/group``, read as glibc's
    files backend reads it (the first line with an id wins) — dockerd's tar looks names up with
    getpwuid/getgrgid chrooted in the container; read here as plain text, no NSS module loaded."""
    names: dict[int, bytes] = {}
    try:
        with open(f"/etc/{database}", "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return names
    for line in lines:
        fields = line.split(b":")
        if len(fields) < 3 or not fields[0] or fields[0][:1] in b"+-#" or not fields[2].isdigit():
            continue
        names.setdefault(int(fields[2]), fields[0])
    return names


class _TarWriter:
    """dockerd's ``docker cp``/``docker export`` stream (moby's ``addTarFile`` over Go's tar
    writer, :mod:`dockyard.gotar`): a file seen before under another name is a hard link to it,
    a socket is left out; names are looked up by the ids on disk, before a remap's mapping."""

    def __init__(self, out: IO[bytes] | _Out) -> None:
        self.out = out
        self.links: dict[tuple[int, int], bytes] = {}
        self.users, self.groups = _id_names("passwd"), _id_names("group")

    def add(self, path: str, arcname: str) -> os.stat_result | None:
        st = os.lstat(path)
        kind = stat.S_IFMT(st.st_mode)
        if kind == stat.S_IFSOCK:
            return None
        name, link, hardlink = os.fsencode(arcname.lstrip("/")), b"", False
        if kind == stat.S_IFLNK:
            link = os.fsencode(os.readlink(path))
        elif kind != stat.S_IFDIR and st.st_nlink > 1:
            link = self.links.setdefault((st.st_dev, st.st_ino), name)
            hardlink = link != name
        uid, gid = st.st_uid, st.st_gid
        if _REMAP is not None:
            uid, gid = _to_container(_REMAP[0], uid), _to_container(_REMAP[1], gid)
        size = st.st_size if kind == stat.S_IFREG and not hardlink else 0
        device = kind in (stat.S_IFCHR, stat.S_IFBLK)
        entry = gotar.Entry(
            name + b"/" if kind == stat.S_IFDIR else name, st.st_mode, uid, gid, size,
            st.st_mtime_ns // 1_000_000_000, link if kind == stat.S_IFLNK or hardlink else b"",
            hardlink, self.users.get(st.st_uid, b""), self.groups.get(st.st_gid, b""),
            os.major(st.st_rdev) if device else 0, os.minor(st.st_rdev) if device else 0,
            _capability(path))
        self.out.write(gotar.header(entry))
        if size:
            self._copy(path, size)
        return st

    def _copy(self, path: str, size: int) -> None:
        """``size`` bytes of the file, as its header says (zeros for what a writer truncated)."""
        left = size
        with open(path, "rb") as f:
            while left and (chunk := f.read(min(left, 1 << 20))):
                self.out.write(chunk)
                left -= len(chunk)
        self.out.write(b"\0" * left + gotar.padding(size))

    def close(self) -> None:
        self.out.write(gotar.END)


def _capability(path: str) -> dict[str, bytes] | None:
    """The one xattr moby's tar keeps (``security.capability``)."""
    try:
        return {"security.capability": os.getxattr(path, "security.capability", follow_symlinks=False)}
    except OSError:
        return None


def write_tar(out: IO[bytes] | _Out, path: str, name: str, one_file_system: bool = False) -> None:
    """A tar of ``path`` whose top entry is ``name`` (``.`` for a directory's contents)."""
    real = path.removesuffix("/.")
    tar = _TarWriter(out)
    if name == "/" or one_file_system:
        _add_tree(tar, real or "/", one_file_system)
    else:
        root_dev = os.lstat(real).st_dev
        _add_entry(tar, real, name, root_dev, one_fs=False, runtime_fs=False)
    tar.close()


_RUNTIME_FS = frozenset({"/proc", "/sys", "/dev"})  # the runtime's mounts, not the container's files


def _add_tree(tar: _TarWriter, root: str, one_file_system: bool) -> None:
    """The whole root as ``./``-less relative entries. Other file systems only as their
    mountpoint directory with ``one_file_system`` (export: no volumes either); /proc, /sys and
    /dev contents never, as dockerd copies from the container's layers, not its live mounts."""
    root_dev = os.lstat(root).st_dev
    for entry in sorted(os.listdir(root)):
        _add_entry(tar, os.path.join(root, entry), entry, root_dev, one_file_system, True)


def _add_entry(tar: _TarWriter, path: str, arcname: str, root_dev: int, one_fs: bool,
               runtime_fs: bool) -> None:
    st = tar.add(path, arcname)
    if st is None or not stat.S_ISDIR(st.st_mode):
        return
    other_fs = st.st_dev != root_dev
    if not (other_fs and (one_fs or (runtime_fs and path in _RUNTIME_FS))):
        for entry in sorted(os.listdir(path)):
            _add_entry(tar, os.path.join(path, entry), f"{arcname}/{entry}", root_dev, one_fs, runtime_fs)


# ---- tar in ------------------------------------------------------------------------------------


def extract(stream: IO[bytes], dest: str, no_overwrite_dir_non_dir: bool,
            owner: tuple[int, int] | None) -> None:
    """Unpack a tar into ``dest`` as dockerd does: an existing entry is replaced unless both
    are directories; entries may not climb out of ``dest``; ``owner`` overrides the headers."""
    try:
        st = os.stat(dest)
    except FileNotFoundError:
        raise CopyError("notfound", dest) from None
    if not stat.S_ISDIR(st.st_mode):
        raise CopyError("notdir", "extraction point is not a directory")
    dest = os.path.realpath(dest)

    trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
    directories: list[tarfile.TarInfo] = []
    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        for member in tar:
            member = _prepare(member, dest, no_overwrite_dir_non_dir, owner)
            tar.extract(member, dest, set_attrs=not member.isdir(), numeric_owner=True, **trusted)  # type: ignore[arg-type]
            if member.issym():  # tarfile leaves a link's time; dockerd's unpack sets it (lutimes)
                os.utime(os.path.join(dest, member.name.lstrip("/")), (member.mtime, member.mtime),
                         follow_symlinks=False)
            if member.isdir():
                directories.append(member)
        for member in reversed(directories):  # after their contents, as extractall does
            path = os.path.join(dest, member.name.lstrip("/"))
            tar.chown(member, path, numeric_owner=True)
            tar.utime(member, path)
            tar.chmod(member, path)


def _inside(dest: str, name: str) -> str:
    target = os.path.normpath(os.path.join(dest, name.lstrip("/")))
    if target != dest and not target.startswith(dest.rstrip("/") + "/"):
        raise CopyError("breakout", f"{name!r} is outside of {dest!r}")
    return target


def _prepare(member: tarfile.TarInfo, dest: str, no_overwrite: bool,
             owner: tuple[int, int] | None) -> tarfile.TarInfo:
    target = _inside(dest, member.name)
    if member.islnk():
        _inside(dest, member.linkname)
    try:
        existing = os.lstat(target)
    except FileNotFoundError:
        existing = None
    if existing is not None and target != dest:
        is_dir = stat.S_ISDIR(existing.st_mode)
        if no_overwrite and is_dir and not member.isdir():
            raise CopyError("conflict", f"cannot overwrite directory {target!r} with non-directory {member.name!r}")
        if no_overwrite and not is_dir and member.isdir():
            raise CopyError("conflict", f"cannot overwrite non-directory {target!r} with directory {member.name!r}")
        if not (is_dir and member.isdir()):
            if not is_dir and _mountpoint(target):
                raise CopyError("failed", "Error processing tar file(exit status 1): "
                                          f"unlinkat {target}: device or resource busy")
            shutil.rmtree(target) if is_dir else os.unlink(target)
    if owner is not None:
        member.uid, member.gid = owner
    if _REMAP is not None:
        member.uid, member.gid = _to_host(_REMAP[0], member.uid), _to_host(_REMAP[1], member.gid)
    member.uname = member.gname = ""
    return member


def _mountpoint(path: str) -> bool:
    """Whether a file is a mountpoint (a bind of /etc/hosts, hostname, resolv.conf or of the
    user's): dockerd's unpack, in the namespace holding the mount, cannot unlink it (EBUSY);
    this helper may be in another one (a running container's root seen through /proc), where
    the kernel would unlink it and take the mount away from the container."""
    own = syscalls.mount_id(path)
    return own is not None and own != syscalls.mount_id(os.path.dirname(path))


# ---- entry point ---------------------------------------------------------------------------------


def _emit(out: _Out, message: dict[str, Any]) -> None:
    out.write(json.dumps(message).encode() + b"\n")


def run(op: str, options: dict[str, Any], out: _Out) -> None:
    global _REMAP
    if options.get("remap"):
        _REMAP = ([(a, b, c) for a, b, c in options["remap"]["uid_map"]],
                  [(a, b, c) for a, b, c in options["remap"]["gid_map"]])
    path = container_path(options.get("path", "/"))
    if op in ("stat", "get"):
        _emit(out, {"stat": path_stat(path)})
        if op == "get":
            write_tar(out, path, base_name(path))
    elif op == "export":
        _emit(out, {"stat": path_stat("/")})
        write_tar(out, "/", "/", one_file_system=True)
    elif op == "put":
        owner = None
        if options.get("chown_user") is not None:
            user = users.resolve(options["chown_user"], ["/"])
            owner = (user.uid, user.gid)
        extract(sys.stdin.buffer, path, bool(options.get("no_overwrite_dir_non_dir")), owner)
        _emit(out, {"ok": True})
    else:
        raise CopyError("invalid", f"unknown operation {op!r}")


def main() -> None:
    out = _Out(1)
    op, options = sys.argv[1], json.loads(sys.argv[2])
    try:
        enter_root(options)
        run(op, options, out)
    except CopyError as exc:
        _emit(out, {"error": exc.kind, "message": str(exc)})
    except mounts.BindSourceError as exc:  # dockerd's mount of the volumes fails: its 404
        _emit(out, {"error": "notfound", "message": str(exc.strerror)})
    except (OSError, tarfile.TarError, ValueError) as exc:
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, OSError) and exc.filename:
            message = f"{message}: {exc.filename}"
        _emit(out, {"error": "failed", "message": message})


if __name__ == "__main__":
    main()
