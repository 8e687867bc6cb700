"""Error objects: location, typed hierarchy, and Docker's framed snippet."""

from __future__ import annotations

import pytest

from dockyard.build.dockerfile import parse, resolve
from dockyard.build.errors import DockerfileError, DockerfileParseError
from dockyard.errors import InvalidArgument


def parse_error(text: str) -> DockerfileError:
    with pytest.raises(DockerfileError) as info:
        parse(text)
    return info.value


def test_unknown_instruction_snippet_matches_docker() -> None:
    e = parse_error("FROM busybox\n\nFOO bar\n")
    assert isinstance(e, DockerfileParseError) and isinstance(e, InvalidArgument)
    assert (e.line, e.end_line, e.column, e.text) == (3, 3, 1, "FOO bar")
    assert e.status == 400
    assert e.render() == (
        "Dockerfile:3\n"
        "--------------------\n"
        "   1 |     FROM busybox\n"
        "   2 |     \n"
        "   3 | >>> FOO bar\n"
        "   4 |     \n"
        "--------------------\n"
        "ERROR: failed to solve: dockerfile parse error on line 3: unknown instruction: FOO "
        "(did you mean FROM?)")


def test_multi_line_instruction_marks_every_line() -> None:
    text = "FROM busybox\nRUN a\nCOPY \\\n  --bogus=1 \\\n  a b\nRUN c\nRUN d\nRUN e\n"
    e = parse_error(text)
    assert (e.line, e.end_line) == (3, 5)
    assert e.snippet("Dockerfile.dev").splitlines() == [
        "Dockerfile.dev:3",
        "--------------------",
        "   2 |     RUN a",
        "   3 | >>> COPY \\",
        "   4 | >>>   --bogus=1 \\",
        "   5 | >>>   a b",
        "   6 |     RUN c",
        "--------------------",
    ]
    assert e.column == 8  # the offending flag's column in the joined line
    assert str(e) == "dockerfile parse error on line 3: unknown flag: bogus"


def test_single_line_context_is_wider() -> None:
    lines = [f"RUN step{i}" for i in range(1, 10)]
    e = parse_error("FROM busybox\n" + "\n".join(lines[:4]) + "\nNOPE\n" + "\n".join(lines[4:]))
    rendered = e.snippet().splitlines()
    assert rendered[0] == "Dockerfile:6"
    assert [r.split("|")[0].strip() for r in rendered[2:-1]] == ["4", "5", "6", "7", "8"]


def test_errors_without_location_render_only_the_message() -> None:
    e = parse_error("")
    assert e.message == "the Dockerfile cannot be empty"
    assert e.render() == "ERROR: failed to solve: the Dockerfile cannot be empty"


def test_no_stage_errors() -> None:
    e = parse_error("RUN echo\n")
    assert (e.message, e.line) == ("no build stage in current context", 1)
    assert parse_error("ARG A\n").message == "dockerfile contains no stages to build"
    assert parse_error("# just a comment\n").message == "file with no instructions"


def test_resolve_errors_are_not_parse_errors_and_render_with_source() -> None:
    df = parse("FROM busybox AS a\nFROM busybox AS a\n")
    with pytest.raises(DockerfileError) as info:
        resolve(df)
    e = info.value
    assert not isinstance(e, DockerfileParseError)
    assert str(e) == 'duplicate stage name "a", stage names should be unique'
    assert ">>> FROM busybox AS a" in e.render().splitlines()[3]


def test_heredoc_error_location_spans_body() -> None:
    e = parse_error("FROM busybox\nRUN <<EOF\nline\n")
    assert (e.message, e.line, e.end_line) == ("unterminated heredoc", 2, 3)
