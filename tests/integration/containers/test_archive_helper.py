"""The cp helper on a stopped container's layers directly (no daemon): its bind mounts and
volumes are mounted in the helper's private mount namespace, and vanish with it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dockyard.containers import archive
from dockyard.errors import NotFound
from dockyard.testing.busybox import busybox_rootfs


def _tar(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class Containers:
    def __init__(self, record: Any) -> None:
        self.record = record

    def get(self, name: str) -> Any:
        if name != "stopped":
            raise NotFound(f"No such container: {name}")
        return self.record


def test_stopped_container_with_a_bind_mount(tmp_path: Path) -> None:
    rootfs = busybox_rootfs(tmp_path / "rootfs")
    for sub in ("upper", "work", "merged", "vol", "ctr"):
        (tmp_path / sub).mkdir()
    record = SimpleNamespace(
        id="dytest-cp-binds", state={"Running": False, "Pid": 0}, config={}, host_config={},
        dir=tmp_path / "ctr", mounts=[],  # never started: no /etc files of its own to bind
        lower_dirs=[str(rootfs)], upper_dir=str(tmp_path / "upper"), work_dir=str(tmp_path / "work"),
        rootfs=str(tmp_path / "merged"),
        spec_mounts=[{"type": "bind", "source": str(tmp_path / "vol"), "target": "/data",
                      "read_only": False, "options": []}])
    containers = Containers(record)
    archive.put(containers, "stopped", "/data", io.BytesIO(_tar("f", b"into the volume\n")))
    assert (tmp_path / "vol" / "f").read_bytes() == b"into the volume\n"
    archive.put(containers, "stopped", "/", io.BytesIO(_tar("layerfile", b"upper\n")))
    assert (tmp_path / "upper" / "layerfile").read_bytes() == b"upper\n"
    stat, chunks = archive.get(containers, "stopped", "/data/f")
    assert stat["name"] == "f" and stat["size"] == 16
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        assert [m.name for m in tar] == ["f"]
    exported = b"".join(archive.export(containers, "stopped"))
    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        names = tar.getnames()
    assert "layerfile" in names and "data/f" not in names  # export leaves volumes out
    assert str(tmp_path) not in Path("/proc/self/mountinfo").read_text()
    assert list((tmp_path / "merged").iterdir()) == []
    with pytest.raises(NotFound, match="Could not find the file /nowhere in container stopped"):
        archive.stat(containers, "stopped", "/nowhere")
