"""A push whose client process is killed (SIGKILL) halfway leaves the target registry as it was.

The client is dockyard's own (``Distribution.push``) in a child process, pushing a new image
over an existing tag; it is killed once the layer's bytes are arriving at the registry.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from dockyard.testing.registry import RegistryProcess

PUSHER = r"""
import io, json, os, sys, tarfile
from pathlib import Path
from dockyard.distribution.service import Distribution
from dockyard.engine import go_arch
from dockyard.store.images import ImageStore, LayerInput

root, ref, size = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
store = ImageStore(root)
layer = root.parent / f"layer-{size}.tar"
with tarfile.open(layer, "w") as tar:
    info = tarfile.TarInfo("data.bin")
    info.size = size
    tar.addfile(info, io.BytesIO(os.urandom(size)))
with open(layer, "rb") as f:
    digest, _ = store.content.write(f)
config = json.dumps({"architecture": go_arch(), "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": [digest]}}).encode()
store.add(config, [LayerInput(digest)], [])
store.tag(store.meta.images()[0].id, *ref.rsplit(":", 1))
print("pushing", flush=True)
for message in Distribution(store, root).push(ref):
    if "error" in message:
        sys.exit(message["error"])
print("pushed", flush=True)
"""
ACCEPT = ("application/vnd.docker.distribution.manifest.v2+json, "
          "application/vnd.oci.image.manifest.v1+json")


def push(tmp: Path, name: str, ref: str, size: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", PUSHER, str(tmp / name), ref, str(size)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def snapshot(registry: RegistryProcess) -> dict[str, object]:
    """What a client of the registry can see of the repository."""
    base = f"{registry.url}/v2/kill/app"
    manifest = requests.get(f"{base}/manifests/latest", headers={"Accept": ACCEPT}, timeout=10)
    revisions = sorted(p.name for p in registry.root.glob("repositories/kill/app/_manifests/revisions/*/*"))
    return {"tags": requests.get(f"{base}/tags/list", timeout=10).json(), "manifest": manifest.content,
            "digest": manifest.headers.get("Docker-Content-Digest"), "revisions": revisions,
            "catalog": requests.get(f"{registry.url}/v2/_catalog", timeout=10).json()}


def assert_blobs_whole(root: Path) -> None:
    """Every visible blob is complete: its content hashes to its name."""
    for path in root.glob("blobs/sha256/*/*"):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        assert h.hexdigest() == path.name, f"partial blob visible: {path}"


def upload_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.glob("repositories/**/_uploads/*/data"))


def test_push_killed_mid_upload_leaves_the_target_unchanged(tmp_path: Path) -> None:
    with RegistryProcess(tmp_path / "registry") as registry:
        ref = f"{registry.host}/kill/app:latest"
        first = push(tmp_path, "one", ref, 4096)
        assert first.wait(60) == 0, first.stderr.read() if first.stderr else ""
        before = snapshot(registry)
        assert before["digest"]
        victim = push(tmp_path, "two", ref, 96 << 20)
        deadline = time.monotonic() + 60
        while upload_bytes(registry.root) < (1 << 20):
            assert victim.poll() is None, "the push finished before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        os.kill(victim.pid, signal.SIGKILL)
        victim.communicate(timeout=10)
        time.sleep(0.3)  # the registry notices the dropped connection
        assert snapshot(registry) == before
        assert_blobs_whole(registry.root)
        again = push(tmp_path, "two", ref, 96 << 20)  # a retry completes, and only then moves the tag
        _out, err = again.communicate(timeout=120)
        assert again.returncode == 0, err
        after = snapshot(registry)
        assert after["digest"] != before["digest"] and after["tags"] == before["tags"]
        assert_blobs_whole(registry.root)
