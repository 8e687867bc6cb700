"""The build context on the daemon side: the uploaded tar unpacked into a private directory,
and the content digests the cache keys use.

The context arrives as a tar (plain, gzip, bzip2, xz or zstd), unpacked with the layer
unpacker (never follows a symlink out of the directory, rejects ``..``). ``.dockerignore`` is
applied again here once the Dockerfile has been read, so a client that did not filter gets the
same build. A context is not a layer: a ``.wh.``-prefixed file is just a file.

Digests are what Docker's cache considers: file content, mode, uid/gid, symlink targets and
the paths inside a copied directory — never mtimes, so ``touch`` changes no cache key.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..store.compression import ChunkStream, decompressed_chunks
from ..store.diff import walk
from ..store.snapshots import unpack
from .dockerignore import DockerIgnore
from .errors import BuildError


class ContextError(BuildError):
    """A COPY/ADD source that is missing or outside the context."""


class BuildContext:
    """A context directory (owned: removed by :meth:`close`) and its digests."""

    def __init__(self, root: Path, owned: bool = True) -> None:
        self.root = root
        self.owned = owned
        self._digests: dict[str, str] = {}
        self.unsent: frozenset[str] = frozenset()  # see apply_dockerignore

    @classmethod
    def from_tar(cls, stream: BinaryIO, parent: Path) -> BuildContext:
        root = _context_dir(parent)
        try:
            unpack(ChunkStream(_with_trailer(decompressed_chunks(stream))), root, layer=False)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return cls(root)

    @classmethod
    def empty(cls, parent: Path) -> BuildContext:
        return cls(_context_dir(parent))

    def close(self) -> None:
        """Remove the directory in the background: unlinking thousands of files can take
        seconds on a disk mounted with ``discard`` and must not delay the build's answer
        (the builder empties its tmp dir on start, so a crash leaves nothing)."""
        if self.owned and self.root.exists():
            trash = self.root.with_name("trash-" + self.root.name)
            os.rename(self.root, trash)
            threading.Thread(target=shutil.rmtree, args=(trash, True), daemon=True,
                             name="context-cleanup").start()

    def apply_dockerignore(self) -> None:
        """After the Dockerfile is read (the CLI's ``-f -`` lists its own Dockerfile there)."""
        ignore_file = self.root / ".dockerignore"
        if not ignore_file.is_file():
            return
        ignore = DockerIgnore.from_file(ignore_file)
        keep = set(ignore.walk(self.root))
        unsent = set()
        for rel, st in sorted(walk(str(self.root)), reverse=True):
            if rel in keep or rel in (".dockerignore",):
                continue
            path = self.root / rel
            if stat.S_ISDIR(st.st_mode):
                if not any(k.startswith(rel + "/") for k in keep):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    unsent.add(rel)
            else:
                path.unlink(missing_ok=True)
        self.unsent = frozenset(unsent)

    def read_dockerfile(self, name: str) -> bytes:
        path = self.resolve(name or "Dockerfile", follow=True)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            shown = name or "Dockerfile"
            raise ContextError(
                f"Cannot locate specified Dockerfile: {shown}") from None

    # ---- paths -------------------------------------------------------------------------------

    def resolve(self, rel: str, follow: bool = True) -> Path:
        """``rel`` inside the context, symlinks resolved inside it; escaping is an error."""
        from ..linux.mounts import in_root

        clean = os.path.normpath("/" + rel).lstrip("/")
        if not follow:
            return self.root / clean if clean else self.root
        return Path(in_root(str(self.root), clean))

    def sources(self, pattern: str) -> list[Path]:
        """Paths a COPY source names: a wildcard expands (sorted); a missing one is an error."""
        clean = os.path.normpath("/" + pattern).lstrip("/")
        if not _has_magic(clean):
            path = self.resolve(clean)
            if not os.path.lexists(path):
                raise ContextError(f"COPY failed: file not found in build context or excluded "
                                   f"by .dockerignore: stat {clean or '.'}: file does not exist")
            return [path]
        found = [self.root / rel for rel in _glob(str(self.root), clean)]
        if not found:
            raise ContextError("COPY failed: no source files were specified")
        return found

    # ---- digests -----------------------------------------------------------------------------

    def digest(self, path: Path) -> str:
        """:func:`classic_hash` of a source (cached per path for this build)."""
        key = str(path)
        found = self._digests.get(key)
        if found is None:
            found = classic_hash(self.root, path, unsent=self.unsent)
            self._digests[key] = found
        return found


def _context_dir(parent: Path) -> Path:
    """A fresh context root with mode 0755, as dockerd extracts it: ``COPY . /dst`` gives
    ``/dst`` the root's mode (mkdtemp's 0700 would leak into the image and its ``dir:`` hash)."""
    parent.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="context-", dir=parent))
    root.chmod(0o755)
    return root


def _with_trailer(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The docker CLI's ``-f -`` context ends without tar's two zero blocks (Go's reader
    takes EOF at a header boundary as the end): supply them; extra zeros are ignored."""
    yield from chunks
    yield b"\0" * 1024


def _has_magic(text: str) -> bool:
    return any(c in text for c in "*?[")


def _glob(root: str, pattern: str) -> list[str]:
    """Docker's COPY wildcards: filepath.Match per path component."""
    parts = pattern.split("/")
    current = [""]
    for part in parts:
        nxt = []
        for base in current:
            folder = os.path.join(root, base) if base else root
            try:
                names = sorted(os.listdir(folder))
            except (NotADirectoryError, FileNotFoundError):
                continue
            for name in names:
                if fnmatch.fnmatchcase(name, part) if _has_magic(part) else name == part:
                    nxt.append(f"{base}/{name}" if base else name)
        current = nxt
    return current


_TYPEFLAGS = {stat.S_IFREG: "0", stat.S_IFLNK: "2", stat.S_IFCHR: "3", stat.S_IFBLK: "4",
              stat.S_IFDIR: "5", stat.S_IFIFO: "6"}


def _names(st: os.stat_result) -> tuple[str, str]:
    """User and group names of an owner, looked up on this host (as Go's tar header does)."""
    import grp
    import pwd

    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = ""
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = ""
    return user, group


def entry_hash(root: Path, path: Path, st: os.stat_result, image: bool = False) -> str:
    """The classic builder's per-file hash (tarsum v1 of one entry): the tar header fields
    name, mode, uid, gid, size, typeflag, linkname, uname, gname, devmajor, devminor (never
    the mtime), security xattrs, then the content. Files of an image (``COPY --from``) are
    hashed from a fresh header: file-type bits in the mode, owner names looked up."""
    text, base = str(path), str(root)
    rel = text[len(base):].lstrip("/") if text.startswith(base) else os.path.relpath(text, base)
    rel = rel or "."
    kind = _TYPEFLAGS.get(stat.S_IFMT(st.st_mode), "0")
    link = os.readlink(path) if kind == "2" else ""
    size = st.st_size if kind == "0" else 0
    name = rel + "/" if kind == "5" and rel != "." else rel
    mode = st.st_mode if image else stat.S_IMODE(st.st_mode)
    user, group = _names(st) if image else ("", "")
    fields = (("name", name), ("mode", str(mode)), ("uid", str(st.st_uid)),
              ("gid", str(st.st_gid)), ("size", str(size)), ("typeflag", kind),
              ("linkname", link), ("uname", user), ("gname", group),
              ("devmajor", str(os.major(st.st_rdev) if kind in "34" else 0)),
              ("devminor", str(os.minor(st.st_rdev) if kind in "34" else 0)))
    h = hashlib.sha256("".join(k + v for k, v in fields).encode("utf-8", "surrogateescape"))
    try:
        h.update(b"xattrsecurity.capability" + os.getxattr(path, "security.capability",
                                                           follow_symlinks=False))
    except OSError:
        pass
    if kind == "0" and size:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            while chunk := os.read(fd, 1 << 20):
                h.update(chunk)
        finally:
            os.close(fd)
    return h.hexdigest()


def classic_hash(root: Path, path: Path, image: bool = False,
                 unsent: frozenset[str] = frozenset()) -> str:
    """``file:<hash>`` or ``dir:<hash>``, as the classic builder names a COPY source in the
    history (verified against dockerd 20.10); also the content digest the cache key uses:
    content, mode and owner count, mtimes do not.

    ``unsent``: directories a client left out of the context tar (excluded by
    ``.dockerignore``, entered only for a ``!`` exception): dockerd has no tarsum for them and
    takes the relative path itself as their hash."""
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        return "file:" + entry_hash(root, path, st, image)
    # the classic walk skips the context root itself (``COPY . /dst``), not a named subdir
    top = os.path.relpath(path, root)
    hashes = [] if top == "." else [top if top in unsent else entry_hash(root, path, st, image)]
    for rel, child in walk(str(path)):
        name = rel if top == "." else f"{top}/{rel}"
        hashes.append(name if name in unsent else entry_hash(root, path / rel, child, image))
    joined = ",".join(sorted(hashes))
    return "dir:" + hashlib.sha256(joined.encode()).hexdigest()


def multi_hash(hashes: list[str]) -> str:
    """How the classic builder names several sources: ``multi:`` + sha256 of them joined."""
    if len(hashes) == 1:
        return hashes[0]
    return "multi:" + hashlib.sha256(",".join(hashes).encode()).hexdigest()
