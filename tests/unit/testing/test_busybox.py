"""The offline busybox base image: layout, digests, determinism, and that it really runs."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from dockyard.testing import busybox


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox.build_busybox_archive(tmp_path_factory.mktemp("bb"), "busybox:latest")


def test_archive_has_docker25_layout(archive: Path) -> None:
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[:2] == ["blobs", "blobs/sha256"]
    assert names[-4:] == ["index.json", "manifest.json", "oci-layout", "repositories"]
    assert all(n.startswith("blobs/sha256/") for n in names[2:-4]) and len(names) == 9


def test_every_blob_is_named_by_its_digest(archive: Path) -> None:
    members = _members(archive)
    blobs = {k: v for k, v in members.items() if k.startswith("blobs/")}
    for name, data in blobs.items():
        assert _sha(data) == "sha256:" + name.rsplit("/", 1)[1]


def test_index_manifest_config_chain(archive: Path) -> None:
    m = _members(archive)
    index = json.loads(m["index.json"])
    desc = index["manifests"][0]
    assert desc["annotations"] == {
        "io.containerd.image.name": "docker.io/library/busybox:latest",
        "org.opencontainers.image.ref.name": "latest",
    }
    manifest_raw = m["blobs/sha256/" + desc["digest"][7:]]
    assert desc["size"] == len(manifest_raw)
    manifest = json.loads(manifest_raw)
    config_raw = m["blobs/sha256/" + manifest["config"]["digest"][7:]]
    config = json.loads(config_raw)
    layer = m["blobs/sha256/" + manifest["layers"][0]["digest"][7:]]
    assert config["rootfs"] == {"type": "layers", "diff_ids": [_sha(layer)]}
    assert config["os"] == "linux" and config["architecture"] == busybox.architecture()
    assert config["config"]["Cmd"] == ["sh"] and config["config"]["Env"][0].startswith("PATH=")
    assert [h.get("empty_layer", False) for h in config["history"]] == [False, True]
    legacy = json.loads(m["manifest.json"])
    assert legacy == [{"Config": "blobs/sha256/" + _sha(config_raw)[7:], "RepoTags": ["busybox:latest"],
                       "Layers": ["blobs/sha256/" + _sha(layer)[7:]]}]
    assert json.loads(m["repositories"]) == {"busybox": {"latest": _sha(config_raw)[7:]}}
    assert json.loads(m["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    assert busybox.image_id() == _sha(config_raw)


def test_archive_is_byte_for_byte_deterministic(archive: Path, tmp_path: Path) -> None:
    again = busybox.build_busybox_archive(tmp_path, "busybox:latest")
    assert again.read_bytes() == archive.read_bytes()


def test_tag_changes_names_not_image_id(tmp_path: Path) -> None:
    out = busybox.build_busybox_archive(tmp_path, "localhost:5000/team/bb:v1")
    m = _members(out)
    desc = json.loads(m["index.json"])["manifests"][0]
    assert desc["annotations"]["io.containerd.image.name"] == "localhost:5000/team/bb:v1"
    assert json.loads(m["manifest.json"])[0]["RepoTags"] == ["localhost:5000/team/bb:v1"]
    assert list(json.loads(m["repositories"])) == ["localhost:5000/team/bb"]
    assert json.loads(m["repositories"])["localhost:5000/team/bb"]["v1"] == busybox.image_id()[7:]


@pytest.mark.parametrize("tag,expected", [
    ("busybox", ("busybox", "latest", "docker.io/library/busybox:latest")),
    ("me/app:2", ("me/app", "2", "docker.io/me/app:2")),
    ("localhost:5000/x", ("localhost:5000/x", "latest", "localhost:5000/x:latest")),
])
def test_split_tag(tag: str, expected: tuple[str, str, str]) -> None:
    assert busybox.split_tag(tag) == expected


def test_extra_files_add_a_second_layer(tmp_path: Path) -> None:
    extra = {"tmp/a/hello.txt": b"hello\n", "/etc/motd": b"hi\n"}
    m = _members(busybox.build_busybox_archive(tmp_path, "bb:extra", extra))
    manifest = json.loads(next(v for k, v in m.items() if b'"layers"' in v))
    assert len(manifest["layers"]) == 2
    top = m["blobs/sha256/" + manifest["layers"][1]["digest"][7:]]
    with tarfile.open(fileobj=__import__("io").BytesIO(top)) as tar:
        info = {t.name.rstrip("/"): t for t in tar}
        assert tar.extractfile("tmp/a/hello.txt").read() == b"hello\n"  # type: ignore[union-attr]
    assert sorted(info) == ["etc", "etc/motd", "tmp", "tmp/a", "tmp/a/hello.txt"]
    assert info["tmp"].mode == 0o1777 and info["etc/motd"].mode == 0o644
    assert busybox.image_id(extra) != busybox.image_id()


def test_layer_is_deterministic_and_root_owned(tmp_path: Path) -> None:
    diff_id, size = busybox.busybox_layer(tmp_path / "a.tar")
    assert busybox.busybox_layer(tmp_path / "b.tar") == (diff_id, size)
    data = (tmp_path / "a.tar").read_bytes()
    assert _sha(data) == diff_id and len(data) == size
    with tarfile.open(tmp_path / "a.tar") as tar:
        members = tar.getmembers()
    names = [m.name.rstrip("/") for m in members]
    assert names == sorted(names)
    assert {(m.uid, m.gid, m.mtime) for m in members} == {(0, 0, busybox.EPOCH)}
    regular = [m for m in members if m.isfile() and m.size > 100_000]
    assert len(regular) == 1, "busybox bytes stored once, applets are hardlinks"
    links = {m.name for m in members if m.islnk()}
    assert {"bin/sh", "bin/busybox", "usr/bin/wget"} <= links


def test_rootfs_layout(tmp_path: Path) -> None:
    root = busybox.busybox_rootfs(tmp_path / "rootfs")
    assert stat.S_IMODE((root / "tmp").stat().st_mode) == 0o1777
    assert (root / "bin/sh").stat().st_ino == (root / "bin/busybox").stat().st_ino
    assert (root / "bin/busybox").stat().st_nlink > 200
    assert "root:x:0:0:" in (root / "etc/passwd").read_text()
    assert "nobody:x:65534:" in (root / "etc/passwd").read_text()
    assert "root:x:0:" in (root / "etc/group").read_text()
    assert not (root / "etc/hostname").exists()
    for d in ("proc", "sys", "dev", "root", "home"):
        assert (root / d).is_dir() and not any((root / d).iterdir())


@pytest.mark.root
def test_busybox_runs_in_rootfs_via_chroot(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "chroot needs root"
    root = busybox.busybox_rootfs(tmp_path / "rootfs")
    out = subprocess.run(["chroot", str(root), "/bin/sh", "-c", "echo hi; id -un; ls /bin/sh"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["hi", "root", "/bin/sh"]


def test_cli_prints_archive_path(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "dockyard.testing.busybox", str(tmp_path), "bb:cli"],
                         capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()) == tmp_path / "bb_cli.tar"
    assert (tmp_path / "bb_cli.tar").is_file()
    bad = subprocess.run([sys.executable, "-m", "dockyard.testing.busybox"],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "usage:" in bad.stderr


def test_missing_busybox_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The one fault that cannot be produced for real without uninstalling a package.
    monkeypatch.setattr(busybox, "BUSYBOX", tmp_path / "no-busybox")
    with pytest.raises(busybox.BusyboxMissing, match="apt-get install busybox-static"):
        busybox.build_busybox_archive(tmp_path)
    assert not list(tmp_path.glob("*.tar*")), "nothing half-written"


def test_many_images_share_the_base_layer_and_file_layers_stream(tmp_path: Path) -> None:
    big = tmp_path / "big.tar"
    big.write_bytes(busybox.tar_bytes(busybox.extra_entries({"data/blob": os.urandom(3 << 20)})))
    images = [busybox.make_image(f"many:{i}", {"id": str(i).encode()}) for i in range(3)]
    images.append(busybox.make_image("big:1", extra_layers=[big]))
    out = busybox.write_archive(tmp_path / "many.tar", images)
    m = _members(out)
    base = busybox.base_layer().name
    assert sum(1 for k in m if k == base) == 1
    assert m[busybox.Blob.of_file(busybox.LAYER, big).name] == big.read_bytes()
    legacy = json.loads(m["manifest.json"])
    assert [e["RepoTags"] for e in legacy] == [["many:0"], ["many:1"], ["many:2"], ["big:1"]]
    assert all(e["Layers"][0] == base for e in legacy)
    assert len({e["Config"] for e in legacy}) == 4
    index = json.loads(m["index.json"])["manifests"]
    assert [d["annotations"]["org.opencontainers.image.ref.name"] for d in index] == ["0", "1", "2", "1"]
    assert set(json.loads(m["repositories"])) == {"many", "big"}
