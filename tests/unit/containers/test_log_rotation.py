"""``--log-opt max-size/max-file/compress``: the shim's rotating writer, the reader over the
rotated files (and a follower across rotations), the shim's 16 KiB pieces, and the values a
start refuses — each expectation recorded from dockerd 20.10 on this machine (helper-39,
session 9) with 100 lines ``line 1`` … ``line 100`` written one by one."""

from __future__ import annotations

import gzip
import json
import os
import struct
from pathlib import Path
from typing import Any

import pytest

from dockyard.containers import logfile, shim
from dockyard.containers.create import log_rotation
from dockyard.containers.logfile import RotatingLog
from dockyard.containers.logs import LogOptions, LogReader, log_files
from dockyard.errors import DockyardError

CID = "c" * 64


def _log(tmp_path: Path, rotation: list[int]) -> tuple[str, RotatingLog]:
    path = str(tmp_path / f"{CID}-json.log")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
    return path, RotatingLog(fd, path, rotation)


def _write_lines(writer: RotatingLog, first: int, last: int) -> None:
    for i in range(first, last + 1):  # one entry per write, as a shell loop's echo
        writer.write("stdout", [f"line {i}\n".encode()], shim.log_time())


def _lines(data: bytes) -> list[int]:
    return [int(e.split()[1]) for e in data.decode().splitlines()]


def _read_all(path: str, files: int, **options: Any) -> bytes:
    return b"".join(d for _, d in LogReader(path, LogOptions(**options), files).initial())


def _logged(name: str) -> list[int]:
    data = Path(name).read_bytes()
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    return [int(json.loads(line)["log"].split()[1]) for line in data.splitlines()]


def test_json_file_rotation_keeps_max_file_files(tmp_path: Path) -> None:
    """max-size=1k (1000: dockerd's decimal units) max-file=3: dockerd's files held lines
    66–78, 79–91 and 92–100, and ``docker logs`` printed 66…100; each file is rotated when a
    write finds it at max-size or more."""
    path, writer = _log(tmp_path, log_rotation({"Config": {"max-size": "1k", "max-file": "3"}}))
    _write_lines(writer, 1, 100)
    assert sorted(os.listdir(tmp_path)) == [f"{CID}-json.log", f"{CID}-json.log.1",
                                            f"{CID}-json.log.2"]
    assert _logged(path + ".2") == list(range(66, 79))
    assert _logged(path + ".1") == list(range(79, 92))
    assert _logged(path) == list(range(92, 101))
    assert os.path.getsize(path + ".1") >= 1000 > os.path.getsize(path + ".1") - 78
    assert _lines(_read_all(path, 3)) == list(range(66, 101))
    assert _lines(_read_all(path, 3, tail=20)) == list(range(81, 101))
    stamped = _read_all(path, 3, timestamps=True).splitlines()
    assert stamped[0].endswith(b"Z line 66") and len(stamped) == 35
    assert _read_all(path, 3, stdout=False) == b""


def test_tail_reads_back_only_the_files_it_needs(tmp_path: Path) -> None:
    path, writer = _log(tmp_path, log_rotation({"Config": {"max-size": "1k", "max-file": "3"}}))
    _write_lines(writer, 1, 100)
    assert _lines(_read_all(path, 3, tail=30)) == list(range(71, 101))
    Path(path + ".2").write_bytes(b"not json\n")  # lines 66–78: not needed for the last 20
    assert _lines(_read_all(path, 3, tail=20)) == list(range(81, 101))
    with pytest.raises(ValueError):
        _read_all(path, 3, tail=30)


def test_max_file_1_replaces_the_file_and_reads_it_alone(tmp_path: Path) -> None:
    """dockerd 20.10 with max-size alone: the full file becomes ``.1`` (nobody reads it) and
    ``docker logs`` shows the live file only (lines 92…100)."""
    path, writer = _log(tmp_path, log_rotation({"Config": {"max-size": "1k"}}))
    _write_lines(writer, 1, 100)
    assert sorted(os.listdir(tmp_path)) == [f"{CID}-json.log", f"{CID}-json.log.1"]
    assert _logged(path + ".1") == list(range(79, 92))
    assert _lines(_read_all(path, 1)) == list(range(92, 101))


def test_compress_gzips_rotated_files_as_dockerd(tmp_path: Path) -> None:
    """compress=true: ``.1.gz`` and ``.2.gz``; dockerd's gzip header carries no name, mtime 0,
    OS 255 and ``{"lastTime": …}`` (Go's RFC 3339, trailing zeros cut) in its Extra field."""
    rotation = log_rotation({"Config": {"max-size": "1k", "max-file": "3", "compress": "true"}})
    path, writer = _log(tmp_path, rotation)
    _write_lines(writer, 1, 100)
    writer.settle()  # the last rotated file's gzip is made in the background
    assert sorted(os.listdir(tmp_path)) == [f"{CID}-json.log", f"{CID}-json.log.1.gz",
                                            f"{CID}-json.log.2.gz"]
    raw = Path(path + ".1.gz").read_bytes()
    assert raw[:10] == b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff"
    (xlen,) = struct.unpack("<H", raw[10:12])
    last = json.loads(raw[12:12 + xlen])["lastTime"]
    assert last == logfile.go_time(json.loads(gzip.decompress(raw).splitlines()[-1])["time"])
    assert _logged(path + ".2.gz") == list(range(66, 79))
    assert _lines(_read_all(path, 3)) == list(range(66, 101))


def test_go_time_cuts_trailing_zeros() -> None:
    assert logfile.go_time("2026-11-29T17:31:15.661730150Z") == "2026-11-29T17:31:15.66173015Z"
    assert logfile.go_time("2026-11-29T17:31:15.000000000Z") == "2026-11-29T17:31:15Z"


def test_local_driver_rotates_where_dockerds_binary_files_do(tmp_path: Path) -> None:
    """``--log-driver local --log-opt max-size=1k --log-opt max-file=3``: dockerd's
    ``docker logs`` printed lines 30…100 — each entry counted at its binary size (28 bytes
    and the line without its newline, as its ``container.log`` measured)."""
    rotation = log_rotation({"Type": "local", "Config": {"max-size": "1k", "max-file": "3"}})
    assert rotation == [1000, 3, True, True]
    path, writer = _log(tmp_path, rotation)
    _write_lines(writer, 1, 100)
    assert logfile.local_size(b"hi\n") == 30 and logfile.local_size(b"line 10\n") == 35
    assert _lines(_read_all(path, 3)) == list(range(30, 101))
    assert log_files({"LogConfig": {"Type": "local", "Config": {}}}) == 5


def test_log_files_is_what_dockerd_reads() -> None:
    assert log_files({"LogConfig": {"Type": "json-file", "Config": {}}}) == 0
    assert log_files({"LogConfig": {"Type": "json-file", "Config": {"max-file": "3"}}}) == 0
    assert log_files({"LogConfig": {"Type": "json-file",
                                    "Config": {"max-size": "1k", "max-file": "3"}}}) == 3
    assert log_files({"LogConfig": {"Type": "json-file", "Config": {"max-size": "1k"}}}) == 1
    assert log_files({"LogConfig": {"Type": "syslog", "Config": {"max-size": "1k"}}}) == 0


@pytest.mark.parametrize("compress", ["false", "true"])
def test_a_follower_reads_across_rotations_once(tmp_path: Path, compress: str) -> None:
    """``logs -f``: across one rotation, several between two reads, and a line cut by a read —
    every line once, in order (dockerd 20.10's follower repeated one line per rotation)."""
    rotation = log_rotation({"Config": {"max-size": "300", "max-file": "10",
                                        "compress": compress}})
    path, writer = _log(tmp_path, rotation)
    reader = LogReader(path, LogOptions(), files=10)
    got = _lines(b"".join(d for _, d in reader.initial()))
    _write_lines(writer, 1, 3)
    for last in (5, 6, 30, 31, 32, 60, 80):
        got += _lines(b"".join(d for _, d in reader.read()))
        _write_lines(writer, got[-1] + 1 if got else 1, last)
    os.write(writer.fd, b'{"log":"line 81\\n","stream":"std')
    got += _lines(b"".join(d for _, d in reader.read()))
    os.write(writer.fd, b'out","time":"2026-11-29T17:31:15.661730150Z"}\n')
    writer.size += 80
    _write_lines(writer, 82, 90)
    got += _lines(b"".join(d for _, d in reader.read()))
    assert got == list(range(1, 91))
    assert reader.read() == []


def test_a_follower_of_a_single_file_log_goes_on_in_the_new_file(tmp_path: Path) -> None:
    path, writer = _log(tmp_path, log_rotation({"Config": {"max-size": "300"}}))
    reader = LogReader(path, LogOptions(), files=1)
    _write_lines(writer, 1, 2)
    got = _lines(b"".join(d for _, d in reader.initial()))
    _write_lines(writer, 3, 5)  # one rotation: lines 1–4 in .1, 5 in the live file
    got += _lines(b"".join(d for _, d in reader.read()))
    assert got == [1, 2, 3, 4, 5]


def test_a_container_restarted_appends_to_its_last_file(tmp_path: Path) -> None:
    """The writer of a new run starts from the live file's size (dockerd's LogFile does)."""
    rotation = log_rotation({"Config": {"max-size": "1k", "max-file": "3"}})
    path, writer = _log(tmp_path, rotation)
    _write_lines(writer, 1, 10)
    os.close(writer.fd)
    path, writer = _log(tmp_path, rotation)
    _write_lines(writer, 11, 100)
    assert _lines(_read_all(path, 3)) == list(range(66, 101))


# ---- the shim's 16 KiB pieces --------------------------------------------------------------


def _shim_log(tmp_path: Path, chunks: list[bytes], rotation: list[int] | None = None) -> list[str]:
    """What a shim's ``_log`` writes for ``chunks`` (reads of one stream), then its EOF."""
    path = str(tmp_path / "piece.log")
    sh = shim.Shim.__new__(shim.Shim)
    sh.log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    sh.partial = {}
    sh.rotating = RotatingLog(sh.log, path, rotation) if rotation else None
    for chunk in chunks:
        sh._log("stdout", chunk)
    sh._log("stdout", b"", final=True)
    os.close(sh.log)
    return [json.loads(line)["log"] for line in Path(path).read_text().splitlines()]


def test_long_lines_are_logged_in_16k_pieces(tmp_path: Path) -> None:
    """dockerd's json-file for ``a``×40000, ``b``×16384, ``short``, ``c``×20000 without a
    newline: pieces of 16384, 16384, 7232+\\n; 16384, \\n; short\\n; 16384, 3616."""
    a, b, c = b"a" * 40000 + b"\n", b"b" * 16384 + b"\n", b"c" * 20000
    data = a + b + b"short\n" + c
    expected = [16384, 16384, 7233, 16384, 1, 6, 16384, 3616]
    for chunks in ([data], [data[i:i + 2048] for i in range(0, len(data), 2048)],
                   [data[:1], data[1:16384], data[16384:]]):
        entries = _shim_log(tmp_path, chunks)
        assert [len(e) for e in entries] == expected
        assert "".join(entries).encode() == data
        os.unlink(tmp_path / "piece.log")
    rotating = _shim_log(tmp_path, [data], [10**9, 1, False, False])
    assert [len(e) for e in rotating] == expected


def test_tail_counts_pieces_and_timestamps_prefix_each(tmp_path: Path) -> None:
    """dockerd: ``--tail 1`` printed the last piece (3616 bytes), ``-t`` put the time before
    every piece, inside the line."""
    _shim_log(tmp_path, [b"x" * 20000 + b"\n"])
    path = str(tmp_path / "piece.log")
    assert _read_all(path, 0, tail=1) == b"x" * 3616 + b"\n"
    stamped = _read_all(path, 0, timestamps=True)
    assert stamped.count(b"Z ") == 2 and len(stamped) == 20001 + 2 * 31


def test_short_lines_stay_whole(tmp_path: Path) -> None:
    assert _shim_log(tmp_path, [b"hel", b"lo\nwor", b"ld"]) == ["hello\n", "world"]


# ---- the values a start refuses ---------------------------------------------------------------

REFUSED = [  # (driver, options, dockerd 20.10's message after "failed to initialize logging driver: ")
    ("json-file", {"max-size": "abc"}, "invalid size: 'abc'"),
    ("json-file", {"max-size": "-1"}, "invalid size: '-1'"),
    ("json-file", {"max-size": " 1k"}, "invalid size: ' 1k'"),
    ("json-file", {"max-size": ""}, "invalid size: ''"),
    ("json-file", {"max-size": "1e3"}, "invalid size: '1e3'"),
    ("json-file", {"max-size": "0"}, "max-size must be a positive number"),
    ("json-file", {"max-size": "0.5"}, "max-size must be a positive number"),
    ("json-file", {"max-size": "1.2.3"}, 'strconv.ParseFloat: parsing "1.2.3": invalid syntax'),
    ("json-file", {"max-file": "0"}, "max-file cannot be less than 1"),
    ("json-file", {"max-file": "-1"}, "max-file cannot be less than 1"),
    ("json-file", {"max-file": "abc"}, 'strconv.Atoi: parsing "abc": invalid syntax'),
    ("json-file", {"max-file": ""}, 'strconv.Atoi: parsing "": invalid syntax'),
    ("json-file", {"compress": "maybe"}, 'strconv.ParseBool: parsing "maybe": invalid syntax'),
    ("json-file", {"compress": "1"},
     "compress cannot be true when max-file is less than 2 or max-size is not set"),
    ("json-file", {"max-size": "1k", "compress": "true"},
     "compress cannot be true when max-file is less than 2 or max-size is not set"),
    ("json-file", {"max-file": "2", "compress": "true"},
     "compress cannot be true when max-file is less than 2 or max-size is not set"),
    ("local", {"max-size": "abc"}, "invalid value for max-size: abc: invalid size: 'abc'"),
    ("local", {"max-size": ""}, "invalid value for max-size: : invalid size: ''"),
    ("local", {"max-file": "0"}, "compression cannot be enabled when max file count is 1"),
    ("local", {"max-size": "1k", "max-file": "1", "compress": "true"},
     "compression cannot be enabled when max file count is 1"),
    ("local", {"max-file": "-1"}, "max file count cannot be less than 0"),
    ("local", {"max-file": "abc"},
     'invalid value for max-file: abc: strconv.Atoi: parsing "abc": invalid syntax'),
    ("local", {"compress": "maybe"},
     'error reading compress log option: strconv.ParseBool: parsing "maybe": invalid syntax'),
]


@pytest.mark.parametrize(("driver", "options", "message"), REFUSED)
def test_bad_values_are_refused_with_dockerds_words(driver: str, options: dict[str, str],
                                                    message: str) -> None:
    with pytest.raises(DockyardError) as info:
        log_rotation({"Type": driver, "Config": options})
    assert str(info.value) == f"failed to initialize logging driver: {message}"
    assert info.value.status == 500


ACCEPTED = [  # what dockerd 20.10 started, and the sizes its files showed
    ({"max-size": "1"}, [1, 1, False, False]),
    ({"max-size": "1k"}, [1000, 1, False, False]),
    ({"max-size": "1K"}, [1000, 1, False, False]),
    ({"max-size": "1kb"}, [1000, 1, False, False]),
    ({"max-size": "1KiB"}, [1000, 1, False, False]),
    ({"max-size": "1 k"}, [1000, 1, False, False]),
    ({"max-size": "1ib"}, [1, 1, False, False]),
    ({"max-size": "1.5k"}, [1500, 1, False, False]),
    ({"max-size": "0.1k"}, [100, 1, False, False]),
    ({"max-size": "2m", "max-file": "3", "compress": "True"}, [2_000_000, 3, True, False]),
    ({"max-file": "2"}, []),
    ({"compress": "false"}, []),
    ({}, []),
]


@pytest.mark.parametrize(("options", "rotation"), ACCEPTED)
def test_accepted_values(options: dict[str, str], rotation: list[int]) -> None:
    assert log_rotation({"Type": "json-file", "Config": options}) == rotation


def test_local_defaults_and_other_drivers() -> None:
    assert log_rotation({"Type": "local"}) == [20_000_000, 5, True, True]
    assert log_rotation({"Type": "local", "Config": {"max-size": "0", "max-file": "0",
                                                     "compress": "false"}}) == [0, 0, False, True]
    assert log_rotation({"Type": "none", "Config": {}}) == []
    assert log_rotation({}) == []
