"""dockyard.gotar: the choices Go's tar writer makes that the side-by-side test with dockerd
(tests/interop/test_archive_headers_dockerd.py) does not reach with its files."""

from __future__ import annotations

import io
import stat
import tarfile

from dockyard import gotar

REG = stat.S_IFREG | 0o644


def _read(block: bytes) -> tarfile.TarInfo:
    return tarfile.open(fileobj=io.BytesIO(block + gotar.END)).next()  # type: ignore[return-value]


def test_a_long_name_that_splits_is_ustar_alone_and_a_pax_path_beside_another_record() -> None:
    name = b"a" * 80 + b"/" + b"b" * 60
    alone = gotar.header(gotar.Entry(name, REG, 0, 0, 0, 1))
    assert len(alone) == 512 and alone[345:425] == b"a" * 80 and alone[:60] == b"b" * 60
    with_uid = gotar.header(gotar.Entry(name, REG, 3_000_000, 0, 0, 1))
    assert with_uid[:512].startswith(b"a" * 80 + b"/PaxHeaders.0/" + b"b" * 6)
    assert with_uid[512:512 + 54].startswith(b"151 path=" + name[:40])  # path, then uid: sorted
    main = with_uid[1024:1536]
    assert main[345:500] == b"\0" * 155 and main[108:116] == b"0000000\0"
    assert (_read(with_uid).name, _read(with_uid).uid) == (name.decode(), 3_000_000)


def test_a_truncated_directory_name_ends_in_a_nul_not_a_slash() -> None:
    name = b"x" * 99 + b"/" + b"y" * 160 + b"/"  # no split: its last part is over 100
    block = gotar.header(gotar.Entry(name, stat.S_IFDIR | 0o755, 0, 0, 0, 1))
    main = block[-512:]
    assert main[:100] == b"x" * 99 + b"\0" and main[100:108] == b"0040755\0"
    assert _read(block).name == name.decode().rstrip("/")


def test_non_ascii_names_and_times_past_the_octal_field_are_records() -> None:
    block = gotar.header(gotar.Entry("é/f".encode(), REG, 0, 0, 0, -5, uname="ü".encode()))
    records = block[512:1024].rstrip(b"\0")
    assert records == b"12 mtime=-5\n13 path=\xc3\xa9/f\n12 uname=\xc3\xbc\n"
    main = block[1024:]
    assert main[:4] == b"/f\0\0" and main[136:148] == b"00000000000\0" and main[265:266] == b"\0"
    assert block[:16] == b"/PaxHeaders.0/f\0"  # path.Join("é/", "PaxHeaders.0", "f"), ASCII


def test_a_hard_link_keeps_its_files_mode_and_a_device_its_numbers() -> None:
    link = gotar.header(gotar.Entry(b"b", REG, 0, 0, 0, 1, b"a", hardlink=True))
    assert (link[156:157], link[100:108], link[157:159]) == (b"1", b"0100644\0", b"a\0")
    node = gotar.header(gotar.Entry(b"null", stat.S_IFCHR | 0o666, 0, 0, 0, 1, devmajor=1, devminor=3))
    assert (node[156:157], node[329:345]) == (b"3", b"0000001\x000000003\0")
    plain = gotar.header(gotar.Entry(b"f", REG, 0, 0, 0, 1))
    assert plain[329:345] == b"0000000\x000000000\0" and plain[148:156].endswith(b"\0 ")
