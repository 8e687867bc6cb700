"""The file-system work of a build step: RUN in a container, COPY/ADD/WORKDIR through an
overlay mount, each leaving its changes in a fresh upper dir that becomes the step's layer.

An upper dir lives in ``snapshots/tmp-*`` (:func:`dockyard.store.diff.scratch_dir`) so the
layer can be adopted as its snapshot without unpacking; a failed step removes it, and the
store's crash recovery removes what a crash leaves. COPY mounts the overlay in the daemon's
own mount namespace only for the duration of the copy (``umount`` in ``finally``); RUN's
overlay exists only inside the container's mount namespace.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import DEFAULT_SHM_SIZE
from ..containers.create import limits, rlimits, seccomp_setting, shm_mounts
from ..containers.runtime import Container, Runtime
from ..containers.spec import ContainerSpec, Mount, User
from ..linux import cgroups, overlay, syscalls
from ..linux.idmap import UserNamespace
from ..linux.mounts import in_root
from ..linux.users import resolve as resolve_user
from ..network import files as netfiles
from ..store.diff import scratch_dir
from ..store.owners import StoreIdMap, to_host
from ..store.snapshots import SnapshotStore, unpack
from .errors import BuildError, StepFailed

Emit = Callable[[str], None]


@contextlib.contextmanager
def mounted(lower_dirs: list[str], upper: Path | None, work: Path | None,
            target: Path) -> Iterator[Path]:
    """The overlay of ``lower_dirs`` (+ ``upper`` when given) on ``target``, unmounted after."""
    lowers = lower_dirs or [str(_empty_dir(target.parent))]
    if upper is None:
        if len(lowers) == 1:
            yield Path(lowers[0])
            return
        data = "lowerdir=" + ":".join(reversed(lowers))
        syscalls.mount("overlay", str(target), "overlay", syscalls.MS_RDONLY, data)
    else:
        assert work is not None
        overlay.mount(lowers, str(upper), str(work), str(target))
    try:
        yield target
    finally:
        syscalls.umount2(str(target), syscalls.MNT_DETACH)


def _empty_dir(parent: Path) -> Path:
    path = parent / "empty"
    path.mkdir(exist_ok=True)
    return path


@contextlib.contextmanager
def image_rootfs(snapshots: SnapshotStore, lower_dirs: list[str]) -> Iterator[Path]:
    """A read-only view of an image's file system (for COPY --from and bind mounts)."""
    tmp = Path(tempfile.mkdtemp(prefix="tmp-ro-", dir=snapshots.root))
    (tmp / "merged").mkdir()
    try:
        with mounted(lower_dirs, None, None, tmp / "merged") as root:
            yield root
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- COPY / ADD ----------------------------------------------------------------------------


@dataclass
class CopyOp:
    """One COPY/ADD: source paths (already resolved on the host), destination as written."""

    sources: list[Path]
    dest: str
    workdir: str
    owner: tuple[int, int] | None = None  # None: root (classic) unless from the archive
    chmod: int | None = None
    extract_archives: bool = False
    contents: list[tuple[str, bytes]] = field(default_factory=list)  # heredoc files
    excludes: list[str] = field(default_factory=list)  # --exclude, relative to each source
    parents_root: Path | None = None  # --parents: keep paths relative to this root
    link: bool = False  # sources are private files on the upper dir's file system
    downloads: frozenset[Path] = frozenset()  # ADD <URL> files: copied as they are
    notes: list[str] = field(default_factory=list)  # for the build output (owners not kept)
    id_map: StoreIdMap | None = None  # the store's id map (--userns-remap: an ADDed archive's owners shifted)

    def extracts(self, src: Path) -> bool:
        """ADD unpacks a local tar archive (never a downloaded one)."""
        return self.extract_archives and src not in self.downloads and _is_archive(src)

    def excluded(self, rel: str) -> bool:
        if not self.excludes:
            return False
        from .dockerignore import DockerIgnore

        return DockerIgnore(self.excludes).matches(rel)


def dest_path(dest: str, workdir: str) -> tuple[str, bool]:
    """The absolute destination and whether it names a directory (trailing slash)."""
    is_dir = dest.endswith("/") or dest in (".", "")
    if not dest.startswith("/"):
        dest = os.path.join(workdir or "/", dest)
    return os.path.normpath(dest), is_dir


@dataclass
class Roots:
    """Where a COPY resolves paths (``view``: the parent image's file system, symlinks
    followed inside it) and where it writes (``upper``: the step's upper dir, written directly,
    no overlay mounted over it). A directory the copy enters that exists below is created in
    the upper dir with its owner and mode, as an overlay copy-up would."""

    view: Path
    upper: Path
    root_owner: tuple[int, int] = (0, 0)  # the host ids of the container's root (remapped)

    def target(self, path: str) -> Path:
        resolved = in_root(str(self.view), path)
        return self.upper / os.path.relpath(resolved, self.view)

    def is_dir(self, path: str) -> bool:
        return self.target(path).is_dir() or Path(in_root(str(self.view), path)).is_dir()

    def makedirs(self, path: str) -> None:
        current = "/"
        for part in [p for p in path.split("/") if p]:
            current = os.path.join(current, part)
            real = self.target(current)
            if real.is_dir():
                continue
            below = Path(in_root(str(self.view), current))
            real.mkdir(mode=0o755)
            if below.is_dir():
                st = below.stat()
                os.chown(real, st.st_uid, st.st_gid)
                os.chmod(real, stat.S_IMODE(st.st_mode))
            else:
                os.chown(real, *self.root_owner)


def apply_copy(roots: Roots, op: CopyOp) -> None:
    dest, dest_is_dir = dest_path(op.dest, op.workdir)
    many = len(op.sources) + len(op.contents) > 1
    if op.parents_root is not None:
        for src in op.sources:
            rel = os.path.relpath(src, op.parents_root)
            parent = os.path.join(dest, os.path.dirname(rel))
            roots.makedirs(parent)
            _copy_into(src, roots.target(parent), op)
        return
    if many or dest_is_dir or roots.is_dir(dest):
        roots.makedirs(dest)
        target = roots.target(dest)
        for src in op.sources:
            if not op.excluded(src.name):
                _copy_into(src, target, op)
        for name, data in op.contents:
            _write_file(target / name, data, op)
        return
    roots.makedirs(os.path.dirname(dest))
    target = roots.target(dest)
    for src in op.sources:
        if src.is_dir() and not src.is_symlink():
            roots.makedirs(dest)
            _copy_tree_contents(src, target, op)
        elif op.extracts(src):
            roots.makedirs(dest)
            _extract(src, target, op)
        else:
            _copy_one(src, target, op)
    for _name, data in op.contents:
        _write_file(target, data, op)


def _copy_into(src: Path, target_dir: Path, op: CopyOp) -> None:
    if src.is_dir() and not src.is_symlink():
        _copy_tree_contents(src, target_dir, op)
    elif op.extracts(src):
        _extract(src, target_dir, op)
    else:
        _copy_one(src, target_dir / src.name, op)


def _copy_tree_contents(src: Path, target: Path, op: CopyOp, rel: str = "") -> None:
    """``COPY dir /dst`` copies the directory's contents, and the directory's own metadata."""
    if not target.is_dir():
        _remove(target)
        target.mkdir()
    for name in sorted(os.listdir(src)):
        child, child_rel = src / name, f"{rel}/{name}" if rel else name
        if op.excluded(child_rel):
            continue
        if child.is_dir() and not child.is_symlink():
            _copy_tree_contents(child, target / name, op, child_rel)
        else:
            _copy_one(child, target / name, op)
    _finish(src, target, op, is_dir=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def _copy_one(src: Path, target: Path, op: CopyOp) -> None:
    st = os.lstat(src)
    if os.path.lexists(target):
        _remove(target)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), target)
        uid, gid = op.owner or (0, 0)
        os.chown(target, uid, gid, follow_symlinks=False)
        os.utime(target, ns=(st.st_mtime_ns, st.st_mtime_ns), follow_symlinks=False)
        return
    if not stat.S_ISREG(st.st_mode):
        raise BuildError(f"cannot copy {src.name}: not a regular file, directory or symlink")
    if op.link and _linkable(st, op):
        try:
            os.link(src, target)
            return
        except OSError:
            pass  # another file system: copy
    shutil.copyfile(src, target, follow_symlinks=False)
    _finish(src, target, op, is_dir=False)


def _linkable(st: os.stat_result, op: CopyOp) -> bool:
    """A context file already has what COPY gives it (root owner, its mode and mtime), so it
    can be hard-linked into the layer instead of copied (the context is private and is
    deleted after the build; snapshots are never written to)."""
    if op.chmod is not None:
        return False
    return (st.st_uid, st.st_gid) == (op.owner or (0, 0)) and not st.st_mode & 0o6000


def _finish(src: Path, target: Path, op: CopyOp, is_dir: bool) -> None:
    st = os.lstat(src)
    uid, gid = op.owner or (0, 0)
    os.chown(target, uid, gid)
    os.chmod(target, op.chmod if op.chmod is not None else stat.S_IMODE(st.st_mode))
    os.utime(target, ns=(st.st_mtime_ns, st.st_mtime_ns))


def _write_file(target: Path, data: bytes, op: CopyOp) -> None:
    if os.path.lexists(target):
        _remove(target)
    target.write_bytes(data)
    uid, gid = op.owner or (0, 0)
    os.chown(target, uid, gid)
    os.chmod(target, op.chmod if op.chmod is not None else 0o644)


_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


def _is_archive(path: Path) -> bool:
    """ADD extracts local tar archives (plain or compressed), as Docker does."""
    if not path.is_file() or path.is_symlink():
        return False
    with open(path, "rb") as f:
        head = f.read(512)
    if any(head.startswith(m) for m in _ARCHIVE_MAGIC):
        return True
    return len(head) == 512 and head[257:262] == b"ustar"


def _extract(src: Path, target: Path, op: CopyOp) -> None:
    from ..store.compression import ChunkStream, decompressed_chunks

    target.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as f:
        result = unpack(ChunkStream(decompressed_chunks(f)), target, what=f"ADD {src.name}",
                        layer=False, id_map=op.id_map)
    if result.unmapped:
        op.notes.append(result.unmapped)


def resolve_owner(chown: str, root: Path) -> tuple[int, int] | None:
    """``--chown user[:group]`` through the destination image's /etc/passwd and /etc/group."""
    if not chown:
        return None
    try:
        user = resolve_user(chown, [str(root)])
    except Exception as exc:  # noqa: BLE001 - any lookup failure is the user's input
        raise BuildError(str(exc)) from None
    return user.uid, user.gid


# ---- RUN -------------------------------------------------------------------------------------


@dataclass
class RunOp:
    argv: list[str]
    env: list[str]
    workdir: str
    user: str
    network: str = "none"
    mounts: list[Mount] = field(default_factory=list)
    created_by: str = ""
    ulimits: list[dict[str, Any]] = field(default_factory=list)  # the build's --ulimit
    shm_size: int = 0  # the build's --shm-size (0: the daemon's)
    resources: dict[str, Any] = field(default_factory=dict)  # the build's --memory, --cpu-*
    cgroup_parent: str = ""  # the build's --cgroup-parent, as given ("": the daemon's)
    hostname: str = ""  # "": the container's short id (the host's name with --network host)


DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class DaemonDefaults:
    """The daemon's container defaults, which every RUN step gets: dockerd's classic builder
    runs a RUN in an ordinary container (created and started through the daemon's own
    paths), so its ``--default-ulimit``s, ``--seccomp-profile``, ``--default-shm-size`` and
    ``--dns``/``--dns-search``/``--dns-opt`` apply as to any container that names none of
    them: after the build's own ``--ulimit``s and ``--shm-size`` (:class:`RunOp`), which go
    into that container's HostConfig."""

    ulimits: dict[str, dict[str, Any]] = field(default_factory=dict)
    seccomp_profile: tuple[str, str] = ("", "")  # --seccomp-profile as given, its file's text
    shm_size: int = DEFAULT_SHM_SIZE
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    userns: UserNamespace | None = None  # --userns-remap: a RUN is remapped as any container

    @classmethod
    def of(cls, config: Any) -> DaemonDefaults:
        """From the daemon's configuration (``DaemonConfig``; anything lacking a field: its
        default)."""
        return cls(dict(getattr(config, "default_ulimits", None) or {}),
                   (getattr(config, "seccomp_profile", ""), getattr(config, "seccomp_text", "")),
                   getattr(config, "default_shm_size", DEFAULT_SHM_SIZE),
                   list(getattr(config, "dns", None) or []),
                   list(getattr(config, "dns_search", None) or []),
                   list(getattr(config, "dns_opts", None) or []),
                   getattr(getattr(config, "remapped", None), "ns", None))

    def apply(self, spec: ContainerSpec, op: RunOp) -> None:
        """Limits (under the build's cgroup parent), seccomp program and /dev/shm, as a
        container's start resolves them from the step's own settings and these (a profile that
        does not compile fails the step with dockerd's words)."""
        spec.rlimits = rlimits({"Ulimits": op.ulimits}, self.ulimits)
        resources = dict(op.resources)
        if resources.get("Memory") and not resources.get("MemorySwap"):
            resources["MemorySwap"] = resources["Memory"] * 2  # dockerd's default, as at create
        spec.limits = limits(resources)
        if op.cgroup_parent:  # dockerd's cgroupfs driver places it as runc does
            spec.cgroup_parent = cgroups.resolve_parent(op.cgroup_parent)
        spec.seccomp = seccomp_setting({}, self.seccomp_profile)
        spec.mounts = [*shm_mounts(op.shm_size or self.shm_size), *spec.mounts]
        spec.userns = self.userns


ETC_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/hostname")


def etc_mounts(directory: Path, hostname: str, network: str,
               defaults: DaemonDefaults, extra_hosts: Sequence[str] = ()) -> list[Mount]:
    """The step container's /etc/resolv.conf (with the daemon's ``--dns*``), /etc/hosts (with
    the build's ``--add-host`` entries, ``name:ip``) and /etc/hostname, written in ``directory``
    and bound over the image's, as dockerd gives every container its sandbox's files — so what
    a RUN writes to them stays out of the layer."""
    host_mode = network == "host"
    extra = [(ip, name) for name, _, ip in (str(h).partition(":") for h in extra_hosts)]
    texts = (netfiles.container_resolv_conf(host_mode, defaults.dns, defaults.dns_search,
                                            defaults.dns_options),
             netfiles.host_mode_hosts(extra) if host_mode else netfiles.hosts([], [], extra),
             hostname + "\n")
    mounts = []
    for target, text in zip(ETC_FILES, texts, strict=True):
        source = directory / os.path.basename(target)
        netfiles.write(source, text, None if defaults.userns is None else to_host(defaults.userns, 0, 0))
        mounts.append(Mount("bind", target, str(source)))
    return mounts


def step_env(env: list[str], hostname: str, home: str) -> list[str]:
    """A RUN container's environment as dockerd builds it: ``PATH`` (default unless set) and
    ``HOSTNAME`` first, the step's variables replacing or appending, then ``HOME`` from the
    user's passwd entry unless set (runc's rule: ``/`` for a user without one)."""
    out = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"]
    index = {e.partition("=")[0]: i for i, e in enumerate(out)}
    for entry in env:
        key = entry.partition("=")[0]
        if key in index:
            out[index[key]] = entry
        else:
            index[key] = len(out)
            out.append(entry)
    if "HOME" not in index:
        out.append(f"HOME={home}")
    return out


def _pump(fd: int, emit: Emit) -> None:
    """Forward output as it comes; a UTF-8 character split across reads stays whole."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    try:
        while chunk := os.read(fd, 65536):
            text = decoder.decode(chunk)
            if text:
                emit(text)
        tail = decoder.decode(b"", final=True)
        if tail:
            emit(tail)
    finally:
        os.close(fd)


def run_container(runtime: Runtime, lower_dirs: list[str], scratch: Path, op: RunOp,
                  emit: Emit, container_id: str,
                  track: Callable[[Container | None], None] | None = None,
                  defaults: DaemonDefaults | None = None) -> None:
    """Run ``op`` in a container whose upper dir is ``scratch/fs``, with the daemon's
    ``defaults``; raise StepFailed on a non-zero exit. The container and its cgroup are gone
    when this returns."""
    lowers = lower_dirs or [str(_empty_dir(scratch))]
    user = resolve_user(op.user, [str(scratch / "fs"), *reversed(lowers)])
    hostname = op.hostname or container_id[:12]
    spec = ContainerSpec(
        id=container_id, lower_dirs=lowers, upper_dir=str(scratch / "fs"),
        work_dir=str(scratch / "work"), rootfs_dir=str(scratch / "merged"), args=op.argv,
        env=step_env(op.env, hostname, user.home), cwd=op.workdir or "/", hostname=hostname,
        user=User(user.uid, user.gid, list(user.additional_gids)), network=op.network,
        mounts=list(op.mounts))
    (defaults or DaemonDefaults()).apply(spec, op)
    read_fd, write_fd = os.pipe()
    reader = threading.Thread(target=_pump, args=(read_fd, emit), daemon=True)
    reader.start()
    try:
        container = runtime.start(spec, stdout=write_fd, stderr=write_fd)
    except BaseException:
        os.close(write_fd)
        reader.join()
        raise
    os.close(write_fd)
    if track is not None:
        track(container)  # a cancelled build kills it
    try:
        status = container.wait()
    finally:
        container.cleanup()
        reader.join()
        if track is not None:
            track(None)
    if status.exit_code != 0:
        raise StepFailed(" ".join(op.argv), status.exit_code)


def new_scratch(snapshots: SnapshotStore) -> Path:
    return scratch_dir(snapshots)


def container_id() -> str:
    return secrets.token_hex(32)


def upper_is_empty(scratch: Path) -> bool:
    return not any(os.scandir(scratch / "fs"))
