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

import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..errors import Unavailable

BUSYBOX: Final = Path("/bin/busybox")
EPOCH: Final = 1704067200  # 2024-01-01T00:00:00Z: every mtime, so digests never drift
CREATED: Final = "2024-01-01T00:00:00Z"
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
    if len(diff_ids) > 1:
        history.append({"created": CREATED, "created_by": "/bin/sh -c #(nop) COPY extra files / "})
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
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return digest(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data), **extra}


def image_blobs(extra_files: dict[str, bytes] | None = None) -> tuple[Blob, Blob, list[Blob]]:
    """``(manifest, config, layers)`` of the image: busybox, plus one layer for ``extra_files``."""
    layers = [Blob("application/vnd.oci.image.layer.v1.tar", tar_bytes(rootfs_entries()))]
    if extra_files:
        layers.append(Blob(layers[0].media_type, tar_bytes(extra_entries(extra_files))))
    config = Blob("application/vnd.oci.image.config.v1+json",
                  canonical_json(image_config([b.digest for b in layers])))
    manifest = Blob("application/vnd.oci.image.manifest.v1+json", canonical_json({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config.descriptor(),
        "layers": [b.descriptor() for b in layers],
    }))
    return manifest, config, layers


def archive_members(tag: str, extra_files: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """Every file of the ``docker save`` archive, in the order Docker 25+ writes them."""
    manifest, config, layers = image_blobs(extra_files)
    name, version, full = split_tag(tag)
    annotations = {"io.containerd.image.name": full, "org.opencontainers.image.ref.name": version}
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [manifest.descriptor(annotations=annotations)],
    }
    legacy = [{"Config": _blob_path(config), "RepoTags": [f"{name}:{version}"],
               "Layers": [_blob_path(b) for b in layers]}]
    members = {_blob_path(b): b.data for b in sorted({manifest, config, *layers}, key=_blob_path)}
    members["index.json"] = canonical_json(index)
    members["manifest.json"] = canonical_json(legacy)
    members["oci-layout"] = canonical_json({"imageLayoutVersion": "1.0.0"})
    members["repositories"] = canonical_json({name: {version: config.digest.split(":")[1]}})
    return members


def _blob_path(blob: Blob) -> str:
    return "blobs/sha256/" + blob.digest.split(":")[1]


def build_busybox_archive(dest_dir: Path, tag: str = "busybox:latest",
                          extra_files: dict[str, bytes] | None = None) -> Path:
    """Write a ``docker save`` archive (Docker 25+ format) of the busybox image tagged ``tag``;
    written to a temporary name and renamed, so a reader never sees half an archive."""
    members = archive_members(tag, extra_files)
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / (tag.replace("/", "_").replace(":", "_") + ".tar")
    tmp = out.with_name(out.name + ".tmp")
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            for d in ("blobs", "blobs/sha256"):
                tar.addfile(_tarinfo(Entry(d, 0o755)))
            for path, data in members.items():
                tar.addfile(_tarinfo(Entry(path, 0o644, data)), io.BytesIO(data))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def image_id(extra_files: dict[str, bytes] | None = None) -> str:
    """The image ID (config digest) ``build_busybox_archive`` gives, without writing anything."""
    return image_blobs(extra_files)[1].digest


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
