"""Re-record tests/fixtures: reference archives and what a real dockerd 20.10 said about them.

Run as root from the repository root: ``python3 -m bench.record_fixtures [OUT_DIR]``.
It starts a private dockerd (own data root, socket; no bridge, no iptables), loads the offline
busybox archive (Docker 25+ format), imports a small rootfs tar, builds a tiny Dockerfile with
the classic builder, saves the results (dockerd 20.10 writes the legacy format) and writes,
beside each gzip'd archive, a JSON of the image IDs, inspect and history dockerd reported.
Import and build IDs embed creation times, so every recording gives new IDs: tests assert
against the JSON recorded with the archive, never against constants.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from dockyard.testing import busybox
from dockyard.testing.dockerd import Dockerd, start_dockerd, stop_dockerd

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
PREFIX = "dockerd-20.10"
DOCKERFILE = """\
FROM busybox:latest
ENV GREETING=hello
COPY hello.txt /hello.txt
RUN echo "$GREETING" > /greeting && mkdir -p /data
LABEL org.example.fixture=dockyard
CMD ["cat", "/greeting"]
"""
ARCHIVES = {  # fixture name -> the references `docker save` is given
    "busybox": ["busybox:latest"],
    "import": ["imported:v1"],
    "build": ["built:v1"],
    "multi": ["busybox:latest", "busybox:extra", "built:v1", "imported:v1"],
}


def docker(daemon: Dockerd, *args: str, stdin: bytes | None = None) -> str:
    """Run the docker CLI against the private daemon; classic builder, output as text."""
    env = dict(os.environ, DOCKER_HOST=daemon.host, DOCKER_BUILDKIT="0")
    out = subprocess.run(["docker", *args], input=stdin, env=env, capture_output=True, check=True)
    return out.stdout.decode()


def import_rootfs_tar() -> bytes:
    """A tiny rootfs for ``docker import``: a directory, a file, a symlink and a hardlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, extra in [("etc", tarfile.DIRTYPE, ""), ("etc/motd", tarfile.REGTYPE, "hi\n"),
                                  ("etc/motd.link", tarfile.SYMTYPE, "motd"),
                                  ("etc/motd.hard", tarfile.LNKTYPE, "etc/motd")]:
            info = tarfile.TarInfo(name)
            info.type, info.mtime, info.mode = kind, busybox.EPOCH, 0o755 if kind == tarfile.DIRTYPE else 0o644
            data = extra.encode() if kind == tarfile.REGTYPE else b""
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = extra
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_images(daemon: Dockerd, work: Path) -> dict[str, Any]:
    """Load, import, build and tag; return what the CLI printed on the way."""
    archive = busybox.build_busybox_archive(work, "busybox:latest")
    session: dict[str, Any] = {"load_output": docker(daemon, "load", "-i", str(archive))}
    session["import_output"] = docker(daemon, "import", "-c", "ENV FOO=bar", "-m", "fixture import",
                                      "-", "imported:v1", stdin=import_rootfs_tar())
    ctx = work / "context"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "hello.txt").write_text("hello from the build context\n")
    session["build_output"] = docker(daemon, "build", "--network", "none", "-t", "built:v1", str(ctx))
    docker(daemon, "tag", "busybox:latest", "busybox:extra")
    return session


def describe(daemon: Dockerd, ref: str) -> dict[str, Any]:
    """What the Engine API says about one image (raw JSON, API 1.41)."""
    api = daemon.client().api
    inspect = api.inspect_image(ref)
    return {"ref": ref, "id": inspect["Id"], "repo_tags": inspect["RepoTags"],
            "inspect": inspect, "history": api.history(ref)}


def save(daemon: Dockerd, name: str, refs: list[str], out_dir: Path) -> dict[str, Any]:
    """``docker save`` ``refs`` into a deterministic ``.tar.gz`` and describe its images."""
    raw = subprocess.run(["docker", "save", *refs], env=dict(os.environ, DOCKER_HOST=daemon.host),
                         capture_output=True, check=True).stdout
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", compresslevel=9, mtime=0) as f:
        f.write(raw)
    path = out_dir / f"{PREFIX}-{name}.tar.gz"
    path.write_bytes(gz.getvalue())
    return {
        "archive": path.name, "command": "docker save " + " ".join(refs),
        "archive_sha256": hashlib.sha256(gz.getvalue()).hexdigest(),
        "tar_sha256": hashlib.sha256(raw).hexdigest(), "tar_size": len(raw),
        "images": [describe(daemon, ref) for ref in refs],
    }


def session_facts(daemon: Dockerd, session: dict[str, Any]) -> dict[str, Any]:
    """Daemon-wide facts: version, image lists, and whether loading the Docker 25+ archive
    gave the config digest as image ID."""
    api = daemon.client().api
    loaded = api.inspect_image("busybox:latest")["Id"]
    session.update({
        "version": api.version(), "images_json": api.images(), "images_json_all": api.images(all=True),
        "images_cli": docker(daemon, "images", "--no-trunc"),
        "busybox_config_digest": busybox.image_id(), "busybox_loaded_id": loaded,
        "busybox_same_id": loaded == busybox.image_id(), "architecture": busybox.architecture(),
    })
    return session


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def record(out_dir: Path = FIXTURES) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    daemon = start_dockerd()
    try:
        with tempfile.TemporaryDirectory(prefix="fixtures-") as work:
            session = make_images(daemon, Path(work))
        for name, refs in ARCHIVES.items():
            write_json(out_dir / f"{PREFIX}-{name}.json", save(daemon, name, refs, out_dir))
        facts = session_facts(daemon, session)
        write_json(out_dir / f"{PREFIX}-session.json", facts)
        return facts
    finally:
        stop_dockerd(daemon)


def main(argv: list[str]) -> int:
    facts = record(Path(argv[0]) if argv else FIXTURES)
    print(f"dockerd {facts['version']['Version']}: busybox loaded as {facts['busybox_loaded_id']} "
          f"(config digest {'matches' if facts['busybox_same_id'] else 'DIFFERS'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
