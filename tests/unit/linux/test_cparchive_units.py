"""Pure parts of the docker cp helper and the stats readers: Go file modes, path forms,
/proc/net/dev parsing, v1 blkio lines."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dockyard.linux import cgstats, cparchive


@pytest.mark.parametrize(("mode", "expected"), [
    (stat.S_IFREG | 0o644, 0o644),
    (stat.S_IFDIR | 0o755, (1 << 31) | 0o755),
    (stat.S_IFLNK | 0o777, (1 << 27) | 0o777),
    (stat.S_IFCHR | 0o666, (1 << 26) | (1 << 21) | 0o666),
    (stat.S_IFREG | stat.S_ISUID | 0o755, (1 << 23) | 0o755),
    (stat.S_IFDIR | stat.S_ISVTX | 0o777, (1 << 31) | (1 << 20) | 0o777),
])
def test_go_file_mode(mode: int, expected: int) -> None:
    assert cparchive.go_mode(mode) == expected


@pytest.mark.parametrize(("given", "path", "name"), [
    ("etc/passwd", "/etc/passwd", "passwd"),
    ("/../../etc//x/..", "/etc", "etc"),
    ("/srv/.", "/srv/.", "."),
    ("/srv/", "/srv/", "srv"),
    ("/", "/", "/"),
    ("..", "/", "/"),
])
def test_container_path_and_base_name(given: str, path: str, name: str) -> None:
    assert cparchive.container_path(given) == path
    assert cparchive.base_name(path) == name


def test_extract_refuses_climbing_entries(tmp_path: Path) -> None:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    (tmp_path / "dest").mkdir()
    with pytest.raises(cparchive.CopyError, match="outside of"):
        cparchive.extract(io.BytesIO(buf.getvalue()), str(tmp_path / "dest"), False, None)
    assert not (tmp_path / "escape.txt").exists()


def test_net_dev_and_blkio_parsing() -> None:
    """This process's own network namespace: every interface but lo, eight counters each."""
    import os

    found = cgstats.net_dev(os.getpid())
    assert "lo" not in found
    for counters in found.values():
        assert set(counters) == {"rx_bytes", "rx_packets", "rx_errors", "rx_dropped",
                                 "tx_bytes", "tx_packets", "tx_errors", "tx_dropped"}
    assert cgstats._blkio_v1("8:0 Read 4096\n8:0 Write 0\nTotal 4096\n") == [
        {"major": 8, "minor": 0, "op": "Read", "value": 4096},
        {"major": 8, "minor": 0, "op": "Write", "value": 0}]
