"""Dockerfile lines → raw instructions, following BuildKit's ``parser`` package.

What this layer decides (and nothing more): parser directives, comments, line
continuations (including the quirks: comment lines inside a continuation are dropped,
blank ones are dropped with a warning), the command word, the leading ``--flags``, the
argument shape each command uses (JSON or shell form, key=value pairs, whitespace
words, one string), and heredoc bodies. Unknown commands survive this layer, as in
BuildKit, and are rejected when instructions are typed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import DockerfileParseError
from .expand import ExpansionError, Lexer

MAX_LINE = 65535
DIRECTIVES = ("syntax", "escape", "check")
HEREDOC_COMMANDS = frozenset({"add", "copy", "run"})
_WS = re.compile(r"[\t\v\f\r ]+")
_DIRECTIVE = re.compile(r"#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z")
_HEREDOC = re.compile(r"(\d*)<<(-?)([^<]*)\Z")
_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)
NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"


GO_SPACES = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + \
    "\u2028\u2029\u202f\u205f\u3000"


def is_space(ch: str) -> bool:
    """Go's unicode.IsSpace (Python's isspace also counts \\x1c-\\x1f)."""
    return ch in GO_SPACES


def lstrip_space(text: str) -> str:
    return text.lstrip(GO_SPACES)


def strip_space(text: str) -> str:
    return text.strip(GO_SPACES)


@dataclass(frozen=True)
class Warning:
    """A non-fatal finding, named like BuildKit's build checks (e.g. ``NoEmptyContinuation``)."""

    rule: str
    message: str
    line: int = 0


@dataclass
class Heredoc:
    """A ``<<NAME`` body. ``expand`` is false when any part of NAME was quoted."""

    name: str
    expand: bool = True
    chomp: bool = False
    fd: int = 0
    content: str = ""

    @property
    def data(self) -> str:
        """The body with ``<<-`` tab stripping applied."""
        return chomp_heredoc(self.content) if self.chomp else self.content


@dataclass
class RawInstruction:
    """One logical instruction before typing. ``args`` shape depends on the command."""

    cmd: str
    original: str
    flags: list[str]
    args: list[str]
    start_line: int = 0
    end_line: int = 0
    json: bool = False
    pairs: list[tuple[str, str, bool]] = field(default_factory=list)
    heredocs: list[Heredoc] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    sub: RawInstruction | None = None

    @property
    def keyword(self) -> str:
        return self.cmd.lower()


@dataclass
class ParsedLines:
    instructions: list[RawInstruction]
    directives: dict[str, str]
    escape: str
    warnings: list[Warning]


class _Directives:
    """Parser directives are only honoured before the first non-directive line."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.done = False
        self.escape = "\\"
        self.continuation = _continuation_regex("\\")

    def feed(self, line: str) -> None:
        if self.done:
            return
        match = _DIRECTIVE.match(line)
        key = match.group(1).lower() if match else ""
        if not match or key not in DIRECTIVES:
            self.done = True
            return
        if key in self.values:
            raise DockerfileParseError(f"only one {key} parser directive can be used")
        self.values[key] = match.group(2)
        if key == "escape":
            self.set_escape(match.group(2))

    def set_escape(self, token: str) -> None:
        if token not in ("`", "\\"):
            raise DockerfileParseError(f"invalid escape token '{token}' does not match ` or \\")
        self.escape = token
        self.continuation = _continuation_regex(token)


def _continuation_regex(token: str) -> re.Pattern[str]:
    t = re.escape(token)
    return re.compile(rf"([^{t}]){t}[ \t]*\Z|^{t}[ \t]*\Z")


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _is_comment(line: str) -> bool:
    return lstrip_space(_trim_newline(line)).startswith("#")


def _process(d: _Directives, line: str, strip_left: bool) -> str:
    token = _trim_newline(line)
    if strip_left:
        token = lstrip_space(token)
    d.feed(token)
    return "" if token.startswith("#") else token


def _trim_continuation(line: str, d: _Directives) -> tuple[str, bool]:
    """(line without the trailing escape, whether the logical line ended)."""
    if d.continuation.search(line):
        return d.continuation.sub(lambda m: m.group(1) or "", line), False
    return line, True


class _Lines:
    """Physical lines with their newline kept, as BuildKit's scanLines yields them."""

    def __init__(self, text: str) -> None:
        parts = text.split("\n")
        self.lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
        if self.lines and self.lines[0].startswith("\ufeff"):
            self.lines[0] = self.lines[0][1:]
        self.pos = 0

    def next(self) -> str | None:
        if self.pos >= len(self.lines):
            return None
        line = self.lines[self.pos]
        self.pos += 1
        if len(line.encode("utf-8", "surrogatepass")) > MAX_LINE + 1:
            raise DockerfileParseError(
                f"dockerfile line greater than max allowed size of {MAX_LINE}").located(self.pos)
        return line


def parse_lines(text: str) -> ParsedLines:
    """Split a Dockerfile into raw instructions with their line ranges (1-based, inclusive)."""
    d = _Directives()
    src = _Lines(text)
    out: list[RawInstruction] = []
    warnings: list[Warning] = []
    comments: list[str] = []
    while (raw := src.next()) is not None:
        if _is_comment(raw):
            comments.append(strip_space(lstrip_space(raw)[1:]))
        start = src.pos
        token = _located(lambda: _process(d, raw, True), start)
        line, ended = _trim_continuation(token, d)
        if ended and not line:
            continue
        line, end = _join_continuations(src, d, line, ended, warnings)
        inst = _located(lambda: node_from_line(line, d.escape), start, end, raw)  # noqa: B023
        inst.start_line, inst.end_line, inst.comments = start, end, comments
        if "<<" in line and _can_contain_heredoc(inst):
            _read_heredocs(src, inst, line)
            inst.end_line = src.pos
        out.append(inst)
        comments = []
    if not out:
        raise DockerfileParseError("file with no instructions").located(src.pos)
    return ParsedLines(out, d.values, d.escape, warnings)


def _located(fn: Any, start: int, end: int = 0, text: str = "") -> Any:
    try:
        return fn()
    except DockerfileParseError as exc:
        raise exc.located(start, end, 1, _trim_newline(text)) from None
    except ExpansionError as exc:
        raise DockerfileParseError(exc.message).located(start, end) from None


def _join_continuations(
    src: _Lines, d: _Directives, line: str, ended: bool, warnings: list[Warning]
) -> tuple[str, int]:
    empty_seen = False
    while not ended and (raw := src.next()) is not None:
        token = _located(lambda: _process(d, raw, False), src.pos)
        if _is_comment(raw):
            continue
        if not lstrip_space(token):
            empty_seen = True
            continue
        cont, ended = _trim_continuation(token, d)
        line += cont
    if empty_seen:
        warnings.append(Warning("NoEmptyContinuation",
                                f"Empty continuation line found in: {line}", src.pos))
    return line, src.pos


def _can_contain_heredoc(inst: RawInstruction) -> bool:
    node = inst.sub if inst.keyword == "onbuild" and inst.sub else inst
    return node.keyword in HEREDOC_COMMANDS and not node.json


def _read_heredocs(src: _Lines, inst: RawInstruction, line: str) -> None:
    docs = _located(lambda: heredocs_from_line(line), inst.start_line, src.pos)
    for doc in docs:
        terminated = False
        while (raw := src.next()) is not None:
            candidate = _trim_newline(raw)
            if doc.chomp:
                candidate = candidate.lstrip("\t")
            if candidate == doc.name:
                terminated = True
                break
            doc.content += raw
        if not terminated:
            raise DockerfileParseError("unterminated heredoc").located(inst.start_line, src.pos)
        inst.heredocs.append(doc)
    if inst.sub is not None:
        inst.sub.heredocs = inst.heredocs


def parse_heredoc(word: str) -> Heredoc | None:
    """A ``[n]<<[-]NAME`` word as a heredoc, or None if it is not one."""
    match = _HEREDOC.match(word)
    if not match or not match.group(3):
        return None
    rest = match.group(3)
    lex = Lexer(skip_unset=True)
    words = lex.process_words(rest, {})
    if len(words) != 1:
        return None
    lex.raw_quotes = True
    raw_words = lex.process_words(rest, {})
    if len(raw_words) != 1:
        raise DockerfileParseError(
            f"internal lexing of heredoc produced inconsistent results: {rest}")
    quotes = sum(words[0].count(q) for q in "'\"")
    raw_quotes = sum(raw_words[0].count(q) for q in "'\"")
    return Heredoc(words[0], expand=quotes == raw_quotes, chomp=match.group(2) == "-",
                   fd=int(match.group(1) or 0))


def heredocs_from_line(line: str) -> list[Heredoc]:
    lex = Lexer(raw_quotes=True, raw_escapes=True, skip_unset=True)
    try:
        words = lex.process_words(line, {})
    except ExpansionError:
        words = []
    return [doc for word in words if (doc := parse_heredoc(word)) is not None]


def chomp_heredoc(content: str) -> str:
    return _LEADING_TABS.sub("", content)


# --- one logical line → RawInstruction ------------------------------------------------------

def node_from_line(line: str, escape: str) -> RawInstruction:
    cmd, flags, rest = split_command(line)
    inst = RawInstruction(cmd=cmd, original=line, flags=flags, args=[])
    _ARG_PARSERS.get(cmd.lower(), _parse_ignore)(inst, rest, escape)
    return inst


def split_command(line: str) -> tuple[str, list[str], str]:
    parts = _WS.split(strip_space(line), maxsplit=1)
    if len(parts) < 2:
        return parts[0], [], ""
    rest, flags = extract_flags(parts[1])
    return parts[0], flags, strip_space(rest)


def extract_flags(line: str) -> tuple[str, list[str]]:
    """Leading ``--flag[=value]`` words (quotes and backslashes honoured); ``--`` ends them."""
    words: list[str] = []
    pos, n = 0, len(line)
    while True:
        while pos < n and is_space(line[pos]):
            pos += 1
        if pos >= n:
            return "", words
        if not line.startswith("--", pos):
            return line[pos:], words
        word, pos, blank_ok = _flag_word(line, pos)
        if word == "--":
            return line[pos:], words
        if word or blank_ok:
            words.append(word)


_SIMPLE_FLAG = re.compile(r"--[^\s'\"\\]*")


def _flag_word(line: str, pos: int) -> tuple[str, int, bool]:
    simple = _SIMPLE_FLAG.match(line, pos)
    assert simple is not None
    end = simple.end()
    if end == len(line) or is_space(line[end]):
        return simple.group(), end, False
    out: list[str] = []
    quote = ""
    blank_ok = False
    n = len(line)
    while pos < n:
        ch = line[pos]
        if not quote and is_space(ch):
            break
        if not quote and ch in "'\"":
            quote, blank_ok = ch, True
        elif quote and ch == quote:
            quote = ""
        elif ch == "\\":
            if pos + 1 < n:
                pos += 1
                out.append(line[pos])
        else:
            out.append(ch)
        pos += 1
    return "".join(out), pos, blank_ok


def parse_words(rest: str, escape: str) -> list[str]:
    """Whitespace-separated words keeping quotes and escapes (BuildKit's parseWords)."""
    words: list[str] = []
    word: list[str] = []
    quote = ""
    blank_ok = False
    i, n = 0, len(rest)
    while i < n:
        ch = rest[i]
        if not quote and is_space(ch):
            if blank_ok or word:
                words.append("".join(word))
            word, blank_ok = [], False
        elif ch == escape and quote != "'":
            if i + 1 == n:
                if quote:
                    quote = ""
                i += 1
                continue
            word += [ch, rest[i + 1]]
            i += 1
        else:
            if not quote and ch in "'\"":
                quote, blank_ok = ch, True
            elif quote and ch == quote:
                quote = ""
            word.append(ch)
        i += 1
    if blank_ok or word:
        words.append("".join(word))
    return words


def parse_json(rest: str) -> list[str] | None:
    """A JSON string array, or None when ``rest`` is not valid JSON (→ shell form)."""
    rest = lstrip_space(rest)
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise DockerfileParseError(NOT_STRING_ARRAY)
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _parse_ignore(inst: RawInstruction, rest: str, escape: str) -> None:
    inst.args = [rest] if rest else []


def _parse_string(inst: RawInstruction, rest: str, escape: str) -> None:
    inst.args = [rest] if rest else []


def _parse_whitespace_words(inst: RawInstruction, rest: str, escape: str) -> None:
    inst.args = _WS.split(rest) if rest else []


def _parse_maybe_json(inst: RawInstruction, rest: str, escape: str) -> None:
    if not rest:
        return
    words = parse_json(rest)
    if words is None:
        inst.args = [rest]
    else:
        inst.args, inst.json = words, True


def _parse_maybe_json_list(inst: RawInstruction, rest: str, escape: str) -> None:
    words = parse_json(rest)
    if words is None:
        _parse_whitespace_words(inst, rest, escape)
    else:
        inst.args, inst.json = words, True


def _parse_name_or_name_val(inst: RawInstruction, rest: str, escape: str) -> None:
    inst.args = parse_words(rest, escape)


def _parse_name_val(inst: RawInstruction, rest: str, escape: str) -> None:
    words = parse_words(rest, escape)
    if not words:
        return
    if "=" not in words[0]:
        parts = _WS.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise DockerfileParseError(f"{inst.cmd.upper()} must have two arguments")
        inst.pairs = [(parts[0], parts[1], False)]
    else:
        for word in words:
            if "=" not in word:
                raise DockerfileParseError(
                    f"Syntax error - can't find = in {_go_quote(word)}. "
                    "Must be of the form: name=value")
            key, value = word.split("=", 1)
            inst.pairs.append((key, value, True))
    inst.args = [x for k, v, _ in inst.pairs for x in (k, v)]


def _parse_health(inst: RawInstruction, rest: str, escape: str) -> None:
    sep = 0
    while sep < len(rest) and not is_space(rest[sep]):
        sep += 1
    if sep == 0:
        return
    cmd = RawInstruction(cmd="", original="", flags=[], args=[])
    _parse_maybe_json(cmd, lstrip_space(rest[sep:]), escape)
    inst.args, inst.json = [rest[:sep], *cmd.args], cmd.json


def _parse_sub_command(inst: RawInstruction, rest: str, escape: str) -> None:
    if rest:
        inst.sub = node_from_line(rest, escape)
        inst.args = [rest]


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


ArgShape = Literal["json", "words"]
_ARG_PARSERS = {
    "add": _parse_maybe_json_list,
    "arg": _parse_name_or_name_val,
    "cmd": _parse_maybe_json,
    "copy": _parse_maybe_json_list,
    "entrypoint": _parse_maybe_json,
    "env": _parse_name_val,
    "expose": _parse_whitespace_words,
    "from": _parse_whitespace_words,
    "healthcheck": _parse_health,
    "label": _parse_name_val,
    "maintainer": _parse_string,
    "onbuild": _parse_sub_command,
    "run": _parse_maybe_json,
    "shell": _parse_maybe_json,
    "stopsignal": _parse_string,
    "user": _parse_string,
    "volume": _parse_maybe_json_list,
    "workdir": _parse_string,
}
