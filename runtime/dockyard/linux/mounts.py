"""The container's mount table, built inside its fresh mount namespace by its init process.

Order (each step relies on the one before):

1. ``/`` given the spec's root propagation (:func:`prepare_root`, runc's ``prepareRoot``):
   recursively a slave by default — the host's mount events still reach the copies of its
   mounts, nothing we mount goes back —, ``shared`` for a container with an ``rshared`` bind
   (the parent mount of the rootfs dir made private then, so the overlay stays ours);
2. overlay on the rootfs dir (``overlay.py``); /proc, /sys (read-only), /sys/fs/cgroup, /dev
   (tmpfs + device nodes + pts + shm + mqueue) and the user's ``--mount``s inside it, each
   bind given its propagation (a ``-v``/``--mount`` bind's ``rprivate`` unless it asks: the
   host's mounts under a ``rslave`` one appear in it, a ``rshared`` one's go both ways; a
   volume's none, so it stays the slave of the daemon root's shared mount it was made from);
3. ``pivot_root`` into it and detach the old root, made a slave first (its unmounts must not
   reach the host through a mount it shares);
4. masked paths, read-only paths, then a read-only root if asked.

An embryo (``linux.launcher.Embryo``) makes /proc, /dev and /sys/fs/cgroup before its
container is known, as mounts not attached anywhere yet (:class:`Premade`, the new mount API),
and a start attaches each with one ``move_mount``: the file systems are bound to the
namespaces of the process that makes them (PID for proc, IPC for mqueue, cgroup for the
cgroup hierarchies), which the embryo has from its clone on.

Because all of it happens in a private mount namespace, no mount outlives the container:
when its last process exits the kernel drops the namespace and every mount in it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from collections.abc import Iterable, Iterator
from typing import Final, NamedTuple

from ..errors import InvalidArgument
from . import syscalls as sc

NOSUID_NODEV_NOEXEC: Final = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC
ATTR_NOSUID_NODEV_NOEXEC: Final = sc.MOUNT_ATTR_NOSUID | sc.MOUNT_ATTR_NODEV | sc.MOUNT_ATTR_NOEXEC
# /dev's file systems: (mountpoint under /dev or "" for /dev, fstype, source, mount(2) flags,
# mount attributes of the same meaning, options)
DEV_MOUNTS: Final = (
    ("", "tmpfs", "tmpfs", sc.MS_NOSUID | sc.MS_STRICTATIME,
     sc.MOUNT_ATTR_NOSUID | sc.MOUNT_ATTR_STRICTATIME, "mode=755,size=65536k"),
    ("pts", "devpts", "devpts", sc.MS_NOSUID | sc.MS_NOEXEC,
     sc.MOUNT_ATTR_NOSUID | sc.MOUNT_ATTR_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"),
    ("shm", "tmpfs", "shm", NOSUID_NODEV_NOEXEC, ATTR_NOSUID_NODEV_NOEXEC, "mode=1777,size=65536k"),
    ("mqueue", "mqueue", "mqueue", NOSUID_NODEV_NOEXEC, ATTR_NOSUID_NODEV_NOEXEC, ""),
)
DEV_DIR_MODES: Final = {"pts": 0o755, "shm": 0o1777, "mqueue": 0o755}
DEVICES: Final = {  # name: (major, minor) — the set every Docker container has
    "null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9),
    "tty": (5, 0),
}
DEV_LINKS: Final = {
    "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx", "core": "/proc/kcore",
}
# statvfs f_flag bits → mount flags a bind remount must keep (the kernel refuses to clear
# "locked" flags inside a user namespace)
_KEEP_FLAGS: Final = ((1, sc.MS_RDONLY), (2, sc.MS_NOSUID), (4, sc.MS_NODEV), (8, sc.MS_NOEXEC),
                      (1024, sc.MS_NOATIME), (2048, 2048), (4096, sc.MS_RELATIME))


# the OCI spec's propagation words as mount(2) flags (runc's mountPropagationMapping)
PROPAGATION_FLAGS: Final = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
}
DEFAULT_ROOT_PROPAGATION: Final = sc.MS_SLAVE | sc.MS_REC  # runc's, with no rootfsPropagation


def bind_propagation(options: list[str]) -> str:
    """The propagation word among a bind's options ("" for none: private)."""
    return next((o for o in options if o in PROPAGATION_FLAGS), "")


def make_private() -> None:
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)


def prepare_root(rootfs: str, propagation: str = "") -> None:
    """``/`` of a new mount namespace given ``propagation`` (runc's ``prepareRoot``; "" is
    its ``rslave``); where that may share (``shared``: ``/`` itself, the others keep what the
    copy gave them), the mount holding ``rootfs`` is made private if it is shared, so the
    root's overlay, mounted on it, reaches no other namespace."""
    flags = PROPAGATION_FLAGS.get(propagation, DEFAULT_ROOT_PROPAGATION)
    sc.mount(None, "/", None, flags)
    if flags & sc.MS_SHARED:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            found = source_mount(rootfs, f.read())
        if found is not None and tagged(found[1], "shared:"):
            sc.mount(None, found[0], None, sc.MS_PRIVATE)


def share_in_place(path: str, is_mountpoint: bool) -> None:
    """``path`` made a shared mount as moby's ``mount.MakeShared`` makes it: bound onto itself
    first (recursively) unless it is a mount point already, then that one mount made shared
    (its submounts keep their propagation)."""
    if not is_mountpoint:
        sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
    sc.mount(None, path, None, sc.MS_SHARED)


def detach(path: str) -> None:
    """The mount at ``path`` unmounted lazily, its submounts with it (moby's ``mount.Unmount``)."""
    sc.umount2(path, sc.MNT_DETACH)


class MountEntry(NamedTuple):
    """One line of ``/proc/self/mountinfo``: what dockyard reads of it."""

    id: str
    mountpoint: str  # unescaped
    optional: str    # the optional fields ("shared:N master:M"), space-separated


def entries(mountinfo: str) -> Iterator[MountEntry]:
    """``mountinfo``'s text, line by line, in the kernel's order."""
    for line in mountinfo.splitlines():
        fields = line.partition(" - ")[0].split(" ")
        if len(fields) >= 6:
            yield MountEntry(fields[0], unescape(fields[4]), " ".join(fields[6:]))


def tagged(optional: str, *tags: str) -> bool:
    """Whether a mount's optional fields hold one starting with a tag (``shared:``,
    ``master:``)."""
    return any(field.startswith(tags) for field in optional.split(" "))


def source_mount(path: str, mountinfo: str) -> tuple[str, str] | None:
    """(mount point, optional fields) of the mount holding ``path`` (links resolved by the
    caller) as moby's ``getSourceMount`` and runc's ``getParentMount`` find it in
    ``mountinfo``'s text: among the mount points that are a string prefix of ``path``
    (``mountinfo.ParentsFilter``) the longest, the first of equals. None if there is none."""
    best: tuple[str, str] | None = None
    for entry in entries(mountinfo):
        if path.startswith(entry.mountpoint) and (best is None or len(entry.mountpoint) > len(best[0])):
            best = (entry.mountpoint, entry.optional)
    return best


def unescape(field: str) -> str:
    """A mountinfo path: the kernel writes space, tab, newline and backslash as ``\\ooo``."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


class LinkLoop(InvalidArgument):
    """More symbolic links on a path than :func:`in_root` follows."""


def in_root(root: str, path: str, max_links: int = 40, opaque: Iterable[str] = ()) -> str:
    """``root``/``path`` with symlinks resolved *inside* ``root`` (an absolute link points at
    root's top, ``..`` stops at root), so an image cannot make a mount land on the host. A
    part that is no link, is missing, or is a link that cannot be read (a foreign
    ``/proc/self``) is kept as written; nothing below a top directory named in ``opaque`` is
    followed; more than ``max_links`` links is :class:`LinkLoop`."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            resolved = resolved[:-1]
            continue
        if resolved and resolved[0] in opaque:
            resolved.append(part)
            continue
        try:
            target = os.readlink(os.path.join(root, *resolved, part))
        except OSError:
            resolved.append(part)
            continue
        hops += 1
        if hops > max_links:
            raise LinkLoop(f"too many levels of symbolic links in {path}")
        if target.startswith("/"):
            resolved = []
        parts = [p for p in target.split("/") if p not in ("", ".")] + parts
    return os.path.join(root, *resolved)


def ensure_dir(path: str, mode: int = 0o755) -> None:
    if os.path.isdir(path):  # the usual case, in one call (makedirs takes three)
        return
    try:
        os.makedirs(path, mode, exist_ok=True)
    except FileExistsError:
        raise InvalidArgument(f"mountpoint {path} exists and is not a directory") from None


def ensure_file(path: str) -> None:
    ensure_dir(os.path.dirname(path))
    if not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))


def mount_proc(root: str, made: int | None = None, host_pid: bool = False) -> None:
    """/proc: a procfs of the init's PID namespace (``made``: one made ahead). ``host_pid``:
    the host's PID namespace, which a user namespace of its own may not mount a procfs of
    (rootless ``--pid host``): the host's /proc is bound then, as crun binds it."""
    target = in_root(root, "/proc")
    ensure_dir(target, 0o555)
    if made is not None:
        sc.move_mount(made, target)
        return
    try:
        sc.mount("proc", target, "proc", NOSUID_NODEV_NOEXEC)
    except PermissionError:
        if not host_pid:
            raise
        sc.mount("/proc", target, None, sc.MS_BIND | sc.MS_REC)


def _bind_shm(shm: str, target: str) -> None:
    """``shm`` bound at ``target``: a path here, or another process's /dev/shm reached through
    its root (``/proc/<pid>/root/dev/shm``: a rootless donor's own tmpfs), which no bind may
    take from another mount namespace — copied there (:func:`clone_in_namespace_of`)."""
    pid, sep, inside = shm.removeprefix("/proc/").partition("/root/")
    if shm.startswith("/proc/") and pid.isdigit() and sep:
        fd = clone_in_namespace_of(int(pid), "/" + inside)
        try:
            sc.move_mount(fd, target)
        finally:
            os.close(fd)
        return
    sc.mount(shm, target, None, sc.MS_BIND | sc.MS_REC)


def clone_in_namespace_of(pid: int, path: str) -> int:
    """A detached copy (with what is mounted below it) of the mount at ``path`` in the mount
    namespace of ``pid``: entered for the copy, then left for the caller's own. The caller
    needs ``CAP_SYS_ADMIN`` in the user namespace owning both (a container's init in the
    user namespace it joined)."""
    own = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    other = -1
    try:
        other = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        sc.setns(other, sc.CLONE_NEWNS)
        try:
            return sc.clone_mount(sc.AT_FDCWD, path, recursive=True)
        finally:
            sc.setns(own, sc.CLONE_NEWNS)  # the root and working directory: our own again
    finally:
        os.close(own)
        if other >= 0:
            os.close(other)


def _host_mqueue(target: str) -> None:
    """/dev/mqueue of a container in the host's IPC namespace and a user namespace of its own
    (rootless ``--ipc host``): the kernel lets only the initial user namespace mount that
    namespace's mqueue, so the host's /dev/mqueue is bound where it is mounted (crun's way),
    and the directory left empty where it is not — the queues themselves (``mq_open``) are
    the host's either way."""
    if os.path.ismount("/dev/mqueue"):
        sc.mount("/dev/mqueue", target, None, sc.MS_BIND | sc.MS_REC)


def mount_sys(root: str, read_only: bool, own_netns: bool, made: int | None = None) -> None:
    """A fresh sysfs needs a network namespace we own; otherwise bind the host's. ``made``: a
    sysfs of the container's network made for us (:func:`premade_sys`), attached as it is."""
    target = in_root(root, "/sys")
    ensure_dir(target, 0o555)
    if made is not None:
        sc.move_mount(made, target)
        return
    ro = sc.MS_RDONLY if read_only else 0
    try:
        sc.mount("sysfs", target, "sysfs", NOSUID_NODEV_NOEXEC | ro)
    except PermissionError:
        if own_netns:
            raise
        sc.mount("/sys", target, None, sc.MS_BIND | sc.MS_REC)
        if read_only:
            remount_readonly(target)


def premade_sys(read_only: bool) -> int:
    """A sysfs of the calling thread's network namespace, not attached anywhere: for an init
    whose user namespace does not own that network namespace, so may not mount it."""
    return sc.new_mount("sysfs", "sysfs", None,
                        ATTR_NOSUID_NODEV_NOEXEC | (sc.MOUNT_ATTR_RDONLY if read_only else 0))


def mount_cgroups(root: str, hierarchies: Iterable[tuple[str, str, str]], read_only: bool,
                  made: int | None = None) -> None:
    """/sys/fs/cgroup as runc lays it out for dockerd 20.10 in a cgroup namespace of the
    container's own (cgroup v1): a tmpfs, left writable (a file can be made in it), with one
    mount per host hierarchy (``(name, fstype, options)``, :func:`host_hierarchies`: v1 ones
    only), each showing the container's own cgroup as its root, read-only unless
    ``--privileged``. ``made``: that tree, read-only hierarchies, made ahead
    (:func:`premade_cgroups`)."""
    base = in_root(root, "/sys/fs/cgroup")
    if not os.path.isdir(base):
        return
    if made is not None:
        sc.move_mount(made, base)
        return
    sc.mount("tmpfs", base, "tmpfs", NOSUID_NODEV_NOEXEC, "mode=755")
    flags = NOSUID_NODEV_NOEXEC | (sc.MS_RDONLY if read_only else 0)
    for name, fstype, options in hierarchies:
        os.mkdir(os.path.join(base, name), 0o555)
        sc.mount(_cgroup_source(name), os.path.join(base, name), fstype, flags, options or None)


def _cgroup_source(name: str) -> str:
    """The source mountinfo shows for a hierarchy runc mounts: ``systemd`` for name=systemd's,
    ``cgroup`` for the others."""
    return "systemd" if name == "systemd" else "cgroup"


def bind_cgroups(root: str, hierarchies: Iterable[tuple[str, str, str]], read_only: bool,
                 own: str = "/proc/self/cgroup") -> None:
    """/sys/fs/cgroup as runc lays it out for a container in the host's cgroup namespace
    (``--cgroupns host``), where a new cgroup mount would show the hierarchy's root: a tmpfs
    (left writable, as dockerd 20.10's) with each v1 hierarchy bound from the caller's cgroup
    in it (``own``), whose path mountinfo shows; no cgroup2 one (runc lists v1 mounts only)."""
    base = in_root(root, "/sys/fs/cgroup")
    if not os.path.isdir(base):
        return
    paths = {}
    with open(own, encoding="utf-8") as f:
        for line in f:
            _num, names, path = line.rstrip("\n").split(":", 2)
            if names:
                paths[frozenset(names.split(","))] = path
    sc.mount("tmpfs", base, "tmpfs", NOSUID_NODEV_NOEXEC, "mode=755")
    flags = sc.MS_REMOUNT | sc.MS_BIND | NOSUID_NODEV_NOEXEC | (sc.MS_RDONLY if read_only else 0)
    for name, fstype, options in hierarchies:
        own_path = next((p for names, p in paths.items() if names <= set(options.split(","))),
                        None)
        if fstype != "cgroup" or own_path is None:
            continue
        target = os.path.join(base, name)
        os.mkdir(target, 0o555)
        sc.mount(os.path.join("/sys/fs/cgroup", name, own_path.lstrip("/")), target, None,
                 sc.MS_BIND)
        sc.mount(None, target, None, flags)


def host_hierarchies(mountinfo: str = "/proc/self/mountinfo") -> list[tuple[str, str, str]]:
    """``(name, fstype, options)`` of every v1 cgroup mount under /sys/fs/cgroup on the host:
    runc mounts those in a container, not a hybrid host's v2 ``unified`` one (it lists v1
    mounts only; dockerd 20.10's containers have none)."""
    found = []
    with open(mountinfo, encoding="utf-8") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = right.split()
            mountpoint = left.split()[4]
            if fields[0] != "cgroup" or os.path.dirname(mountpoint) != "/sys/fs/cgroup":
                continue
            opts = [o for o in fields[2].split(",") if o not in ("rw", "ro")]
            found.append((os.path.basename(mountpoint), fields[0], ",".join(opts)))
    return found


def mount_dev(root: str, use_mknod: bool, pts_gid: int | None, extra: Iterable[str] = (),
              made: int | None = None, shm: str = "", host_ipc: bool = False) -> None:
    """/dev as a small tmpfs holding only the devices a container may use. ``made``: that
    tree made ahead with the same nodes (:func:`premade_dev`), ``extra`` ones added to it.
    ``shm`` (``ContainerSpec.shm``): "none" leaves /dev/shm out, a path is bound there.
    ``host_ipc``: the host's IPC namespace, whose mqueue a user namespace may not mount."""
    dev = in_root(root, "/dev")
    ensure_dir(dev)
    if made is not None:
        sc.move_mount(made, dev)
        if extra:
            _dev_nodes(dev, extra, use_mknod)
        return
    for sub, fstype, source, flags, _attrs, options in DEV_MOUNTS:
        if sub == "shm" and shm == "none":  # --ipc none: no /dev/shm at all, as runc's
            continue
        if sub:
            os.mkdir(os.path.join(dev, sub), DEV_DIR_MODES[sub])
        if sub == "shm" and shm:  # the host's, a shareable container's (dockerd's ShmPath)
            _bind_shm(shm, os.path.join(dev, sub))
            continue
        try:
            sc.mount(source, os.path.join(dev, sub), fstype, flags,
                     _dev_options(sub, options, pts_gid) or None)
        except PermissionError:
            if sub != "mqueue" or not host_ipc:
                raise
            _host_mqueue(os.path.join(dev, sub))
        if not sub:
            _dev_nodes(dev, [*DEVICES, *extra], use_mknod)
            _dev_links(dev)


class Premade(NamedTuple):
    """/proc, /dev and the /sys/fs/cgroup (read-only hierarchies) of a container as detached
    mounts (fds), made by an embryo while it waits: a start attaches them instead of making
    them (~1.5 ms of its path here). The embryo has unshared its cgroup namespace first."""

    proc: int
    dev: int
    cgroups: int | None

    @classmethod
    def make(cls, hierarchies: list[tuple[str, str, str]], masked: Iterable[str],
             readonly: Iterable[str]) -> Premade | None:
        """With proc's ``masked`` and ``readonly`` entries (names under /proc) done as
        :func:`mask` and :func:`make_readonly` do them. None where the kernel cannot (before
        6.15 a mount cannot be attached to a detached one): the start then mounts them
        itself, as a clone's does."""
        made: list[int] = []
        try:
            made.append(premade_dev(pts_gid=5))
            made.append(premade_proc(masked, readonly, dev=made[0]))
            cgroups = premade_cgroups(hierarchies) if hierarchies else None
        except OSError:
            for fd in made:
                os.close(fd)
            return None
        return cls(made[1], made[0], cgroups)


def premade_dev(pts_gid: int) -> int:
    """:func:`mount_dev`'s tree for root (nodes by ``mknod``), not attached anywhere."""
    made: list[int] = []
    try:
        for sub, fstype, source, _flags, attrs, options in DEV_MOUNTS:
            fd = sc.new_mount(fstype, source, _dev_options(sub, options, pts_gid), attrs)
            made.append(fd)
            if not sub:
                dev = f"/proc/self/fd/{fd}"
                _dev_nodes(dev, DEVICES, True)
                _dev_links(dev)
            else:
                os.mkdir(sub, DEV_DIR_MODES[sub], dir_fd=made[0])
                sc.move_mount(fd, sub, made[0])
        return made.pop(0)
    finally:
        for fd in made:
            os.close(fd)


def premade_proc(masked: Iterable[str], readonly: Iterable[str], dev: int) -> int:
    """:func:`mount_proc`'s proc, of this process's PID namespace, not attached anywhere, with
    its ``masked`` entries hidden (a file behind ``dev``'s null, a directory behind an empty
    read-only tmpfs) and its ``readonly`` ones bound read-only."""
    proc = sc.new_mount("proc", "proc", None, ATTR_NOSUID_NODEV_NOEXEC)
    try:
        for name in masked:
            try:
                is_dir = stat.S_ISDIR(os.stat(name, dir_fd=proc).st_mode)
            except (FileNotFoundError, NotADirectoryError):
                continue
            cover = sc.new_mount("tmpfs", "tmpfs", "ro", sc.MOUNT_ATTR_RDONLY) if is_dir \
                else sc.clone_mount(dev, "null")
            _attach_closing(cover, name, proc)
        for name in readonly:
            try:
                copy = sc.clone_mount(proc, name)
            except (FileNotFoundError, NotADirectoryError):
                continue
            try:
                sc.set_mount_attrs(copy, sc.MOUNT_ATTR_RDONLY)
            except BaseException:
                os.close(copy)
                raise
            _attach_closing(copy, name, proc)
    except BaseException:
        os.close(proc)
        raise
    return proc


def _attach_closing(fd: int, target: str, dir_fd: int) -> None:
    try:
        sc.move_mount(fd, target, dir_fd)
    finally:
        os.close(fd)


def premade_cgroups(hierarchies: Iterable[tuple[str, str, str]]) -> int:
    """:func:`mount_cgroups`' tree with read-only hierarchies, of this process's cgroup
    namespace, not attached anywhere."""
    base = sc.new_mount("tmpfs", "tmpfs", "mode=755", ATTR_NOSUID_NODEV_NOEXEC)
    try:
        for name, fstype, options in hierarchies:
            os.mkdir(name, 0o555, dir_fd=base)
            _attach_closing(sc.new_mount(fstype, _cgroup_source(name), options or None,
                                         ATTR_NOSUID_NODEV_NOEXEC | sc.MOUNT_ATTR_RDONLY),
                            name, base)
    except BaseException:
        os.close(base)
        raise
    return base


def _dev_options(sub: str, options: str, pts_gid: int | None) -> str:
    return options + (f",gid={pts_gid}" if sub == "pts" and pts_gid is not None else "")


def _dev_nodes(dev: str, names: Iterable[str], use_mknod: bool) -> None:
    umask = os.umask(0)  # the nodes are made 0666 as they are, without a chmod each
    try:
        for name in names:
            _device(dev, name, use_mknod)
    finally:
        os.umask(umask)


def _dev_links(dev: str) -> None:
    for name, target in DEV_LINKS.items():
        if name != "core" or os.path.exists("/proc/kcore"):
            os.symlink(target, os.path.join(dev, name))


def _device(dev: str, name: str, use_mknod: bool) -> None:
    host = os.path.join("/dev", name)
    target = os.path.join(dev, name)
    if use_mknod:
        st = os.stat(host) if name not in DEVICES else None
        kind = stat.S_IFCHR if st is None or stat.S_ISCHR(st.st_mode) else stat.S_IFBLK
        rdev = os.makedev(*DEVICES[name]) if st is None else st.st_rdev
        os.mknod(target, kind | 0o666, rdev)  # the caller's umask is 0
        return
    # inside a user namespace mknod is forbidden: bind the host's node instead
    ensure_file(target)
    sc.mount(host, target, None, sc.MS_BIND)


def host_devices() -> list[str]:
    """Every top-level device node of the host (``--privileged`` gets them all)."""
    names = []
    for entry in os.scandir("/dev"):
        mode = entry.stat(follow_symlinks=False).st_mode
        if (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) and entry.name not in DEVICES \
                and entry.name not in ("ptmx", "console"):
            names.append(entry.name)
    return sorted(names)


class MountError(OSError):
    """A container's mount refused in runc's words: ``error during container init: error
    mounting "<source>" to rootfs at "<target>": <why>`` (a tmpfs' source is ``tmpfs``)."""

    def __init__(self, code: int, source: str, target: str, why: str) -> None:
        super().__init__(code, f'error during container init: error mounting "{source}" to '
                               f'rootfs at "{target}": {why}')


class BindSourceError(MountError):
    """A bind's source cannot be stat'ed at a start, in runc's words (exit code 127, from
    ENOENT's or ENOTDIR's): a restart, or a restart policy's start, meets a ``--mount`` source
    removed since the create (``docker start`` refuses it first:
    ``volumes.manager.verify_sources``), any start a ``-v`` path through a file."""

    def __init__(self, code: int, source: str, target: str) -> None:
        super().__init__(code, source, target, f"stat {source}: {os.strerror(code).lower()}")


def go_mkdir_all(path: str, mode: int = 0o755) -> None:
    """Go's ``os.MkdirAll`` as runc calls it, its error naming the part whose mkdir failed:
    ``mkdir /proc/foo: no such file or directory`` (procfs refuses), ``mkdir /sys/x:
    read-only file system``, ``mkdir /etc/mtab: not a directory`` (a link to a file, followed)."""
    try:
        if stat.S_ISDIR(os.stat(path).st_mode):
            return
        failed = errno.ENOTDIR
    except OSError:
        parent = path.rstrip("/").rpartition("/")[0]
        if parent:
            go_mkdir_all(parent, mode)
        try:
            os.mkdir(path, mode)
            return
        except OSError as exc:
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(os.lstat(path).st_mode):
                    return
            failed = exc.errno or errno.EIO
    raise OSError(failed, f"mkdir {path}: {os.strerror(failed).lower()}")


# what runc lets a bind cover under /proc: the files lxcfs emulates
_PROC_BINDABLE: Final = ("cpuinfo", "diskstats", "meminfo", "stat", "swaps", "uptime", "loadavg",
                         "slabinfo", "net/dev", "sys/kernel/ns_last_pid")


def check_proc_mount(root: str, source: str, target: str, dest: str) -> None:
    """runc's ``checkProcMount`` for a bind: none at the container's /proc but of a proc file
    system (the host's /proc, here), none below it but over a file lxcfs emulates."""
    below = os.path.relpath(dest, os.path.join(root, "proc"))
    if below.startswith(".."):
        return
    if below == "." and os.path.realpath(source) != "/proc":
        raise MountError(errno.EINVAL, source, target,
                         f'"{dest}" cannot be mounted because it is not of type proc')
    if below != "." and below not in _PROC_BINDABLE:
        raise MountError(errno.EINVAL, source, target,
                         f'"{dest}" cannot be mounted because it is inside /proc')


def bind(root: str, source: str, target: str, read_only: bool, recursive: bool = True,
         subpath: str = "", propagation: str = "") -> None:
    """A ``--mount type=bind``; the mountpoint is created with the source's kind. With a
    volume's ``subpath`` the source is what :func:`open_beneath` opens below ``source``.
    ``propagation``: a word of :data:`PROPAGATION_FLAGS`; "" (a volume's) leaves the bind as
    it was made, as runc does: a slave of what the source's mount is a slave of (under the
    default ``rslave`` root, the daemon root's shared mount: ``master:N``)."""
    with _source_beneath(source, subpath) as path:
        _check_source(path, target)
        dest = _mountpoint(root, source, target, os.path.isdir(path))
        sc.mount(path, dest, None, sc.MS_BIND | (sc.MS_REC if recursive else 0))
    if read_only:
        remount_readonly(dest)
    propagate(dest, propagation)


def propagate(path: str, propagation: str) -> None:
    """The mount at ``path`` given ``propagation`` (runc's, after the bind); "" changes
    nothing, as runc applies no flag to a mount without one (dockerd gives every bind a word,
    a volume none)."""
    if propagation:
        sc.mount(None, path, None, PROPAGATION_FLAGS[propagation])


@contextlib.contextmanager
def _source_beneath(source: str, subpath: str) -> Iterator[str]:
    """A bind's source: ``source`` itself, or with a ``subpath`` the fd :func:`open_beneath`
    opened below it (as a ``/proc/self/fd`` path, closed after the block)."""
    if not subpath:
        yield source
        return
    fd = open_beneath(source, subpath)
    try:
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def open_beneath(base: str, subpath: str) -> int:
    """An ``O_PATH`` fd of ``subpath`` below the directory ``base`` that no symlink, magic link
    or ``..`` out of ``base`` led to: the kernel refuses them during the walk (``openat2``), so
    the path checked is the one mounted (a volume's subpath: :mod:`dockyard.volumes.subpath`
    resolved its links first). Refused: ELOOP (a link), EXDEV (out of ``base``), ENOENT."""
    top = os.open(base, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        return sc.openat2(top, subpath, os.O_PATH | os.O_CLOEXEC, sc.RESOLVE_BENEATH
                          | sc.RESOLVE_NO_SYMLINKS | sc.RESOLVE_NO_MAGICLINKS)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot access path {os.path.join(base, subpath)}: "
                      f"{os.strerror(exc.errno or 0).lower()}") from None
    finally:
        os.close(top)


def _check_source(source: str, target: str) -> None:
    try:
        os.stat(source)
    except OSError as exc:
        raise BindSourceError(exc.errno or errno.ENOENT, source, target) from None


def _mountpoint(root: str, source: str, target: str, is_dir: bool) -> str:
    """A bind's mountpoint made as runc's ``prepareBindMount`` makes it (after its /proc
    check), refused in its words."""
    dest = in_root(root, target)
    check_proc_mount(root, source, target, dest)
    try:
        go_mkdir_all(dest if is_dir else os.path.dirname(dest))
        if not is_dir and not os.path.exists(dest):
            try:
                os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
            except OSError as exc:
                raise OSError(exc.errno, f"open {dest}: {os.strerror(exc.errno or 0).lower()}") from None
    except OSError as exc:
        raise MountError(exc.errno or errno.EIO, source, target, str(exc.strerror)) from None
    return dest


class MadeBind(NamedTuple):
    """A bind mount's source as a detached copy (``fd``), made where the source can be reached,
    for an init that may not reach it (:func:`premade_bind`, :func:`attach_bind`)."""

    fd: int
    is_dir: bool


def premade_bind(source: str, target: str, read_only: bool, recursive: bool = True,
                 subpath: str = "") -> MadeBind:
    """:func:`bind`'s mount, not attached anywhere yet (``target`` names it in an error)."""
    with _source_beneath(source, subpath) as path:
        _check_source(path, target)
        fd = sc.clone_mount(sc.AT_FDCWD, path, recursive)
        is_dir = os.path.isdir(path)
    try:
        if read_only:
            sc.set_mount_attrs(fd, sc.MOUNT_ATTR_RDONLY)
        return MadeBind(fd, is_dir)
    except BaseException:
        os.close(fd)
        raise


def attach_bind(root: str, made: MadeBind, source: str, target: str, propagation: str = "") -> None:
    """Attach a :func:`premade_bind` of ``source`` at ``target`` in ``root``, given its
    ``propagation`` as :func:`bind`'s is. "" (a volume's) is ``rslave`` here: the copy was
    made in the daemon's namespace, a peer of the source's shared mount (a mount under it would
    reach the host); :func:`bind`'s copy of that mount in the container's ``rslave`` root is
    its slave, and so is this one then."""
    dest = _mountpoint(root, source, target, made.is_dir)
    sc.move_mount(made.fd, dest)
    os.close(made.fd)
    propagate(dest, propagation or "rslave")


# tmpfs option words that set or clear mount flags rather than being tmpfs data (``--tmpfs
# /run:exec,size=64m``): Docker starts from noexec,nosuid,nodev and lets the words override
_TMPFS_SET: Final = {"ro": sc.MS_RDONLY, "noexec": sc.MS_NOEXEC, "nosuid": sc.MS_NOSUID,
                     "nodev": sc.MS_NODEV, "noatime": sc.MS_NOATIME}
_TMPFS_CLEAR: Final = {"rw": sc.MS_RDONLY, "exec": sc.MS_NOEXEC, "suid": sc.MS_NOSUID,
                       "dev": sc.MS_NODEV, "atime": sc.MS_NOATIME}


def tmpfs(root: str, target: str, options: list[str], read_only: bool) -> None:
    """A tmpfs as runc mounts one: writable, then given the mode of the directory it covers,
    if there was one (runc's chmod: over busybox's /home it is 755 whatever ``mode=`` says; a
    second tmpfs at one place takes the first's), then made read-only if asked by a bind
    remount (its superblock stays rw)."""
    dest = in_root(root, target)
    try:
        covered = os.stat(dest).st_mode
    except FileNotFoundError:
        covered = 0
    if not covered:  # runc makes it only if missing (a file is left to the mount)
        try:
            go_mkdir_all(dest)
        except OSError as exc:
            raise MountError(exc.errno or errno.EIO, "tmpfs", target, str(exc.strerror)) from None
    elif not stat.S_ISDIR(covered):
        ensure_dir(dest)  # refused
    flags = NOSUID_NODEV_NOEXEC | (sc.MS_RDONLY if read_only else 0)
    data = []
    for word in options:
        if word in _TMPFS_SET:
            flags |= _TMPFS_SET[word]
        elif word in _TMPFS_CLEAR:
            flags &= ~_TMPFS_CLEAR[word]
        elif word not in ("rprivate", "private", "shared", "rshared", "slave", "rslave"):
            data.append(word)
    sc.mount("tmpfs", dest, "tmpfs", flags & ~sc.MS_RDONLY, ",".join(data) or None)
    if covered:
        os.chmod(dest, stat.S_IMODE(covered))
    if flags & sc.MS_RDONLY:
        remount_readonly(dest)


def pivot(root: str) -> None:
    """Make ``root`` the new ``/`` and detach the old one (pivot_root(".", ".") needs no
    put_old directory inside the image), made a slave first as runc does: a copy of a host
    mount it holds may share the host's peer group (a ``shared`` root's), and the detach
    would unmount the host's own then. The new ``/`` keeps what it has: runc gives a
    ``shared`` or ``rslave`` root propagation no second time after its pivot (dockerd's
    container with an ``rshared`` bind has a private ``/``)."""
    old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.chdir(root)
        sc.pivot_root(".", ".")
        os.fchdir(old)  # "." named our new root for mount(2); the old one is stacked on it
    finally:
        os.close(old)
    sc.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC)
    sc.umount2(".", sc.MNT_DETACH)
    os.chdir("/")


def _kept_flags(path: str) -> int:
    bits = os.statvfs(path).f_flag
    return sum(ms for st, ms in _KEEP_FLAGS if bits & st)


def remount_readonly(path: str) -> None:
    flags = _kept_flags(path) | sc.MS_RDONLY
    sc.mount(None, path, None, sc.MS_REMOUNT | sc.MS_BIND | flags)


def mask(paths: Iterable[str]) -> None:
    """Hide each existing path: files behind /dev/null, directories behind an empty ro tmpfs
    (of the default size, as runc mounts it: ``df`` in the container shows its size)."""
    for path in paths:
        try:
            is_dir = stat.S_ISDIR(os.stat(path).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if is_dir:
            sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY, None)
        else:
            sc.mount("/dev/null", path, None, sc.MS_BIND)


def make_readonly(paths: Iterable[str]) -> None:
    for path in paths:
        try:
            sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                continue
            raise
        remount_readonly(path)


def host_shm(path: str, size: int, owner: tuple[int, int] | None = None) -> None:
    """A shareable container's /dev/shm: a tmpfs mounted where the daemon runs, as dockerd's
    ``setupIpcDirs`` mounts it, for the container and its ``--ipc container:`` joiners to
    bind (a mount in another mount namespace cannot be bound). One mounted already — a
    daemon restarted meanwhile, a start failed after it — is kept. ``owner``: the host ids
    the directory, its parent and the tmpfs get (dockerd's ``MkdirAllAndChown`` and chown
    for a remapped root)."""
    os.makedirs(path, 0o700, exist_ok=True)
    if not os.path.ismount(path):
        sc.mount("shm", path, "tmpfs", NOSUID_NODEV_NOEXEC, f"mode=1777,size={size}")
    if owner is not None:
        os.chown(os.path.dirname(path), *owner)
        os.chown(path, *owner)


def release_shm(path: str) -> None:
    """:func:`host_shm`'s tmpfs unmounted (detached: a joiner may hold it yet)."""
    if os.path.ismount(path):
        sc.umount2(path, sc.MNT_DETACH)
