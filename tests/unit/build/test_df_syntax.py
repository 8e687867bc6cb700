"""Line level: directives, comments, continuations, flags, argument shapes, heredocs."""

from __future__ import annotations

import pytest

from dockyard.build.errors import DockerfileParseError
from dockyard.build.syntax import (
    extract_flags,
    parse_heredoc,
    parse_json,
    parse_lines,
    parse_words,
    split_command,
)


def lines(text: str) -> list[tuple[str, str, int, int]]:
    return [(i.cmd, i.original, i.start_line, i.end_line) for i in parse_lines(text).instructions]


def test_directives_are_read_only_at_the_top() -> None:
    res = parse_lines("# syntax=docker/dockerfile:1\n#Escape = `\n# check=skip=all\nFROM x\n")
    assert res.directives == {"syntax": "docker/dockerfile:1", "escape": "`", "check": "skip=all"}
    assert res.escape == "`"


@pytest.mark.parametrize("text", [
    "FROM x\n# escape=`\nRUN a \\\n b\n",           # after an instruction
    "# hello\n# escape=`\nFROM x\nRUN a \\\n b\n",  # after a comment
    "\n# escape=`\nFROM x\nRUN a \\\n b\n",         # after a blank line
    "# unknown=1\n# escape=`\nFROM x\nRUN a \\\n b\n",
])
def test_directive_ignored_when_late(text: str) -> None:
    res = parse_lines(text)
    assert res.escape == "\\"
    assert res.instructions[-1].original == "RUN a  b"


def test_duplicate_directive_is_an_error() -> None:
    with pytest.raises(DockerfileParseError, match="only one escape parser directive can be used"):
        parse_lines("# escape=\\\n# escape=`\nFROM x\n")


def test_invalid_escape_token() -> None:
    with pytest.raises(DockerfileParseError) as info:
        parse_lines("# escape=x\nFROM x\n")
    assert info.value.message == "invalid escape token 'x' does not match ` or \\"


def test_bom_is_stripped() -> None:
    assert lines("\ufeffFROM x\n") == [("FROM", "FROM x", 1, 1)]


def test_continuations_join_and_keep_line_ranges() -> None:
    text = "FROM x\nRUN a \\\n    b \\\n    c\nRUN d\n"
    assert lines(text) == [("FROM", "FROM x", 1, 1), ("RUN", "RUN a     b     c", 2, 4),
                           ("RUN", "RUN d", 5, 5)]


def test_comments_inside_continuations_are_dropped() -> None:
    text = "FROM x\nRUN a \\\n# comment\n  # indented comment\n    b\n"
    assert lines(text)[1] == ("RUN", "RUN a     b", 2, 5)


def test_empty_continuation_lines_warn() -> None:
    res = parse_lines("FROM x\nRUN a \\\n\n    b\n")
    assert res.instructions[1].original == "RUN a     b"
    assert [w.rule for w in res.warnings] == ["NoEmptyContinuation"]


def test_continuation_with_trailing_whitespace_and_backtick() -> None:
    assert lines("FROM x\nRUN a \\  \t\n b\n")[1][1] == "RUN a  b"
    assert lines("# escape=`\nFROM x\nRUN a `\n b\n")[1][1] == "RUN a  b"
    # with ` as escape, a trailing backslash is literal
    assert lines("# escape=`\nFROM x\nRUN dir c:\\\nRUN b\n")[1][1] == "RUN dir c:\\"


def test_escaped_escape_is_not_a_continuation() -> None:
    assert lines("FROM x\nRUN echo a\\\\\nRUN b\n")[1][1] == "RUN echo a\\\\"


def test_lone_backslash_line_continues() -> None:
    assert lines("FROM x\nRUN a \\\n\\\n b\n")[1][1] == "RUN a  b"


def test_continuation_at_eof() -> None:
    assert lines("FROM x\nRUN a \\")[1][1] == "RUN a "


def test_crlf_line_endings() -> None:
    assert lines("FROM x\r\nRUN a \\\r\n b\r\n") == [("FROM", "FROM x", 1, 1),
                                                   ("RUN", "RUN a  b", 2, 3)]


def test_comments_collected_before_instruction() -> None:
    res = parse_lines("FROM x\n# the version\nARG V=1\n")
    assert res.instructions[1].comments == ["the version"]


def test_no_instructions() -> None:
    with pytest.raises(DockerfileParseError, match="file with no instructions"):
        parse_lines("# only a comment\n\n")


def test_line_too_long() -> None:
    with pytest.raises(DockerfileParseError, match="max allowed size of 65535"):
        parse_lines("FROM x\nRUN " + "a" * 70000 + "\n")


@pytest.mark.parametrize(("line", "cmd", "flags", "rest"), [
    ("RUN echo", "RUN", [], "echo"),
    ("  run   echo  hi  ", "run", [], "echo  hi"),
    ("FROM", "FROM", [], ""),
    ("COPY --from=a --chown=1:2 x y", "COPY", ["--from=a", "--chown=1:2"], "x y"),
    ("COPY --link x y", "COPY", ["--link"], "x y"),
    ("COPY -- --x y", "COPY", [], "--x y"),
    ("COPY --a=\"b c\" x", "COPY", ["--a=b c"], "x"),
    ("COPY --a='' x", "COPY", ["--a="], "x"),
    ("COPY --a=b\\ c x", "COPY", ["--a=b c"], "x"),
    ("RUN -x", "RUN", [], "-x"),
    ("RUN\techo", "RUN", [], "echo"),
])
def test_split_command(line: str, cmd: str, flags: list[str], rest: str) -> None:
    assert split_command(line) == (cmd, flags, rest)


def test_extract_flags_stops_at_first_non_flag() -> None:
    assert extract_flags("--a=1 b --c=2") == ("b --c=2", ["--a=1"])


@pytest.mark.parametrize(("rest", "words"), [
    ("a b  c", ["a", "b", "c"]),
    ('a="b c" d', ['a="b c"', "d"]),
    ("a='b c'", ["a='b c'"]),
    ("a=b\\ c", ["a=b\\ c"]),
    ('a="b\\"c"', ['a="b\\"c"']),
    ("a='b\\'", ["a='b\\'"]),
    ('""', ['""']),
    ("a\\", ["a"]),
])
def test_parse_words_keeps_quotes(rest: str, words: list[str]) -> None:
    assert parse_words(rest, "\\") == words


@pytest.mark.parametrize(("rest", "expected"), [
    ('["a", "b"]', ["a", "b"]),
    ('  ["a"]  ', ["a"]),
    ("[]", []),
    ('["a" "b"]', None),
    ("['a']", None),
    ('["a"] x', None),
    ("echo [a]", None),
    ('["a", NaN]', None),
    ('{"a": 1}', None),
    ('["\\u00e9"]', ["é"]),
])
def test_parse_json(rest: str, expected: list[str] | None) -> None:
    assert parse_json(rest) == expected


@pytest.mark.parametrize("rest", ['["a", 1]', "[null]", '[["a"]]', '[true]'])
def test_json_array_of_non_strings_is_an_error(rest: str) -> None:
    with pytest.raises(DockerfileParseError, match="arrays must be comprised of strings only"):
        parse_json(rest)


def test_shell_and_exec_form_detection() -> None:
    res = parse_lines('FROM x\nRUN ["echo", "hi"]\nRUN echo hi\nRUN ["bad json\nCMD []\n')
    run_json, run_shell, run_bad, cmd = res.instructions[1:]
    assert (run_json.json, run_json.args) == (True, ["echo", "hi"])
    assert (run_shell.json, run_shell.args) == (False, ["echo hi"])
    assert (run_bad.json, run_bad.args) == (False, ['["bad json'])
    assert (cmd.json, cmd.args) == (True, [])


@pytest.mark.parametrize(("word", "name", "expand", "chomp", "fd"), [
    ("<<EOF", "EOF", True, False, 0),
    ("<<-EOF", "EOF", True, True, 0),
    ("<<'EOF'", "EOF", False, False, 0),
    ('<<"EOF"', "EOF", False, False, 0),
    ("<<E'O'F", "EOF", False, False, 0),
    ("2<<EOF", "EOF", True, False, 2),
    ("<<", None, None, None, None),
    ("<<<EOF", None, None, None, None),
    ("<<'A B'", "A B", False, False, 0),
    ("x<<EOF", None, None, None, None),
])
def test_parse_heredoc(word: str, name: str | None, expand: bool, chomp: bool, fd: int) -> None:
    doc = parse_heredoc(word)
    if name is None:
        assert doc is None
        return
    assert doc is not None
    assert (doc.name, doc.expand, doc.chomp, doc.fd) == (name, expand, chomp, fd)


def test_heredoc_bodies_and_lines() -> None:
    text = ("FROM x\nRUN <<EOF\necho $HOME\nEOF\nRUN <<-A cat - <<B > /f\n\t\tone\n\tA\ntwo\nB\n"
            "COPY <<'X' /x\n$literal\nX\nRUN echo done\n")
    res = parse_lines(text)
    run1, run2, copy, last = res.instructions[1:]
    assert (run1.start_line, run1.end_line) == (2, 4)
    assert [(h.name, h.content) for h in run1.heredocs] == [("EOF", "echo $HOME\n")]
    assert [(h.name, h.data) for h in run2.heredocs] == [("A", "one\n"), ("B", "two\n")]
    assert (run2.start_line, run2.end_line) == (5, 9)
    assert copy.heredocs[0].expand is False and copy.heredocs[0].content == "$literal\n"
    assert (last.start_line, last.original) == (13, "RUN echo done")


def test_heredoc_not_in_json_form_or_other_commands() -> None:
    res = parse_lines('FROM x\nRUN ["<<EOF"]\nLABEL a=<<EOF\nEOF\n')
    assert [i.heredocs for i in res.instructions] == [[], [], [], []]


def test_unterminated_heredoc() -> None:
    with pytest.raises(DockerfileParseError) as info:
        parse_lines("FROM x\nRUN <<EOF\necho\n")
    assert (info.value.message, info.value.line, info.value.end_line) == (
        "unterminated heredoc", 2, 3)


def test_heredoc_in_onbuild_trigger() -> None:
    res = parse_lines("FROM x\nONBUILD RUN <<EOF\necho hi\nEOF\n")
    assert res.instructions[1].heredocs[0].content == "echo hi\n"


def test_heredoc_crlf_terminator() -> None:
    res = parse_lines("FROM x\r\nRUN <<EOF\r\necho\r\nEOF\r\n")
    assert res.instructions[1].heredocs[0].content == "echo\r\n"


@pytest.mark.parametrize(("text", "pairs"), [
    ("ENV a=b", [("a", "b", True)]),
    ("ENV a b c", [("a", "b c", False)]),
    ('ENV a="b c" d=e', [("a", '"b c"', True), ("d", "e", True)]),
    ("ENV a=", [("a", "", True)]),
    ("LABEL x=y", [("x", "y", True)]),
    ('LABEL "key with space"="v"', [('"key with space"', '"v"', True)]),
])
def test_name_value_pairs(text: str, pairs: list[tuple[str, str, bool]]) -> None:
    assert parse_lines("FROM x\n" + text).instructions[1].pairs == pairs


@pytest.mark.parametrize(("text", "message"), [
    ("ENV a", "ENV must have two arguments"),
    ("LABEL a", "LABEL must have two arguments"),
    ("ENV a=b c", "Syntax error - can't find = in \"c\". Must be of the form: name=value"),
])
def test_name_value_errors(text: str, message: str) -> None:
    with pytest.raises(DockerfileParseError) as info:
        parse_lines("FROM x\n" + text)
    assert info.value.message == message
    assert info.value.line == 2
