"""Properties: the front end never fails with anything but its typed errors."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.build.dockerfile import parse, resolve
from dockyard.build.dockerignore import DockerIgnore, IgnorePatternError
from dockyard.build.errors import DockerfileError
from dockyard.build.expand import ExpansionError, Lexer

KEYWORDS = ["FROM", "RUN", "CMD", "ENV", "ARG", "COPY", "ADD", "LABEL", "EXPOSE", "VOLUME",
            "USER", "WORKDIR", "SHELL", "STOPSIGNAL", "HEALTHCHECK", "ONBUILD", "ENTRYPOINT",
            "MAINTAINER", "from", "Run", "#", "# escape=`", "# syntax=x", ""]
PIECES = ["busybox", "AS", "b", "--from=b", "--mount=type=cache,target=/x", "--platform=$P",
          "$A", "${A:-x}", "${A", "'", '"', "\\", "`", "<<EOF", "<<-EOF", "EOF", "[", "]",
          '["a"]', "=", "a=b", "--", "--link", "CMD", "NONE", "0", "80/tcp", "\t", " ", "{"]

line = st.tuples(st.sampled_from(KEYWORDS),
                 st.lists(st.sampled_from(PIECES) | st.text(max_size=6), max_size=6)).map(
    lambda t: " ".join([t[0], *t[1]]))
dockerfile = st.lists(line, min_size=0, max_size=12).map("\n".join)


def check(text: str) -> None:
    try:
        df = parse(text)
    except DockerfileError as exc:
        exc.render()
        return
    try:
        resolve(df, build_args={"A": "1"}, target_platform="linux/amd64")
    except DockerfileError as exc:
        exc.render()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dockerfile)
def test_structured_noise_only_raises_typed_errors(text: str) -> None:
    check(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_only_raises_typed_errors(text: str) -> None:
    check(text)
    check("FROM busybox\n" + text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="$'\"\\"), max_size=80))
def test_expansion_without_specials_is_identity(word: str) -> None:
    assert Lexer().process_word(word, {"A": "1"}) == word


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40), st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,3}", fullmatch=True),
                                             st.text(max_size=5), max_size=4))
def test_expansion_raises_only_expansion_errors(word: str, env: dict[str, str]) -> None:
    try:
        Lexer().process_word(word, env)
        Lexer(escape="`").process_words(word, env)
    except ExpansionError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=5), st.text(max_size=20))
def test_ignore_patterns_raise_only_typed_errors(patterns: list[str], path: str) -> None:
    try:
        ig = DockerIgnore(patterns)
    except IgnorePatternError:
        return
    assert isinstance(ig.matches(path), bool)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.from_regex(r"[a-z]{1,3}(/[a-z]{1,3}){0,2}", fullmatch=True), max_size=6))
def test_walk_agrees_with_matches(paths: list[str]) -> None:
    ignore = DockerIgnore(["a*", "!ab", "**/c", "b/"])
    import tempfile
    with tempfile.TemporaryDirectory(prefix="dytest-walk-") as tmp:
        root = Path(tmp)
        for p in paths:
            target = root / p
            if target.exists() or any(q.is_file() for q in target.parents if q != root):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("x")
        walked = set(ignore.walk(root))
        everything = {str(p.relative_to(root)) for p in root.rglob("*")}
        for p in everything:
            if p in walked:
                assert not ignore.matches(p)
        for p in everything - walked:
            parents_excluded = ignore.matches(p) or any(
                ignore.matches(str(q.relative_to(root))) for q in (root / p).parents if q != root)
            assert parents_excluded


def test_a_200_line_dockerfile_parses_and_resolves_whole() -> None:
    """A long Dockerfile: every instruction kept (continuations joined), every ENV expanded from
    its ARG. Its speed is a benchmark figure (bench build), not a test."""
    body = []
    for i in range(40):
        body += [f"ARG V{i}=value-{i}", f"ENV E{i}=$V{i} F{i}=\"x y\"",
                 f"RUN --mount=type=cache,target=/c{i} echo {i} \\", "    && echo done",
                 f"COPY --chown=1:1 src{i}/ /dst/{i}/"]
    text = "FROM busybox\n" + "\n".join(body) + "\n"
    assert text.count("\n") >= 200
    df = parse(text)
    assert len(df.stages) == 1 and len(df.stages[0].instructions) == 160
    stage = resolve(df, target_platform="linux/amd64").target_stage
    env = dict(stage.env)
    assert env["E0"] == "value-0" and env["E39"] == "value-39" and env["F17"] == "x y"
