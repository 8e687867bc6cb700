"""Pure parts of the builder: Go-formatted history texts, classic comments for metadata
steps, cache keys and the persisted cache index, context digests and source matching, and the
CLI's step view."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from dockyard.build.cache import BuildCache, step_key
from dockyard.build.context import BuildContext, ContextError, classic_hash, multi_hash
from dockyard.build.dockerfile import parse, resolve
from dockyard.build.imageconfig import ImageConfig, go_duration, go_list, go_rune
from dockyard.build.steps import StageState, apply_meta, meta_comment
from dockyard.cli.build import StepView
from dockyard.gostrconv import quote as go_quote


@pytest.mark.parametrize(("text", "quoted"), [
    ("plain", '"plain"'), ('say "hi"', '"say \\"hi\\""'), ("a\\b", '"a\\\\b"'),
    ("tab\there\n", '"tab\\there\\n"'), ("\x01", '"\\x01"'), ("é", '"é"'),
])
def test_go_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


@pytest.mark.parametrize(("ns", "text"), [
    (0, "0s"), (1_500_000, "1.5ms"), (3_000_000_000, "3s"), (90_000_000_000, "1m30s"),
    (3_600_000_000_000, "1h0m0s"), (1_500_000_000, "1.5s"), (300_000_000_000, "5m0s"),
])
def test_go_duration(ns: int, text: str) -> None:
    assert go_duration(ns) == text


def test_go_list_and_rune() -> None:
    assert go_list(["cat", "/greeting"]) == '["cat" "/greeting"]'
    assert go_rune(3) == "'\\x03'" and go_rune(65) == "'A'"


def _steps(text: str) -> list[object]:
    build = resolve(parse(text), image_env=lambda _n, _p: ["PATH=/bin"])
    return [s.instruction for s in build.target_stage.steps]


def test_meta_comments_are_the_classic_builders() -> None:
    state = StageState(ImageConfig({"config": {"Env": ["PATH=/bin"]}}, "sha256:x",
                                   ("linux", "amd64", "")))
    texts = []
    for inst in _steps('FROM busybox\nENV A=1 B="two words"\nLABEL k=v\nCMD echo hi\n'
                       'ENTRYPOINT ["/bin/sh"]\nEXPOSE 80\nVOLUME ["/a", "/b"]\n'
                       "STOPSIGNAL SIGKILL\nARG X=1\nUSER 1:2\n"):
        texts.append(meta_comment(inst, state))  # type: ignore[arg-type]
        apply_meta(inst, state)  # type: ignore[arg-type]
    assert texts == ["ENV A=1 B=two words", "LABEL k=v", 'CMD ["/bin/sh" "-c" "echo hi"]',
                     'ENTRYPOINT ["/bin/sh"]', "EXPOSE 80/tcp", "VOLUME [/a /b]",
                     "STOPSIGNAL SIGKILL", "ARG X=1", "USER 1:2"]
    config = state.config.config
    assert config["Cmd"] == ["/bin/sh", "-c", "echo hi"]  # set in this Dockerfile: kept
    assert state.args == {"X": "1"}
    assert state.config.nop_cmd("ENV A=1") == ["/bin/sh", "-c", "#(nop) ", "ENV A=1"]


def test_entrypoint_resets_an_inherited_cmd() -> None:
    state = StageState(ImageConfig({"config": {"Cmd": ["sh"]}}, "sha256:x", ("linux", "amd64", "")))
    for inst in _steps('FROM busybox\nENTRYPOINT ["/bin/echo"]\n'):
        apply_meta(inst, state)  # type: ignore[arg-type]
    assert state.config.config["Cmd"] is None


def test_commit_records_history_and_parent() -> None:
    cfg = ImageConfig(None, "", ("linux", "amd64", ""))
    assert cfg.config["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    cfg.image_id = "sha256:parent"
    import json

    data = json.loads(cfg.commit(cfg.nop_cmd("LABEL a=b"), None))
    assert data["config"]["Image"] == "sha256:parent"
    assert data["history"][-1]["created_by"] == "/bin/sh -c #(nop)  LABEL a=b"
    assert data["history"][-1]["empty_layer"] is True
    data = json.loads(cfg.commit(["/bin/sh", "-c", "true"], "sha256:" + "a" * 64))
    assert data["rootfs"]["diff_ids"] == ["sha256:" + "a" * 64]
    assert "empty_layer" not in data["history"][-1]


def test_step_keys_depend_on_content_not_order_of_args() -> None:
    a = step_key("sha256:p", "RUN x", [("A", "1"), ("B", "2")], ["sha256:d"])
    assert a == step_key("sha256:p", "RUN x", [("B", "2"), ("A", "1")], ["sha256:d"])
    assert a != step_key("sha256:q", "RUN x", [("A", "1"), ("B", "2")], ["sha256:d"])
    assert a != step_key("sha256:p", "RUN x", [("A", "1"), ("B", "2")], ["sha256:e"])


def test_cache_index_persists_and_forgets_missing_images(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path)
    cache.put("k1", "sha256:i1", "sha256:p", "RUN x", 10)
    cache.close()
    cache = BuildCache(tmp_path)
    assert cache.get("k1", lambda _i: True) == "sha256:i1"
    assert cache.entries()[0].usage == 2
    assert cache.disk_usage()[0]["Size"] == 10
    assert cache.get("k1", lambda _i: False) is None
    assert cache.get("k1", lambda _i: True) is None  # the stale row went
    cache.close()


def test_source_hashes_ignore_mtimes_but_not_content_or_mode(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")

    def digest() -> str:
        return classic_hash(tmp_path, tmp_path / "d")

    first = digest()
    assert first.startswith("dir:")
    os.utime(tmp_path / "d" / "f", (1, 1))
    assert digest() == first
    os.chmod(tmp_path / "d" / "f", 0o600)
    assert digest() != first
    (tmp_path / "d" / "f").write_text("y")
    assert digest() != first
    assert multi_hash(["file:a"]) == "file:a" and multi_hash(["a", "b"]).startswith("multi:")


def test_file_hash_is_dockerd_classic_one(tmp_path: Path) -> None:
    """dockerd 20.10 named this file ``file:aad3286e…`` in the recorded build's history."""
    path = tmp_path / "hello.txt"
    path.write_text("hello from the build context\n")
    os.chmod(path, 0o644)
    os.chown(path, 0, 0)
    assert classic_hash(tmp_path, path) == (
        "file:aad3286ebadec9b990e236276a99827dc3a17926a21d903204eecd37a0945bbe")


def _context(tmp_path: Path, files: dict[str, str]) -> BuildContext:
    import tarfile

    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(text.encode()))
    data.seek(0)
    return BuildContext.from_tar(data, tmp_path / "tmp")


def test_context_sources_wildcards_and_escapes(tmp_path: Path) -> None:
    ctx = _context(tmp_path, {"Dockerfile": "FROM x", "a.txt": "a", "b.txt": "b",
                              "sub/c.txt": "c", ".dockerignore": "b.txt\n"})
    try:
        assert ctx.read_dockerfile("") == b"FROM x"
        ctx.apply_dockerignore()
        assert [p.name for p in ctx.sources("*.txt")] == ["a.txt"]
        assert [p.name for p in ctx.sources("sub/*.txt")] == ["c.txt"]
        with pytest.raises(ContextError, match="file not found in build context"):
            ctx.sources("../../etc/passwd")
        with pytest.raises(ContextError, match="no source files were specified"):
            ctx.sources("*.md")
        with pytest.raises(ContextError, match="Cannot locate specified Dockerfile: Nope"):
            ctx.read_dockerfile("Nope")
    finally:
        ctx.close()


def test_step_view_is_readable() -> None:
    out = io.StringIO()
    view = StepView(out)
    image = view.run([{"stream": "Step 1/2 : FROM busybox\n ---> abc\n"},
                      {"stream": "Step 2/2 : RUN echo hi\n ---> Running in 123\n"},
                      {"stream": "hi\n"}, {"stream": "Removing intermediate container 123\n"},
                      {"aux": {"ID": "sha256:f00"}}, {"stream": "Successfully built f00\n"},
                      {"stream": "Successfully tagged x:1\n"}])
    text = out.getvalue()
    assert image == "sha256:f00"
    assert "=> [1/2] FROM busybox" in text and "=> [2/2] RUN echo hi" in text
    assert "   | hi\n" in text and "=> tagged x:1" in text and "Removing" not in text
    quiet = io.StringIO()
    StepView(quiet, quiet=True).run([{"stream": "Step 1/1 : FROM x\n"}, {"aux": {"ID": "i"}}])
    assert quiet.getvalue() == "i\n"
    pulled = io.StringIO()  # a base image's pull, inside its FROM step
    StepView(pulled).run([{"stream": "Step 1/1 : FROM r/x\n"}, {"status": "Pulling from x", "id": "1"},
                          {"status": "Downloading", "id": "abc", "progress": "[=>  ]"},
                          {"status": "Pull complete", "id": "abc"}, {"status": "Digest: sha256:d"},
                          {"stream": " ---> f00\n"}])
    assert pulled.getvalue().startswith("=> [1/1] FROM r/x\n   | 1: Pulling from x\n   | abc: Pull "
                                        "complete\n   | Digest: sha256:d\n   done in ")


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_context_tar_may_be_compressed(tmp_path: Path, mode: str) -> None:
    import tarfile

    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode=mode) as tar:  # type: ignore[call-overload]
        info = tarfile.TarInfo("Dockerfile")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"FROM x"))
    data.seek(0)
    ctx = BuildContext.from_tar(data, tmp_path / "tmp")
    try:
        assert ctx.read_dockerfile("Dockerfile") == b"FROM x"
    finally:
        ctx.close()


def test_context_root_is_0755_and_unsent_dirs_hash_as_their_path(tmp_path: Path) -> None:
    """dockerd extracts the context into a 0755 directory; a directory the client left out of
    the tar (excluded, entered for a ``!`` exception) has no tarsum there: its path stands in."""
    ctx = _context(tmp_path, {"Dockerfile": "FROM x", "build/keep.txt": "k", "build/out.bin": "o",
                              ".dockerignore": "build/\n!build/keep.txt\n"})
    try:
        assert os.stat(ctx.root).st_mode & 0o7777 == 0o755
        ctx.apply_dockerignore()
        assert ctx.unsent == {"build"}
        listed = classic_hash(ctx.root, ctx.root)
        before = ctx.digest(ctx.root)
        os.chmod(ctx.root / "build", 0o700)  # what the hash takes for "build" is its name only
        assert classic_hash(ctx.root, ctx.root, unsent=ctx.unsent) == before != listed
    finally:
        ctx.close()


def test_step_env_is_dockerds() -> None:
    from dockyard.build.executor import step_env

    env = step_env(["A=1", "PATH=/x"], "abcdef012345", "/root")
    assert env == ["PATH=/x", "HOSTNAME=abcdef012345", "A=1", "HOME=/root"]
    assert step_env(["HOME=/h", "HOSTNAME=set"], "id", "/root")[1:] == ["HOSTNAME=set", "HOME=/h"]


@pytest.mark.parametrize(("url", "disposition", "name"), [
    ("http://h/a/b.tar.gz", "", "b.tar.gz"),
    ("http://h/a/b.txt?x=1", 'attachment; filename="other.txt"', "b.txt"),
    ("http://h/dir/", 'attachment; filename="got.bin"', "got.bin"),
    ("http://h", 'attachment; filename="../../x"', "x"),
    ("http://h/", "", ""),
])
def test_add_url_file_name(url: str, disposition: str, name: str) -> None:
    from email.message import Message

    from dockyard.build.remote import filename

    headers = Message()
    if disposition:
        headers["Content-Disposition"] = disposition
    assert filename(url, headers) == name
