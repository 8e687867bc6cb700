"""store.diff on real overlay mounts: docker diff kinds, the OCI layer tar of an upper dir
(whiteouts, opaque dirs, hardlinks, symlinks, owners, modes, xattrs, mtimes), determinism,
and adopting the upper dir as the layer's snapshot without unpacking it again."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.oci import mediatypes as mt
from dockyard.store.diff import (
    ADDED,
    DELETED,
    MODIFIED,
    adopt_snapshot,
    changes,
    layer_from_upper,
    layer_tar,
    scratch_dir,
    write_layer,
)
from dockyard.store.images import ImageStore, LayerInput
from dockyard.store.snapshots import chain_ids, unpack

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts need root")


def _mount(lower: Path, upper: Path, work: Path, target: Path) -> None:
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={lower},upperdir={upper},workdir={work}", str(target)], check=True)


@pytest.fixture
def changed(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A lower dir and an upper dir holding every kind of change, made through overlayfs."""
    for sub in ("lower", "upper", "work", "merged"):
        (tmp_path / sub).mkdir()
    low = tmp_path / "lower"
    (low / "etc").mkdir()
    (low / "etc" / "a").write_text("a")
    (low / "etc" / "b").write_text("b")
    (low / "dir").mkdir()
    (low / "dir" / "old").write_text("old")
    m = tmp_path / "merged"
    _mount(low, tmp_path / "upper", tmp_path / "work", m)
    try:
        (m / "etc" / "a").write_text("A")
        os.unlink(m / "etc" / "b")
        shutil.rmtree(m / "dir")
        (m / "dir").mkdir()
        (m / "dir" / "new").write_text("new")
        (m / "file").write_text("x" * 1000)
        os.chown(m / "file", 1234, 5678)
        os.chmod(m / "file", 0o4711)
        os.utime(m / "file", (1_600_000_000, 1_600_000_000))
        os.setxattr(m / "file", "user.note", b"kept")
        os.link(m / "file", m / "hard")
        os.symlink("file", m / "link")
        os.mkfifo(m / "fifo")
        (m / ("x" * 120)).mkdir()
        (m / ("x" * 120) / ("y" * 120)).write_text("long name")
    finally:
        subprocess.run(["umount", str(m)], check=True)
    yield low, tmp_path / "upper"


def _names(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return list(tar)


def _members(upper: Path) -> list[tarfile.TarInfo]:
    return _names(b"".join(layer_tar(upper)))


def test_changes_kinds(changed: tuple[Path, Path]) -> None:
    low, upper = changed
    got = {c["Path"]: c["Kind"] for c in changes([low], upper)}
    assert got["/etc"] == MODIFIED and got["/etc/a"] == MODIFIED
    assert got["/etc/b"] == DELETED
    assert got["/dir"] == MODIFIED and got["/dir/new"] == ADDED
    assert got["/file"] == ADDED and got["/link"] == ADDED
    assert list(got) == sorted(got)


def test_layer_tar_whiteouts_and_metadata(changed: tuple[Path, Path]) -> None:
    _, upper = changed
    members = {m.name: m for m in _members(upper)}
    assert members["etc/.wh.b"].isfile() and members["etc/.wh.b"].size == 0
    assert members["etc/.wh.b"].mode == 0o600  # dockerd's overlay2 writes whiteouts so
    assert members["dir/.wh..wh..opq"].isfile()
    assert "dir/old" not in members
    f = members["file"]
    assert (f.uid, f.gid, f.mode, f.mtime, f.size) == (1234, 5678, 0o4711, 1_600_000_000, 1000)
    assert f.pax_headers.get("SCHILY.xattr.user.note") == "kept"
    assert members["hard"].islnk() and members["hard"].linkname == "file"
    assert members["link"].issym() and members["link"].linkname == "file"
    assert members["fifo"].isfifo()
    assert ("x" * 120) + "/" + ("y" * 120) in members  # PAX path record
    assert not any("overlay" in k for m in members.values() for k in m.pax_headers)


def test_layer_tar_sorted_and_deterministic(changed: tuple[Path, Path]) -> None:
    _, upper = changed
    first = b"".join(layer_tar(upper))
    assert first == b"".join(layer_tar(upper))
    names = [m.name for m in _names(first)]
    assert names.index("dir") < names.index("dir/new") < names.index("etc")


def test_layer_roundtrips_through_the_unpacker(changed: tuple[Path, Path], tmp_path: Path) -> None:
    _, upper = changed
    out = tmp_path / "out"
    out.mkdir()
    data = b"".join(layer_tar(upper))
    result = unpack(io.BytesIO(data), out)
    assert result.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert (out / "etc" / "a").read_text() == "A"
    assert os.stat(out / "etc" / "b").st_rdev == 0
    assert os.getxattr(out / "dir", "trusted.overlay.opaque") == b"y"
    st = os.stat(out / "file")
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777, st.st_nlink) == (1234, 5678, 0o4711, 2)
    assert os.readlink(out / "link") == "file"


def test_write_layer_streams_into_the_store_and_adopts_the_upper_dir(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "root")
    try:
        scratch = scratch_dir(store.snapshots)
        (scratch / "fs" / "hello").write_text("hi")
        inode = os.stat(scratch / "fs" / "hello").st_ino
        layer = write_layer(store.content, scratch / "fs")
        assert layer.blob_digest == layer.diff_id and layer.media_type == mt.OCI_LAYER
        assert layer.size == 2
        chain = chain_ids([layer.diff_id])[0]
        adopt_snapshot(store.snapshots, scratch, chain, layer)
        assert not scratch.exists()
        config = ('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers",'
                  f'"diff_ids":["{layer.diff_id}"]}}}}').encode()
        image_id = store.add(config, [LayerInput(layer.blob_digest)])
        (path,) = store.rootfs_layers(image_id)
        assert os.stat(path / "hello").st_ino == inode  # adopted, not unpacked again
    finally:
        store.close()


def test_layer_from_upper_contract(changed: tuple[Path, Path], tmp_path: Path) -> None:
    _, upper = changed
    chunks, diff_id, size = layer_from_upper(upper)
    assert diff_id == "" and size == 0 and isinstance(b"".join(chunks), bytes)  # type: ignore[arg-type]
    store = ImageStore(tmp_path / "root")
    try:
        _layer, diff_id, size = layer_from_upper(upper, [], store.content)
        assert store.content.has(diff_id) and store.content.size(diff_id) == size
    finally:
        store.close()


def test_fast_ustar_headers_equal_tarfiles(tmp_path: Path) -> None:
    """The direct USTAR packer must write exactly what tarfile writes (stable diff_ids)."""
    from dockyard.store.diff import _pax_header, _ustar

    f = tmp_path / "f"
    f.write_text("data")
    os.chown(f, 1000, 2000)
    os.chmod(f, 0o4755)
    st, dst = os.lstat(f), os.lstat(tmp_path)
    for name, stat_, kind, link, size in (("f", st, tarfile.REGTYPE, "", 4),
                                          ("d/", dst, tarfile.DIRTYPE, "", 0),
                                          ("l", st, tarfile.SYMTYPE, "../f", 0),
                                          ("h", st, tarfile.LNKTYPE, "f", 0),
                                          ("p", st, tarfile.FIFOTYPE, "", 0)):
        assert _ustar(name, stat_, kind, link, size) == _pax_header(name, stat_, kind, {}, link,
                                                                    size)
    assert _ustar("x" * 101, st, tarfile.REGTYPE, "", 0) is None  # needs a PAX path record
    assert _ustar("é", st, tarfile.REGTYPE, "", 0) is None
