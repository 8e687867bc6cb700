"""docker save / docker load archives: both formats, compression, and bad input."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import tarfile
import tracemalloc
from pathlib import Path

import pytest
import zstandard
from store_helpers import (
    F,
    add_image,
    legacy_archive,
    make_config,
    make_tar,
    oci_archive,
    sha256,
    simple_layer,
    store_state,
)

from dockyard.errors import DigestMismatch, InvalidArgument, NotFound
from dockyard.store.archive import load, save
from dockyard.store.images import ImageStore
from dockyard.store.snapshots import HostileLayer
from dockyard.testing import busybox

LAYERS = [simple_layer("base"), make_tar([F("app/", type=tarfile.DIRTYPE), F("app/run", b"#!/bin/sh\n", mode=0o755)])]


def load_bytes(store: ImageStore, data: bytes) -> list[str]:
    return [m["stream"] for m in load(store, io.BytesIO(data))]


def save_bytes(store: ImageStore, names: list[str]) -> bytes:
    return b"".join(save(store, names))


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def test_busybox_archive_loads_with_its_id(store: ImageStore, tmp_path: Path) -> None:
    path = busybox.build_busybox_archive(tmp_path)
    with open(path, "rb") as f:
        assert [m["stream"] for m in load(store, f)] == ["Loaded image: busybox:latest\n"]
    assert store.resolve("busybox") == busybox.image_id()
    fs = store.rootfs_layers("busybox")[0]
    assert (fs / "bin" / "sh").stat().st_ino == (fs / "bin" / "busybox").stat().st_ino


def test_save_writes_docker25_layout(store: ImageStore) -> None:
    image_id = add_image(store, LAYERS, ["app:1"], compress=True)
    files = members(save_bytes(store, ["app:1"]))
    manifest = json.loads(files["manifest.json"])
    assert manifest == [{"Config": f"blobs/sha256/{image_id[7:]}", "RepoTags": ["app:1"],
                         "Layers": [f"blobs/sha256/{sha256(t)[7:]}" for t in LAYERS]}]
    assert [files[p] for p in manifest[0]["Layers"]] == LAYERS  # uncompressed tars
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])["manifests"][0]
    assert index["annotations"]["io.containerd.image.name"] == "docker.io/library/app:1"
    oci_manifest = json.loads(files[f"blobs/sha256/{index['digest'][7:]}"])
    assert oci_manifest["config"]["digest"] == image_id
    assert json.loads(files["repositories"]) == {"app": {"1": sha256(LAYERS[-1])[7:]}}


def test_round_trip_keeps_ids_and_tags(store: ImageStore, tmp_path: Path) -> None:
    one = add_image(store, LAYERS, ["app:1", "app:2"])
    two = add_image(store, LAYERS[:1], ["localhost:5000/base:x"])
    archive = save_bytes(store, ["app", "localhost:5000/base:x"])
    other = ImageStore(tmp_path / "other")
    msgs = load_bytes(other, archive)
    assert sorted(msgs) == ["Loaded image: app:1\n", "Loaded image: app:2\n", "Loaded image: localhost:5000/base:x\n"]
    assert other.resolve("app:1") == other.resolve("app:2") == one and other.resolve("localhost:5000/base:x") == two
    assert len(other.snapshots.ids()) == 2
    other.close()


def test_save_by_id_has_no_tags(store: ImageStore, tmp_path: Path) -> None:
    image_id = add_image(store, LAYERS, ["app:1"])
    manifest = json.loads(members(save_bytes(store, [image_id[7:19]]))["manifest.json"])
    assert manifest[0]["RepoTags"] is None
    other = ImageStore(tmp_path / "o")
    assert load_bytes(other, save_bytes(store, [image_id])) == [f"Loaded image ID: {image_id}\n"]
    other.close()


def test_save_unknown_image(store: ImageStore) -> None:
    with pytest.raises(NotFound, match="^No such image: nope$"):  # dockerd 20.10: as given
        save(store, ["nope"])
    with pytest.raises(NotFound, match="^reference does not exist$"):
        save(store, ["nope:1"])


def test_legacy_format_with_shared_layer(store: ImageStore) -> None:
    archive = legacy_archive([(LAYERS, ["old:1"]), ([LAYERS[0]], [])])
    msgs = load_bytes(store, archive)
    config = make_config([sha256(t) for t in LAYERS])
    assert msgs == ["Loaded image: old:1\n", f"Loaded image ID: {sha256(make_config([sha256(LAYERS[0])]))}\n"]
    assert store.resolve("old:1") == sha256(config)
    assert (store.rootfs_layers("old:1")[1] / "app" / "run").read_bytes() == b"#!/bin/sh\n"


def test_bare_oci_layout(store: ImageStore) -> None:
    load_bytes(store, oci_archive([(LAYERS, ["oci:1"])], docker_json=False))
    assert store.resolve("oci:1") == sha256(make_config([sha256(t) for t in LAYERS]))


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress, bz2.compress,
                                      zstandard.ZstdCompressor().compress])
def test_compressed_archives(store: ImageStore, compress: object) -> None:
    archive = compress(oci_archive([(LAYERS, ["c:1"])]))  # type: ignore[operator]
    assert load_bytes(store, archive) == ["Loaded image: c:1\n"]


def test_existing_tag_is_moved(store: ImageStore) -> None:
    old = add_image(store, [simple_layer("old")], ["app:1"])
    msgs = load_bytes(store, oci_archive([(LAYERS, ["app:1"])]))
    assert msgs[0] == f"The image app:1 already exists, renaming the old one with ID {old} to empty string\n"
    assert store.list_images(filters={"dangling": ["true"]})[0]["Id"] == old


def _assert_unchanged_after(store: ImageStore, data: bytes, exc: type[Exception], match: str) -> None:
    add_image(store, [simple_layer("pre")], ["pre:1"])
    before = store_state(store)
    with pytest.raises(exc, match=match):
        load_bytes(store, data)
    assert store_state(store) == before


@pytest.mark.parametrize("fraction", [0.02, 0.2, 0.45, 0.7, 0.9, 0.99])
def test_truncated_archive_changes_nothing(store: ImageStore, fraction: float) -> None:
    archive = oci_archive([(LAYERS + [make_tar([F("big", os.urandom(200_000))])], ["t:1"])])
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        end = max(m.offset_data + m.size for m in tar)  # a cut in the zero trailer loses nothing
    _assert_unchanged_after(store, archive[: int(end * fraction)], InvalidArgument,
                            "truncated|unexpected|invalid archive|size mismatch")


def test_truncated_compressed_archive(store: ImageStore) -> None:
    archive = gzip.compress(oci_archive([(LAYERS, ["t:1"])]))
    _assert_unchanged_after(store, archive[: len(archive) // 2], InvalidArgument, "truncated|unexpected")


def test_blob_digest_mismatch(store: ImageStore) -> None:
    archive = bytearray(oci_archive([(LAYERS, ["d:1"])]))
    pos = archive.find(b"#!/bin/sh")
    archive[pos] = ord("X")
    _assert_unchanged_after(store, bytes(archive), DigestMismatch, "digest mismatch")


def test_legacy_layer_not_matching_config(store: ImageStore) -> None:
    archive = bytearray(legacy_archive([(LAYERS, ["d:1"])]))
    pos = archive.find(b"#!/bin/sh")
    archive[pos] = ord("X")
    _assert_unchanged_after(store, bytes(archive), DigestMismatch, "digest mismatch")


def test_unknown_media_type(store: ImageStore) -> None:
    archive = oci_archive([(LAYERS, ["m:1"])], docker_json=False, layer_media_type="application/x-nope")
    _assert_unchanged_after(store, archive, InvalidArgument, "unsupported media type 'application/x-nope'")


def test_hostile_layer_in_archive(store: ImageStore) -> None:
    evil = make_tar([F("ok", b"1"), F("esc", type=tarfile.SYMTYPE, linkname="/tmp"), F("esc/pwned", b"x")])
    _assert_unchanged_after(store, oci_archive([([LAYERS[0], evil], ["evil:1"])]), HostileLayer, "symlink")
    assert not Path("/tmp/pwned").exists()


def test_second_image_failing_adds_neither(store: ImageStore) -> None:
    evil = make_tar([F("../x", b"1")])
    _assert_unchanged_after(store, oci_archive([(LAYERS, ["good:1"]), ([evil], ["bad:1"])]), HostileLayer, r"\.\.")


@pytest.mark.parametrize("data,match", [
    (b"", "invalid archive"), (b"not a tar at all" * 100, "invalid archive"),
    (gzip.compress(b"garbage" * 100), "invalid archive"),
])
def test_not_an_archive(store: ImageStore, data: bytes, match: str) -> None:
    _assert_unchanged_after(store, data, InvalidArgument, match)


def test_archive_without_manifest(store: ImageStore) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    _assert_unchanged_after(store, buf.getvalue(), InvalidArgument, "no manifest.json")


def test_manifest_naming_missing_blob(store: ImageStore) -> None:
    archive = members(oci_archive([(LAYERS, ["x:1"])]))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in archive.items():
            if name.endswith(sha256(LAYERS[1])[7:]):
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    _assert_unchanged_after(store, buf.getvalue(), InvalidArgument, "not in the archive")


@pytest.mark.slow
def test_load_streams_without_buffering(store: ImageStore, tmp_path: Path) -> None:
    big = tmp_path / "big.tar"
    layer = tmp_path / "layer.tar"
    with tarfile.open(layer, "w") as tar:
        info = tarfile.TarInfo("blob")
        info.size = 64 << 20
        tar.addfile(info, io.BytesIO(os.urandom(info.size)))
    image = busybox.make_image("big:1", extra_layers=[layer])
    busybox.write_archive(big, [image])
    tracemalloc.start()
    try:
        with open(big, "rb") as f:
            list(load(store, f))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 24 << 20, f"load buffered {peak >> 20} MiB"
    assert store.resolve("big:1") == image.config.digest


def test_concurrent_loads_of_one_archive(store: ImageStore) -> None:
    import threading

    archive = oci_archive([(LAYERS, ["same:1"]), ([LAYERS[0]], ["same:2"])])
    errors: list[BaseException] = []

    def run() -> None:
        try:
            load_bytes(store, archive)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count_images() == 2 and len(store.snapshots.ids()) == 2
    assert [p.name for p in store.snapshots.root.iterdir() if len(p.name) != 64] == []
    assert set(store.content.digests()) == store.meta.referenced_blobs()


def test_oci_layout_with_a_multi_platform_index(store: ImageStore) -> None:
    from dockyard.engine import go_arch

    files = members(oci_archive([(LAYERS, [])], docker_json=False))
    manifest_desc = json.loads(files["index.json"])["manifests"][0]
    other = {**manifest_desc, "digest": "sha256:" + "0" * 64, "platform": {"os": "linux", "architecture": "s390x"}}
    nested = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                         "manifests": [other, {**manifest_desc, "platform": {"os": "linux", "architecture": go_arch()}}]}).encode()
    files[f"blobs/sha256/{sha256(nested)[7:]}"] = nested
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha256(nested), "size": len(nested),
        "annotations": {"io.containerd.image.name": "docker.io/library/multi:1"}}]}).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert load_bytes(store, buf.getvalue()) == ["Loaded image: multi:1\n"]
    assert store.resolve("multi:1") == sha256(make_config([sha256(t) for t in LAYERS]))
