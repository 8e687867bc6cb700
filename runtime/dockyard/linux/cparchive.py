"""``docker cp`` and ``docker export`` inside a container's root, in a short-lived helper process.

Why a separate process that ``chroot``s: every path a client sends (and every symlink the image
holds) must resolve *inside* the container — an absolute link points at the container's ``/``,
``..`` stops there. Resolving in Python and then opening by host path would race with a running
container swapping a directory for a symlink; inside a chroot the kernel does the resolution.
The root is ``/proc/<pid>/root`` for a running container (its mounts, volumes included, are
seen there), or, for a stopped one, its overlay mounted in a private mount namespace that dies
with the helper — nothing can leak (its bind mounts and volumes are mounted there too).

Hardening: a hostile image must not run code in this root process. Everything is imported
before the chroot and file-based imports are switched off after it; no user/group *name*
lookups (glibc would load the image's NSS modules) — tar headers carry numbers only.

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
import json
import lzma  # noqa: F401
import os
import shutil
import stat
import sys
import tarfile
import zlib  # noqa: F401
from datetime import UTC, datetime
from typing import IO, Any

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
    link = ""
    if stat.S_ISLNK(st.st_mode):
        link = os.path.realpath(path)
    return {"name": base_name(path), "size": st.st_size, "mode": go_mode(st.st_mode),
            "mtime": _rfc3339(st.st_mtime), "linkTarget": link}


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


def _tarinfo_filter(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mtime = int(info.mtime)  # a float would cost a PAX header per entry
    info.uname = info.gname = ""
    if _REMAP is not None:
        info.uid, info.gid = _to_container(_REMAP[0], info.uid), _to_container(_REMAP[1], info.gid)
    return info


class _Out:
    """A write-only binary stream over fd 1 (tarfile needs ``write``)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        return len(data)


def write_tar(out: IO[bytes] | _Out, path: str, name: str, one_file_system: bool = False) -> None:
    """A tar of ``path`` whose top entry is ``name`` (``.`` for a directory's contents)."""
    real = path.removesuffix("/.")
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        if name == "/" or one_file_system:
            _add_tree(tar, real or "/", one_file_system)
        else:
            tar.add(real, arcname=name, recursive=True, filter=_tarinfo_filter)


_RUNTIME_FS = frozenset({"/proc", "/sys", "/dev"})  # the runtime's mounts, not the container's files


def _add_tree(tar: tarfile.TarFile, root: str, one_file_system: bool) -> None:
    """The whole root as ``./``-less relative entries. Other file systems only as their
    mountpoint directory with ``one_file_system`` (export: no volumes either); /proc, /sys and
    /dev contents never, as dockerd copies from the container's layers, not its live mounts."""
    root_dev = os.lstat(root).st_dev
    for entry in sorted(os.listdir(root)):
        _add_entry(tar, os.path.join(root, entry), entry, root_dev, one_file_system)


def _add_entry(tar: tarfile.TarFile, path: str, arcname: str, root_dev: int, one_fs: bool) -> None:
    info = tar.gettarinfo(path, arcname)
    if info is None:  # a socket: tar cannot hold it
        return
    info = _tarinfo_filter(info)
    if info.isreg():
        with open(path, "rb") as f:
            tar.addfile(info, f)
        return
    tar.addfile(info)
    other_fs = info.isdir() and os.lstat(path).st_dev != root_dev
    if info.isdir() and not (other_fs and (one_fs or path in _RUNTIME_FS)):
        for entry in sorted(os.listdir(path)):
            _add_entry(tar, os.path.join(path, entry), f"{arcname}/{entry}", root_dev, one_fs)


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
