"""buildcompare: snapshots of saved images and their diff — on hand-made archives (whiteouts,
hard links, config normalisation) and on a real dockerd's exports."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.buildcompare import (
    case_context,
    compare,
    normalize_config,
    report,
    snapshot_archive,
    snapshot_image,
)
from dockyard.testing.dockerd import Dockerd


def layer(entries: list[tuple[str, str, Any]]) -> bytes:
    """A layer tar from (name, kind, payload): file bytes, dir None, symlink/hardlink target."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.mode = 0o755 if kind == "dir" else 0o644
            if kind == "file":
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}[kind]
            info.linkname = payload or ""
            tar.addfile(info)
    return buf.getvalue()


def archive(layers: list[bytes], config: dict[str, Any]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        members = {"config.json": json.dumps(config).encode(),
                   **{f"l{i}/layer.tar": data for i, data in enumerate(layers)}}
        members["manifest.json"] = json.dumps([{"Config": "config.json", "RepoTags": ["x:1"],
                                                "Layers": [f"l{i}/layer.tar" for i in range(len(layers))]}]).encode()
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


CONFIG = {"architecture": "amd64", "os": "linux", "created": "2020-01-01T00:00:00Z",
          "config": {"Env": ["A=1"], "Cmd": None, "Labels": {}, "Hostname": "abc", "WorkingDir": "/app"},
          "rootfs": {"type": "layers", "diff_ids": ["sha256:1", "sha256:2"]},
          "history": [{"created": "x", "created_by": "ADD"}, {"created_by": "RUN", "empty_layer": True}]}


def sample(second_file: bytes = b"new") -> dict[str, Any]:
    lower = layer([("./", "dir", None), ("etc/", "dir", None), ("etc/a", "file", b"a"), ("etc/b", "file", b"b"),
                   ("opt/", "dir", None), ("opt/x", "file", b"x"), ("link", "symlink", "etc/a")])
    upper = layer([("etc/.wh.a", "file", b""), ("opt/.wh..wh..opq", "file", b""), ("opt/y", "file", second_file),
                   ("etc/hard", "hardlink", "etc/b")])
    return snapshot_archive(archive([lower, upper], CONFIG))


def test_layers_apply_with_whiteouts_and_hard_links() -> None:
    snap = sample()
    assert sorted(snap["tree"]) == ["/etc", "/etc/b", "/etc/hard", "/link", "/opt", "/opt/y"]
    assert snap["tree"]["/etc/hard"]["digest"] == snap["tree"]["/etc/b"]["digest"]
    assert snap["tree"]["/link"] == {"type": "symlink", "mode": "0644", "uid": 0, "gid": 0, "target": "etc/a"}
    assert snap["tree"]["/opt"]["mode"] == "0755"


def test_config_keeps_what_builds_can_agree_on() -> None:
    assert normalize_config(CONFIG) == {
        "platform": "linux/amd64", "config": {"Env": ["A=1"], "WorkingDir": "/app"}, "layers": 2,
        "history": [{"created_by": "ADD", "empty_layer": False}, {"created_by": "RUN", "empty_layer": True}]}


def test_differences_are_readable_lines() -> None:
    assert compare(sample(), sample()) == []
    changed = compare(sample(), sample(b"changed"))
    assert len(changed) == 1 and changed[0].startswith("tree /opt/y: digest sha256:")
    assert "size 3 -> 7" in changed[0]
    other = sample()
    other["config"]["User"] = "app"
    del other["tree"]["/etc/b"]
    other["tree"]["/new"] = {"type": "dir", "mode": "0700", "uid": 0, "gid": 0}
    lines = compare(sample(), other)
    assert lines == ['config.User: unexpected "app"', ("tree /etc/b: missing (type=file mode=0644 uid=0 gid=0 "
                     f"size=1 digest={sample()['tree']['/etc/b']['digest']})"),
                     "tree /new: unexpected (type=dir mode=0700 uid=0 gid=0)"]
    assert compare(sample(), other, ignore_keys=["config.User"], ignore_paths=["/etc/b", "/n*"]) == []
    assert "2 difference(s)" in report("case", lines[:2])


def build(daemon: Dockerd, context: Path) -> str:
    client = daemon.client()
    try:
        image, _ = client.images.build(path=str(context), network_mode="none", rm=True)
        return str(image.id)
    finally:
        client.close()


@pytest.mark.interop
def test_real_dockerd_export(dockerd: Dockerd, tmp_path: Path) -> None:
    """dockerd's export compared with itself is identical; one edited file is the one difference."""
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY f /data/f\nRUN chmod 600 /data/f && echo ran > /ran\n")
    (tmp_path / "f").write_text("one\n")
    first = build(dockerd, tmp_path)
    client = dockerd.client()
    try:
        snap = snapshot_image(client.api, first)
        assert compare(snap, snapshot_image(client.api, first)) == []
        assert snap["tree"]["/data/f"]["mode"] == "0600" and snap["tree"]["/ran"]["size"] == 4
        (tmp_path / "f").write_text("two!!\n")
        lines = compare(snap, snapshot_image(client.api, build(dockerd, tmp_path)))
    finally:
        client.close()
    assert len(lines) == 2 and lines[1].startswith("tree /data/f: digest") and "size 4 -> 6" in lines[1]
    assert lines[0].startswith('history[2].created_by: expected "/bin/sh -c #(nop) COPY file:')  # its hash


def test_case_context_leaves_out_expected_json(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "expected.json").write_text("{}")
    with case_context(tmp_path) as context:
        assert sorted(p.name for p in context.iterdir()) == ["Dockerfile"]
    assert not context.exists()
