"""Layer unpacking: metadata preserved, whiteouts translated, hostile tars contained."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
import zstandard
from store_helpers import F, make_tar, sha256

from dockyard.errors import DigestMismatch, InvalidArgument
from dockyard.store.snapshots import HostileLayer, SnapshotStore, chain_ids, unpack, unpack_layer
from dockyard.store.tarparse import TarError

DIR, SYM, LNK = tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


def extract(tmp_path: Path, entries: list[F], name: str = "out") -> Path:
    dest = tmp_path / name
    dest.mkdir()
    unpack(io.BytesIO(make_tar(entries)), dest)
    return dest


def outside_untouched(tmp_path: Path) -> None:
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "outside"]
    assert os.listdir(tmp_path / "outside") == ["keep"]
    assert (tmp_path / "outside" / "keep").read_bytes() == b"keep"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    d = tmp_path / "outside"
    d.mkdir()
    (d / "keep").write_bytes(b"keep")
    return d


def test_metadata_is_preserved(tmp_path: Path) -> None:
    out = extract(tmp_path, [
        F("d/", type=DIR, mode=0o750, uid=10, gid=20, mtime=1_600_000_000),
        F("d/suid", b"#!", mode=0o4755, uid=0, gid=0),
        F("d/owned", b"x", mode=0o640, uid=1000, gid=2000, mtime=1_500_000_000.5,
          xattrs={"user.note": "hello", "trusted.t": "v"}),
        F("d/link", type=SYM, linkname="owned", uid=7, gid=8),
        F("d/hard", type=LNK, linkname="d/owned", mode=0o640, uid=1000, gid=2000,
          mtime=1_500_000_000.5, xattrs={"user.note": "hello", "trusted.t": "v"}),
        F("dev/null", type=tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
        F("dev/fifo", type=tarfile.FIFOTYPE, mode=0o600),
    ])
    owned = (out / "d" / "owned").stat()
    assert (owned.st_uid, owned.st_gid, stat.S_IMODE(owned.st_mode)) == (1000, 2000, 0o640)
    assert owned.st_mtime_ns == 1_500_000_000_500_000_000
    assert os.getxattr(out / "d" / "owned", "user.note") == b"hello"
    assert os.getxattr(out / "d" / "owned", "trusted.t") == b"v"
    assert stat.S_IMODE((out / "d" / "suid").stat().st_mode) == 0o4755
    d = (out / "d").stat()
    assert (d.st_uid, d.st_gid, stat.S_IMODE(d.st_mode), int(d.st_mtime)) == (10, 20, 0o750, 1_600_000_000)
    assert os.readlink(out / "d" / "link") == "owned"
    assert (out / "d" / "link").lstat().st_uid == 7
    assert (out / "d" / "hard").stat().st_ino == owned.st_ino and owned.st_nlink == 2
    null = (out / "dev" / "null").stat()
    assert stat.S_ISCHR(null.st_mode) and os.major(null.st_rdev) == 1 and os.minor(null.st_rdev) == 3
    assert stat.S_ISFIFO((out / "dev" / "fifo").stat().st_mode)


def test_whiteouts_become_overlay_whiteouts(tmp_path: Path) -> None:
    out = extract(tmp_path, [
        F("etc/", type=DIR), F("etc/.wh.passwd"), F("var/", type=DIR), F("var/.wh..wh..opq"),
        F("var/.wh..wh.plnk"),
    ])
    wh = (out / "etc" / "passwd").lstat()
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == os.makedev(0, 0)
    assert not (out / "etc" / ".wh.passwd").exists()
    assert os.getxattr(out / "var", "trusted.overlay.opaque") == b"y"
    assert os.listdir(out / "var") == []


def test_layer_cannot_set_overlay_xattrs(tmp_path: Path) -> None:
    out = extract(tmp_path, [F("d/", type=DIR, xattrs={"trusted.overlay.redirect": "/etc"})])
    with pytest.raises(OSError):
        os.getxattr(out / "d", "trusted.overlay.redirect")


def test_dotdot_is_rejected(tmp_path: Path, outside: Path) -> None:
    with pytest.raises(HostileLayer, match=r"\.\."):
        extract(tmp_path, [F("../outside/evil", b"x")])
    with pytest.raises(HostileLayer):
        extract(tmp_path / "outside", [F("a/../../keep", b"x")], name="x")
    assert not (tmp_path / "outside" / "evil").exists()


def test_absolute_paths_stay_inside(tmp_path: Path, outside: Path) -> None:
    target = outside / "abs"
    out = extract(tmp_path, [F(str(target), b"x")])
    assert not target.exists()
    assert (out / str(target).lstrip("/")).read_bytes() == b"x"


@pytest.mark.parametrize("link", ["OUTSIDE", "../outside", "/"])
def test_symlink_parent_escape(tmp_path: Path, outside: Path, link: str) -> None:
    link = str(outside) if link == "OUTSIDE" else link
    with pytest.raises(HostileLayer, match="symlink"):
        extract(tmp_path, [F("esc", type=SYM, linkname=link), F("esc/keep", b"pwned")])
    outside_untouched(tmp_path)


def test_symlink_deeper_in_path(tmp_path: Path, outside: Path) -> None:
    with pytest.raises(HostileLayer):
        extract(tmp_path, [F("a/", type=DIR), F("a/b", type=SYM, linkname=str(outside)),
                           F("a/b/c/d", b"pwned")])
    outside_untouched(tmp_path)


def test_file_replacing_a_symlink_does_not_follow_it(tmp_path: Path, outside: Path) -> None:
    out = extract(tmp_path, [F("f", type=SYM, linkname=str(outside / "keep")), F("f", b"new")])
    assert (out / "f").read_bytes() == b"new" and not (out / "f").is_symlink()
    outside_untouched(tmp_path)


@pytest.mark.parametrize("target", ["OUTSIDE", "../outside/keep"])
def test_hardlink_escape(tmp_path: Path, outside: Path, target: str) -> None:
    target = str(outside / "keep") if target == "OUTSIDE" else target
    with pytest.raises(HostileLayer):
        extract(tmp_path, [F("h", type=LNK, linkname=target)])
    assert (outside / "keep").stat().st_nlink == 1


def test_hardlink_through_symlinked_dir(tmp_path: Path, outside: Path) -> None:
    with pytest.raises(HostileLayer):
        extract(tmp_path, [F("s", type=SYM, linkname=str(outside)), F("h", type=LNK, linkname="s/keep")])
    assert (outside / "keep").stat().st_nlink == 1


def test_hardlink_header_metadata_applies_to_the_inode_as_dockerd_does(tmp_path: Path) -> None:
    out = extract(tmp_path, [F("a", b"x", mode=0o600, uid=1), F("b", type=LNK, linkname="a", mode=0o644, uid=2)])
    st = (out / "a").stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_nlink) == (0o644, 2, 2)


def test_hardlink_to_a_symlink_links_the_symlink(tmp_path: Path) -> None:
    passwd = os.stat("/etc/passwd").st_nlink
    out = extract(tmp_path, [F("s", type=SYM, linkname="/etc/passwd"), F("h", type=LNK, linkname="s")])
    assert os.readlink(out / "h") == "/etc/passwd" and os.stat("/etc/passwd").st_nlink == passwd


def test_impossible_entry_is_a_layer_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="invalid layer entry .*name too long"):
        extract(tmp_path, [F("d/" + "x" * 300, b"1")])


def test_hardlink_then_rewrite_does_not_touch_target(tmp_path: Path) -> None:
    out = extract(tmp_path, [F("a", b"original"), F("b", type=LNK, linkname="a"), F("b", b"changed")])
    assert (out / "a").read_bytes() == b"original" and (out / "b").read_bytes() == b"changed"


def test_directory_replaced_by_file_and_back(tmp_path: Path) -> None:
    out = extract(tmp_path, [F("x/", type=DIR), F("x/y", b"1"), F("x", b"file"), F("x/", type=DIR)])
    assert (out / "x").is_dir() and os.listdir(out / "x") == []


def test_directory_listed_twice_or_replaced(tmp_path: Path) -> None:
    out = extract(tmp_path, [F("d/", type=DIR, mode=0o700), F("d/", type=DIR, mode=0o751),
                             F("e/", type=DIR), F("e", b"now a file")])
    assert stat.S_IMODE((out / "d").stat().st_mode) == 0o751
    assert (out / "e").read_bytes() == b"now a file"


def test_long_names_gnu_and_pax(tmp_path: Path) -> None:
    long = "d/" + "n" * 150 + "/" + "f" * 120
    for fmt, name in ((tarfile.GNU_FORMAT, "gnu"), (tarfile.PAX_FORMAT, "pax")):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
            info = tarfile.TarInfo(long)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"ok"))
            link = tarfile.TarInfo("l")
            link.type, link.linkname = tarfile.SYMTYPE, "x" * 200
            tar.addfile(link)
        dest = tmp_path / name
        dest.mkdir()
        assert unpack(io.BytesIO(buf.getvalue()), dest).diff_id == sha256(buf.getvalue())
        assert (dest / long).read_bytes() == b"ok" and os.readlink(dest / "l") == "x" * 200


@pytest.mark.parametrize("compress", [lambda d: d, gzip.compress, zstandard.ZstdCompressor().compress])
def test_diff_id_is_sha256_of_the_tar(tmp_path: Path, compress: object) -> None:
    tar = make_tar([F("a", os.urandom(100_000)), F("b/", type=DIR)])
    blob = tmp_path / "layer"
    blob.write_bytes(compress(tar))  # type: ignore[operator]
    assert unpack_layer(blob, tmp_path / "dest") == sha256(tar)
    assert len((tmp_path / "dest" / "a").read_bytes()) == 100_000


@pytest.mark.parametrize("cut", [100, 700, 60_000])
def test_truncated_layers_fail(tmp_path: Path, cut: int) -> None:
    tar = make_tar([F("a", os.urandom(100_000))])
    for n, data in enumerate((tar[:cut], gzip.compress(tar)[:cut])):
        with pytest.raises(InvalidArgument, match="truncated|unexpected EOF"):
            unpack_layer(io.BytesIO(data), tmp_path / f"d{n}")


def test_garbage_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(TarError, match="checksum|invalid tar"):
        unpack_layer(io.BytesIO(b"x" * 4096), tmp_path / "d")


def test_snapshot_store_verifies_before_visible(tmp_path: Path) -> None:
    snaps = SnapshotStore(tmp_path)
    tar = make_tar([F("a", b"x")])
    chain = chain_ids([sha256(tar)])[0]
    with pytest.raises(DigestMismatch):
        snaps.create(chain, io.BytesIO(tar), expected_diff_id=sha256(b"other"))
    assert os.listdir(snaps.root) == []
    result = snaps.create(chain, io.BytesIO(tar), expected_diff_id=sha256(tar))
    assert snaps.exists(chain) and snaps.info(chain) == result and result.size == 1
    assert snaps.ids() == [chain]
    snaps.remove(chain)
    assert os.listdir(snaps.root) == []


def test_hostile_layer_leaves_no_snapshot(tmp_path: Path) -> None:
    snaps = SnapshotStore(tmp_path)
    tar = make_tar([F("../x", b"x")])
    with pytest.raises(HostileLayer):
        snaps.create(chain_ids([sha256(tar)])[0], io.BytesIO(tar))
    assert os.listdir(snaps.root) == []


def test_clean_removes_temp_and_unknown(tmp_path: Path) -> None:
    snaps = SnapshotStore(tmp_path)
    (snaps.root / "tmp-abc" / "fs").mkdir(parents=True)
    (snaps.root / "trash-abc").mkdir()
    (snaps.root / ("a" * 64) / "fs").mkdir(parents=True)
    (snaps.root / ("b" * 64) / "fs").mkdir(parents=True)
    assert snaps.clean({"sha256:" + "b" * 64}) == ["sha256:" + "a" * 64]
    assert os.listdir(snaps.root) == ["b" * 64]


def test_chain_ids() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    import hashlib

    assert chain_ids([a, b]) == [a, "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()]


class _NoLines(io.BytesIO):
    """A file that fails if iterated: files are iterators of lines, which an unpack must not use."""

    def __next__(self) -> bytes:
        raise AssertionError("a layer file was iterated line by line")


def test_files_are_read_in_blocks_and_chunk_iterators_taken_as_they_are(tmp_path: Path) -> None:
    data = b"line\n" * 100_000
    layer = gzip.compress(make_tar([F("a.txt", data=data)]), 1)
    (tmp_path / "file").mkdir()
    unpack(_NoLines(layer), tmp_path / "file")
    (tmp_path / "chunks").mkdir()
    result = unpack(iter([layer[:3], layer[3:1000], layer[1000:]]), tmp_path / "chunks")
    for out in ("file", "chunks"):
        assert (tmp_path / out / "a.txt").read_bytes() == data
    assert result.diff_id == sha256(gzip.decompress(layer))
