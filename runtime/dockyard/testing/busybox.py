"""A real ``busybox`` base image made offline from Debian's ``busybox-static``.

Every later test needs a base image and the machine has no internet, so this module lays out
the static binary plus one hardlink per applet, a minimal ``/etc``, and writes it as a rootfs
directory, a layer tar, or a whole ``docker save`` archive in the Docker 25+ format (OCI layout
+ ``manifest.json`` + ``repositories``).

It deliberately uses only ``tarfile``/``json``/``hashlib`` and nothing from ``dockyard.store``:
it is the independent yardstick the store is tested against. Everything is deterministic
(fixed mtimes, uid/gid 0, sorted entries, canonical JSON), so the image ID — the config
digest — is the same on every run on one architecture.

CLI: ``python3 -m dockyard.testing.busybox OUT_DIR [TAG]`` prints the archive's path.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from ..errors import Unavailable

BUSYBOX: Final = Path("/bin/busybox")
EPOCH: Final = 1704067200  # 2024-01-01T00:00:00Z: every mtime, so digests never drift
CREATED: Final = "2024-01-01T00:00:00Z"
LAYER: Final = "application/vnd.oci.image.layer.v1.tar"
CONFIG: Final = "application/vnd.oci.image.config.v1+json"
MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
INDEX: Final = "application/vnd.oci.image.index.v1+json"
PATH_ENV: Final = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

PASSWD: Final = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP: Final = """\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
mail:x:8:
wheel:x:10:root
www-data:x:33:
users:x:100:
nogroup:x:65534:
"""
DIRS: Final = {
    "bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o555, "root": 0o700,
    "sbin": 0o755, "sys": 0o555, "tmp": 0o1777, "usr": 0o755, "usr/bin": 0o755,
    "usr/sbin": 0o755, "var": 0o755, "var/spool": 0o755, "var/spool/mail": 0o755,
    "var/www": 0o755,
}
GOARCH: Final = {
    "x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
    "i386": "386", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
}


class BusyboxMissing(Unavailable):
    """The host lacks the static busybox the base image is made from."""

    def __init__(self) -> None:
        super().__init__(
            f"{BUSYBOX} not found: the test base image is made from Debian's busybox-static; "
            "install it with `apt-get install busybox-static`"
        )


@dataclass(frozen=True)
class Entry:
    """One rootfs member: a directory, a regular file (``data``) or a hardlink (``link``)."""

    path: str
    mode: int
    data: bytes | None = None
    link: str | None = None

    @property
    def is_dir(self) -> bool:
        return self.data is None and self.link is None


def _busybox_bytes() -> bytes:
    if not BUSYBOX.is_file():
        raise BusyboxMissing()
    return BUSYBOX.read_bytes()


def applets() -> list[str]:
    """Applet paths relative to ``/`` as the binary itself reports them (``bin/sh`` …)."""
    _busybox_bytes()
    out = subprocess.run([str(BUSYBOX), "--list-full"], capture_output=True, text=True, check=True)
    return sorted({p for p in out.stdout.split() if "/" in p})


def rootfs_entries() -> list[Entry]:
    """The whole rootfs, sorted; the first applet in that order holds the bytes, the rest link
    to it — exactly what ``tar`` writes for a hardlinked tree, so extractors meet the file first."""
    binary = _busybox_bytes()
    programs = sorted(p for p in set(applets()) | {"bin/busybox"} if p.split("/")[0] in DIRS)
    entries = [Entry(programs[0], 0o755, binary)]
    entries += [Entry(p, 0o755, link=programs[0]) for p in programs[1:]]
    entries += [Entry(d, m) for d, m in DIRS.items()]
    entries += [Entry("etc/passwd", 0o644, PASSWD.encode()), Entry("etc/group", 0o644, GROUP.encode())]
    return sorted(entries, key=lambda e: e.path)


def busybox_rootfs(dest: Path) -> Path:
    """Lay the rootfs out under ``dest`` (created if missing), owned by root when we are root."""
    dest.mkdir(parents=True, exist_ok=True)
    for e in rootfs_entries():
        target = dest / e.path
        if e.is_dir:
            target.mkdir(exist_ok=True)
        elif e.link is not None:
            os.link(dest / e.link, target)
            continue
        else:
            target.write_bytes(e.data or b"")
        _fix_meta(target, e.mode)
    _fix_meta(dest, 0o755)
    return dest


def _fix_meta(path: Path, mode: int) -> None:
    if os.geteuid() == 0:
        os.lchown(path, 0, 0)
    os.chmod(path, mode)
    os.utime(path, (EPOCH, EPOCH))


def _tarinfo(e: Entry) -> tarfile.TarInfo:
    info = tarfile.TarInfo(e.path + "/" if e.is_dir else e.path)
    info.mode, info.mtime, info.uid, info.gid = e.mode, EPOCH, 0, 0
    info.uname = info.gname = ""
    if e.is_dir:
        info.type = tarfile.DIRTYPE
    elif e.link is not None:
        info.type, info.linkname = tarfile.LNKTYPE, e.link
    else:
        info.size = len(e.data or b"")
    return info


def tar_bytes(entries: Iterable[Entry]) -> bytes:
    """An uncompressed, deterministic layer tar of ``entries`` (in the order given)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            tar.addfile(_tarinfo(e), io.BytesIO(e.data) if e.data is not None else None)
    return buf.getvalue()


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def busybox_layer(dest_tar: Path) -> tuple[str, int]:
    """Write the rootfs as one layer tar; return its ``(diff_id, size)``."""
    data = tar_bytes(rootfs_entries())
    dest_tar.write_bytes(data)
    return digest(data), len(data)


def extra_entries(files: dict[str, bytes]) -> list[Entry]:
    """A layer adding ``files`` (mode 0644), with each missing parent directory before them;
    a parent the base already has keeps the base's mode (``tmp`` stays 1777)."""
    out: dict[str, Entry] = {}
    for name, data in files.items():
        path = name.strip("/")
        parts = path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            out.setdefault(parent, Entry(parent, DIRS.get(parent, 0o755)))
        out[path] = Entry(path, 0o644, data)
    return [out[k] for k in sorted(out)]


def canonical_json(obj: Any) -> bytes:
    """The one serialisation used for every JSON blob, so digests are reproducible."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def architecture() -> str:
    machine = platform.machine()
    return GOARCH.get(machine, machine)


def image_config(diff_ids: list[str]) -> dict[str, Any]:
    """The OCI image config: what ``docker inspect`` shows, and whose digest is the image ID."""
    history: list[dict[str, Any]] = [
        {"created": CREATED, "created_by": "/bin/sh -c #(nop) ADD busybox-static rootfs / "}
    ]
    history += [{"created": CREATED, "created_by": "/bin/sh -c #(nop) COPY extra files / "}
                for _ in diff_ids[1:]]
    history.append({"created": CREATED, "created_by": '/bin/sh -c #(nop)  CMD ["sh"]',
                    "empty_layer": True})
    return {
        "architecture": architecture(),
        "os": "linux",
        "created": CREATED,
        "config": {"Cmd": ["sh"], "Env": [PATH_ENV]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }


def split_tag(tag: str) -> tuple[str, str, str]:
    """``"busybox:latest"`` → ``("busybox", "latest", "docker.io/library/busybox:latest")``:
    the familiar name, the tag, and the fully qualified name containerd annotates with."""
    name, sep, version = tag.rpartition(":")
    if not sep or "/" in version:
        name, version = tag, "latest"
    first = name.split("/")[0]
    if "/" not in name:
        full = f"docker.io/library/{name}"
    elif "." in first or ":" in first or first == "localhost":
        full = name
    else:
        full = f"docker.io/{name}"
    return name, version, f"{full}:{version}"


@dataclass(frozen=True)
class Blob:
    """Archive content with its digest: in memory, or in a file for layers too big for that."""

    media_type: str
    digest: str
    size: int
    data: bytes | None = None
    path: Path | None = None

    @classmethod
    def of(cls, media_type: str, data: bytes) -> Blob:
        return cls(media_type, digest(data), len(data), data=data)

    @classmethod
    def of_file(cls, media_type: str, path: Path) -> Blob:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        return cls(media_type, "sha256:" + h.hexdigest(), path.stat().st_size, path=path)

    @property
    def name(self) -> str:
        return "blobs/sha256/" + self.digest.split(":")[1]

    def open(self) -> BinaryIO:
        if self.path is not None:
            return open(self.path, "rb")
        return io.BytesIO(self.data or b"")

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


@dataclass(frozen=True)
class Image:
    tag: str
    manifest: Blob
    config: Blob
    layers: list[Blob]


def base_layer() -> Blob:
    """The busybox layer, built once per binary (the 500-image benchmark asks 500 times)."""
    if not BUSYBOX.is_file():
        raise BusyboxMissing()
    return _base_layer(BUSYBOX, BUSYBOX.stat().st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _base_layer(_binary: Path, _mtime: int) -> Blob:
    return Blob.of(LAYER, tar_bytes(rootfs_entries()))


def make_image(tag: str = "busybox:latest", extra_files: dict[str, bytes] | None = None,
               extra_layers: Sequence[Path] = ()) -> Image:
    """busybox, plus one layer for ``extra_files``, plus each uncompressed layer tar given."""
    layers = [base_layer()]
    if extra_files:
        layers.append(Blob.of(LAYER, tar_bytes(extra_entries(extra_files))))
    layers += [Blob.of_file(LAYER, p) for p in extra_layers]
    config = Blob.of(CONFIG, canonical_json(image_config([b.digest for b in layers])))
    manifest = Blob.of(MANIFEST, canonical_json({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": config.descriptor(),
        "layers": [b.descriptor() for b in layers],
    }))
    return Image(tag, manifest, config, layers)


def configured(base: Image, tag: str, **config: Any) -> Image:
    """``base``'s layers as ``tag`` with ``config`` in its config's ``config`` (a crafted image:
    a WorkingDir no builder writes, say)."""
    full = image_config([b.digest for b in base.layers])
    full["config"].update(config)
    blob = Blob.of(CONFIG, canonical_json(full))
    manifest = Blob.of(MANIFEST, canonical_json({
        "schemaVersion": 2, "mediaType": MANIFEST, "config": blob.descriptor(),
        "layers": [b.descriptor() for b in base.layers]}))
    return Image(tag, manifest, blob, base.layers)


def archive_members(images: Sequence[Image]) -> list[tuple[str, Blob]]:
    """Every file of a ``docker save`` archive of ``images``, in the order Docker 25+ writes
    them; a layer shared by several images is stored once."""
    blobs: dict[str, Blob] = {}
    index: list[dict[str, Any]] = []
    legacy: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    for img in images:
        blobs.update((b.name, b) for b in (img.manifest, img.config, *img.layers))
        name, version, full = split_tag(img.tag)
        index.append(img.manifest.descriptor(annotations={
            "io.containerd.image.name": full, "org.opencontainers.image.ref.name": version}))
        legacy.append({"Config": img.config.name, "RepoTags": [f"{name}:{version}"],
                       "Layers": [b.name for b in img.layers]})
        repositories.setdefault(name, {})[version] = img.config.digest.split(":")[1]
    top = {
        "index.json": {"schemaVersion": 2, "mediaType": INDEX, "manifests": index},
        "manifest.json": legacy,
        "oci-layout": {"imageLayoutVersion": "1.0.0"},
        "repositories": repositories,
    }
    return [(k, blobs[k]) for k in sorted(blobs)] + [
        (k, Blob.of("", canonical_json(v))) for k, v in top.items()]


def write_archive(out: Path, images: Sequence[Image]) -> Path:
    """Write ``images`` as one ``docker save`` archive, to a temporary name then renamed, so a
    reader never sees half an archive."""
    members = archive_members(images)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            for d in ("blobs", "blobs/sha256"):
                tar.addfile(_tarinfo(Entry(d, 0o755)))
            for path, blob in members:
                info = _tarinfo(Entry(path, 0o644, b""))
                info.size = blob.size
                with blob.open() as f:
                    tar.addfile(info, f)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def build_busybox_archive(dest_dir: Path, tag: str = "busybox:latest",
                          extra_files: dict[str, bytes] | None = None) -> Path:
    """Write a ``docker save`` archive (Docker 25+ format) of the busybox image tagged ``tag``
    to ``dest_dir/<tag with / and : as _>.tar``."""
    image = make_image(tag, extra_files)
    return write_archive(dest_dir / (tag.replace("/", "_").replace(":", "_") + ".tar"), [image])


def image_id(extra_files: dict[str, bytes] | None = None) -> str:
    """The image ID (config digest) ``build_busybox_archive`` gives, without writing anything."""
    return make_image("busybox:latest", extra_files).config.digest


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2 or args[0].startswith("-"):
        print("usage: python3 -m dockyard.testing.busybox OUT_DIR [TAG]", file=sys.stderr)
        return 2
    try:
        tag = args[1] if len(args) > 1 else "busybox:latest"
        print(build_busybox_archive(Path(args[0]), tag))
    except BusyboxMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
