"""``volumes.subpath``: Go's ``filepath.IsLocal`` and dockerd 26's ``safepath`` resolution on a
real directory tree (links in, out, up, absolute; missing parts) with its words."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import DockyardError, InvalidArgument
from dockyard.volumes.subpath import SubpathEscapes, SubpathNotFound, copy_target, is_local, resolve


@pytest.mark.parametrize(("path", "local"), [
    ("a", True), ("a/b", True), (".", True), ("a/..", True), ("a/../b", True), ("a//b/", True),
    ("", False), ("/a", False), ("..", False), ("../a", False), ("a/../..", False),
    ("a/../../b", False), ("./..", False),
])
def test_is_local_is_gos(path: str, local: bool) -> None:
    assert is_local(path) is local


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    data = tmp_path / "v" / "_data"
    (data / "sub" / "dir").mkdir(parents=True)
    (data / "file").write_text("x")
    (data / "in").symlink_to("sub/dir")
    (data / "abs-in").symlink_to(data / "sub")
    (data / "etc").symlink_to("/etc")
    (data / "up").symlink_to("../..")
    (data / "sub" / "root").symlink_to("/")
    (data / "loop").symlink_to("loop")
    return data


def test_links_inside_the_volume_are_followed(volume: Path) -> None:
    assert resolve(str(volume), "sub/dir") == "sub/dir"
    assert resolve(str(volume), "in") == "sub/dir"
    assert resolve(str(volume), "abs-in/dir") == "sub/dir"
    assert resolve(str(volume), "sub/nope/../dir") == "sub/dir"  # cleaned first (Go's Join)
    assert resolve(str(volume), "in/..") == "."  # so ".." never walks back through a link
    assert resolve(str(volume), ".") == "."


@pytest.mark.parametrize("subpath", ["etc", "up", "sub/root", "sub/root/etc", "up/v/_data/etc"])
def test_links_out_are_refused(volume: Path, subpath: str) -> None:
    with pytest.raises(SubpathEscapes) as refused:
        resolve(str(volume), subpath)
    assert str(refused.value) == ("path concatenation escapes the base directory, "
                                  f"base: {volume}, subpath: {subpath}")
    assert refused.value.status == 400


def test_missing_and_odd_paths(volume: Path) -> None:
    with pytest.raises(SubpathNotFound) as missing:
        resolve(str(volume), "sub/nope/deeper")
    assert str(missing.value) == (f"cannot access path {volume}/sub/nope/deeper: "
                                  f"lstat {volume}/sub/nope: no such file or directory")
    assert missing.value.status == 404
    with pytest.raises(DockyardError) as through_file:
        resolve(str(volume), "file/x")
    assert str(through_file.value) == (f'error while resolving symlinks in combined path '
                                       f'"{volume}/file/x": not a directory')
    with pytest.raises(DockyardError, match="EvalSymlinks: too many links"):
        resolve(str(volume), "loop")


def test_copy_target(volume: Path) -> None:
    assert copy_target(str(volume), "in") == "sub/dir"
    assert copy_target(str(volume), "nope") is None
    with pytest.raises(InvalidArgument, match="^failed to populate volume: path concatenation"):
        copy_target(str(volume), "etc")
