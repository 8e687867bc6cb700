""".dockerignore: moby/patternmatcher matching and BuildKit-style context walking."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.build.dockerignore import (
    DockerIgnore,
    IgnorePatternError,
    compile_pattern,
    go_clean,
    read_patterns,
)
from dockyard.errors import InvalidArgument

# (pattern, path, excluded) — a path is excluded when it or a parent directory matches.
SINGLE = [
    ("**", "file", True), ("**", "dir/file", True), ("**/", "file", True),
    ("**/**", "dir/file", True), ("dir/**", "dir/file", True), ("dir/**", "dir/dir2/file", True),
    ("**/dir", "dir", True), ("**/dir", "dir/file", True), ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True), ("**file", "file", True),
    ("**file", "dir/file", True), ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True), ("**/file*txt", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True), ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True), ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False), ("a/*.txt", "a/file.txt", True),
    ("a[b-d]e", "ae", False), ("a[b-d]e", "ace", True), ("a[^b-d]e", "aze", True),
    (".*", ".foo", True), (".*", "foo", False), ("abc.def", "abcdef", False),
    ("abc?def", "abcZdef", True), ("abc?def", "abcdef", False),
    ("**/foo/bar", "foo/bar", True), ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False), ("abc/**", "abc/def/ghi", True), ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False), ("a(b)c/def", "a(b)c/def", True),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True), ("dist/*.whl", "dist/p-2.4+g0-py3-none-any.whl", True),
    ("a\\\\", "a\\", True), ("a\\*b", "a*b", True), ("a\\*b", "ab", False),
    ("*", "abc", True), ("*c", "abc", True), ("a*", "ab/c", True), ("a*/b", "abc/b", True),
    ("a*/b", "a/c/b", False), ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False), ("ab[^c]", "abc", False), ("a?b", "a☺b", True),
    ("a???b", "a☺b", False), ("[a-ζ]*", "α", True), ("*[a-ζ]", "A", False),
    ("a?b", "a/b", False), ("a*b", "a/b", False), ("[\\]a]", "]", True), ("[\\-]", "-", True),
    ("[x\\-]", "-", True), ("[x\\-]", "z", False), ("*x", "xxx", True),
    ("/abs", "abs", True), ("./rel/", "rel/x", True), ("a/../b", "b", True),
    ("docs", "docs/README.md", True), ("node_modules", "src/node_modules", False),
    ("*/node_modules", "src/node_modules/x", True), ("*.md", "sub/README.md", False),
]


@pytest.mark.parametrize(("pattern", "path", "excluded"), SINGLE)
def test_single_pattern(pattern: str, path: str, excluded: bool) -> None:
    assert DockerIgnore.from_text(pattern).matches(path) is excluded


@pytest.mark.parametrize(("patterns", "path", "excluded"), [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/*.whl"], "dist/p.whl", False),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/other.md", True),
    (["!fileutils.go", "*.go"], "fileutils.go", True),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
    (["*.go", "!fileutils.go", "file*"], "fileutils.go", True),
    (["*", "!keep", "keep/drop"], "keep/drop/x", True),
    (["*", "!keep", "keep/drop"], "keep/stay", False),
])
def test_last_matching_line_wins(patterns: list[str], path: str, excluded: bool) -> None:
    assert DockerIgnore(patterns).matches(path) is excluded


def test_dot_is_never_excluded() -> None:
    assert DockerIgnore(["*", "**"]).matches(".") is False


@pytest.mark.parametrize("pattern", ["[", "[^", "[^bc", "a[", "[]a]", "[-]", "[x-]", "[-x]",
                                     "\\", "[a-b-c]"])
def test_bad_patterns(pattern: str) -> None:
    with pytest.raises(IgnorePatternError, match="syntax error in pattern") as info:
        DockerIgnore([pattern])
    assert isinstance(info.value, InvalidArgument)


def test_lone_exclamation_is_illegal() -> None:
    with pytest.raises(IgnorePatternError, match='illegal exclusion pattern: "!"'):
        DockerIgnore(["!"])


@pytest.mark.parametrize(("pattern", "kind"), [
    ("*", "regex"), ("**", "suffix"), ("**/**", "regex"), ("dir/**", "prefix"),
    ("**/dir", "suffix"), ("**/dir2/*", "regex"), ("**file", "suffix"), ("a[b-d]e", "regex"),
    ("abc", "exact"), ("a.b", "exact"),
])
def test_compile_kind(pattern: str, kind: str) -> None:
    assert compile_pattern(pattern, False).kind == kind


def test_read_patterns_normalises_like_readall() -> None:
    text = ("\ufeff# comment\n  # not a comment  \n\n/abs\n./rel/\n!  spaced  \n  trail  \r\n"
            "a//b/../c\n!/x\n/\n")
    assert read_patterns(text) == ["# not a comment", "abs", "rel", "!spaced", "trail",
                                   "a/c", "!x", "/"]


@pytest.mark.parametrize(("path", "clean"), [
    ("", "."), ("a/./b", "a/b"), ("//a", "/a"), ("a/../..", ".."), ("/../a", "/a"), ("a/", "a"),
])
def test_go_clean(path: str, clean: str) -> None:
    assert go_clean(path) == clean


def make_tree(root: Path, files: list[str]) -> None:
    for name in files:
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)


TREE = ["Dockerfile", ".dockerignore", "README.md", "app/main.py", "app/main.pyc",
        "app/sub/x.pyc", "docs/a.md", "docs/keep.md", "node_modules/m/index.js",
        "build/out/bin", "build/out/keep.txt", "empty/"]


def test_walk_excludes_and_reincludes(tmp_path: Path) -> None:
    make_tree(tmp_path, TREE)
    ig = DockerIgnore.from_text("**/*.pyc\nnode_modules\ndocs\n!docs/keep.md\n*.md\n!README.md\n")
    assert list(ig.walk(tmp_path)) == [
        ".dockerignore", "Dockerfile", "README.md", "app", "app/main.py", "app/sub", "build",
        "build/out", "build/out/bin", "build/out/keep.txt", "docs/keep.md", "empty"]
    walked = list(ig.walk(tmp_path))
    assert walked == sorted(walked, key=lambda p: p.split("/"))


def test_walk_is_lexical_parents_first(tmp_path: Path) -> None:
    make_tree(tmp_path, ["b/x", "a/y", "a.txt", "a/z/w"])
    assert list(DockerIgnore().walk(tmp_path)) == ["a", "a/y", "a/z", "a/z/w", "a.txt", "b",
                                                   "b/x"]


def test_excluded_dir_not_descended_without_matching_exception(tmp_path: Path) -> None:
    make_tree(tmp_path, ["big/a", "big/b", "other/keep"])
    seen: list[str] = []
    real_scandir = os.scandir

    def spy(path: str) -> object:
        seen.append(os.path.relpath(path, tmp_path))
        return real_scandir(path)

    ig = DockerIgnore(["big", "!other/keep"])
    os.scandir, saved = spy, os.scandir  # type: ignore[assignment]
    try:
        assert list(ig.walk(tmp_path)) == ["other", "other/keep"]
    finally:
        os.scandir = saved
    assert "big" not in seen


def test_excluded_dir_descended_for_wildcard_exception(tmp_path: Path) -> None:
    make_tree(tmp_path, ["big/a.txt", "big/b.go", "big/deep/c.go"])
    ig = DockerIgnore(["big", "!**/*.go"])
    assert list(ig.walk(tmp_path)) == ["big/b.go", "big/deep/c.go"]


def test_symlinks_are_yielded_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    make_tree(outside, ["secret"])
    ctx = tmp_path / "ctx"
    make_tree(ctx, ["f"])
    (ctx / "escape").symlink_to(outside)
    (ctx / "abs").symlink_to("/etc/passwd")
    (ctx / "dangling").symlink_to("nope")
    walked = list(DockerIgnore().walk(ctx))
    assert walked == ["abs", "dangling", "escape", "f"]
    assert all(not p.startswith("escape/") for p in walked)


def test_sockets_are_skipped(tmp_path: Path) -> None:
    import socket
    make_tree(tmp_path, ["f"])
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "s.sock"))
        os.mkfifo(tmp_path / "fifo")
        assert list(DockerIgnore().walk(tmp_path)) == ["f", "fifo"]
    finally:
        sock.close()


def test_from_file_and_dockerfile_specific_precedence(tmp_path: Path) -> None:
    make_tree(tmp_path, ["sub/"])
    assert DockerIgnore.from_file(tmp_path / "missing").patterns == []
    (tmp_path / ".dockerignore").write_text("a\n")
    (tmp_path / "sub" / "Dockerfile.dev.dockerignore").write_text("b\n")
    generic = DockerIgnore.for_build(tmp_path, tmp_path / "Dockerfile")
    assert generic.matches("a") and not generic.matches("b")
    specific = DockerIgnore.for_build(tmp_path, tmp_path / "sub" / "Dockerfile.dev")
    assert specific.matches("b") and not specific.matches("a")
    assert DockerIgnore.for_build(tmp_path).matches("a")
