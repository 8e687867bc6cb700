"""Shell-word variable expansion with the rules of BuildKit's Dockerfile shell lexer.

Not a shell: quotes group and are removed, the escape token (``\\`` or the ``# escape=``
one) escapes, and ``$NAME``, ``${NAME}`` and the modifiers ``:-  -  :+  +  :?  ?  #  ##  %
%%  /  //`` are expanded from an environment. Unknown modifiers are errors, unset names
expand to "" (or stay verbatim with ``skip_unset``). ``process_words`` additionally splits
on unquoted whitespace, as BuildKit does for EXPOSE and heredoc detection.

Every name looked up is recorded (``matched``/``unmatched``) so callers can warn about
undefined variables the way BuildKit's ``UndefinedVar`` check does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import DockerfileError

_SPECIAL_PARAMS = frozenset("@*#?-$!0")


class ExpansionError(DockerfileError):
    """A malformed ``${…}`` or a ``${VAR:?msg}`` that fired."""


@dataclass
class _Words:
    """Accumulates whitespace-separated words; quoted text never splits."""

    word: str = ""
    words: list[str] = field(default_factory=list)
    in_word: bool = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word, self.in_word = "", False
        else:
            self.add_raw(ch)

    def add_raw(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def result(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word, self.in_word = "", False
        return self.words


@dataclass
class Lexer:
    """Configuration of one expansion; mirrors the knobs of BuildKit's ``shell.Lex``."""

    escape: str = "\\"
    raw_quotes: bool = False
    raw_escapes: bool = False
    skip_unset: bool = False
    skip_quotes: bool = False

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """Expand one word; the result is never split."""
        return self.run(word, env)[0]

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """Expand and split on unquoted whitespace (quoted empty words are dropped)."""
        return self.run(word, env)[1]

    def run(self, word: str, env: Mapping[str, str]) -> tuple[str, list[str], set[str], set[str]]:
        """Expand ``word``: (result, words, names found, names not found)."""
        scan = _Scan(self, word, env)
        text, words = scan.until(None, self.raw_escapes)
        return text, words, scan.matched, scan.unmatched


def expand(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """The common case: expand one word like BuildKit does for COPY, ENV, WORKDIR …"""
    return Lexer(escape=escape).process_word(word, env)


class _Scan:
    """One pass over a word; a cursor plus the recursive descent of BuildKit's lexer."""

    def __init__(self, lex: Lexer, text: str, env: Mapping[str, str]) -> None:
        self.lex = lex
        self.text = text
        self.pos = 0
        self.env = env
        self.raw_escapes = lex.raw_escapes
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def until(self, stop: str | None, raw_escapes: bool) -> tuple[str, list[str]]:
        """Process up to ``stop`` (consumed) or the end; BuildKit's processStopOn."""
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._until(stop)
        finally:
            self.raw_escapes = saved

    def _until(self, stop: str | None) -> tuple[str, list[str]]:
        out: list[str] = []
        words = _Words()
        while self.peek():
            ch = self.peek()
            if stop is not None and ch == stop:
                self.next()
                return "".join(out), words.result()
            if ch == "$":
                value = self.dollar()
                out.append(value)
                words.add_string(value)
            elif ch in "'\"" and not self.lex.skip_quotes:
                value = self.single_quote() if ch == "'" else self.double_quote()
                out.append(value)
                words.add_raw(value)
            else:
                self._plain(out, words)
        if stop is not None:
            raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out), words.result()

    def _plain(self, out: list[str], words: _Words) -> None:
        ch = self.next()
        if ch != self.lex.escape:
            words.add_char(ch)
            out.append(ch)
            return
        if self.raw_escapes:
            words.add_raw(ch)
            out.append(ch)
        ch = self.next()
        if ch:
            words.add_raw(ch)
            out.append(ch)

    def single_quote(self) -> str:
        """Everything up to the next ' is literal; ' cannot be escaped inside."""
        self.next()
        out = ["'"] if self.lex.raw_quotes else []
        while True:
            ch = self.next()
            if not ch:
                raise ExpansionError(
                    "unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                break
            out.append(ch)
        if self.lex.raw_quotes:
            out.append("'")
        return "".join(out)

    def double_quote(self) -> str:
        """$ expands; the escape token escapes only ", $ and itself."""
        self.next()
        out = ['"'] if self.lex.raw_quotes else []
        while True:
            ch = self.peek()
            if not ch:
                raise ExpansionError(
                    "unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                break
            if ch == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.lex.escape:
                nxt = self.peek()
                if not nxt:
                    continue
                if nxt in ('"', "$", self.lex.escape):
                    if self.raw_escapes:
                        out.append(ch)
                    ch = self.next()
            out.append(ch)
        if self.lex.raw_quotes:
            out.append('"')
        return "".join(out)

    def name(self) -> str:
        """A variable name: letters/digits/_; a leading digit run or one special char."""
        start = self.pos
        ch = self.peek()
        if ch.isdigit():
            while self.peek().isdigit():
                self.next()
            return self.text[start:self.pos]
        if ch and ch in _SPECIAL_PARAMS:
            return self.next()
        while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
            self.next()
        return self.text[start:self.pos]

    def lookup(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.matched.add(name)
            return self.env[name], True
        self.unmatched.add(name)
        return "", False

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.lookup(name)
            if not found and self.lex.skip_unset:
                return "$" + name
            return value
        self.next()
        if not self.peek():
            raise ExpansionError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise ExpansionError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch == "}":
            value, found = self.lookup(name)
            if not found and self.lex.skip_unset:
                return "${" + name + "}"
            return value
        if not ch:
            raise ExpansionError("syntax error: missing '}'")
        if ch == "/":
            return self._replace(name)
        return self._modifier(name, ch)

    def _modifier(self, name: str, ch: str) -> str:
        mods, null_is_unset = ch, False
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            mods += ch
        if not ch:
            raise ExpansionError("syntax error: missing '}'")
        if ch not in "+-?#%":
            raise ExpansionError(f"unsupported modifier ({mods}) in substitution")
        raw = ch in "#%"
        if null_is_unset and raw:
            raise ExpansionError(f"unsupported modifier ({mods}) in substitution")
        word = self._operand("}", raw, "syntax error: missing '}'")
        value, is_set = self.lookup(name)
        if self.lex.skip_unset and not is_set:
            return "${" + name + mods + word + "}"
        empty = not is_set or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            return _required(name, value, is_set, null_is_unset, word)
        greedy = word[:1] == ch
        pattern = word[1:] if greedy else word
        if ch == "%":
            return _trim_suffix(pattern, value, greedy)
        return _trim_prefix(pattern, value, greedy)

    def _operand(self, stop: str, raw: bool, eof_message: str) -> str:
        try:
            return self.until(stop, raw)[0]
        except ExpansionError:
            if not self.peek():
                raise ExpansionError(eof_message) from None
            raise

    def _replace(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        pattern = self._operand("/", True, "syntax error: missing '/' in ${}")
        replacement = self._operand("}", True, "syntax error: missing '}'")
        value, is_set = self.lookup(name)
        if self.lex.skip_unset and not is_set:
            return "${" + f"{name}/{pattern}/{replacement}" + "}"
        regex = _pattern_regex(pattern, greedy=True, anchored=False)
        if replace_all:
            return regex.sub(lambda _m: replacement, value)
        return regex.sub(lambda _m: replacement, value, count=1)


def _required(name: str, value: str, is_set: bool, null_is_unset: bool, word: str) -> str:
    if not is_set:
        raise ExpansionError(f"{name}: {word or 'is not allowed to be unset'}")
    if null_is_unset and value == "":
        raise ExpansionError(f"{name}: {word or 'is not allowed to be empty'}")
    return value


def _pattern_regex(pattern: str, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell pattern (``*``, ``?``, ``\\`` escapes) as a regex; BuildKit has no classes."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(star)
            continue
        if ch == "?":
            out.append(".")
            continue
        if ch == "\\":
            if i < len(pattern) and pattern[i] == "}":
                continue
            nxt = pattern[i] if i < len(pattern) else ""
            i += 1
            if nxt not in ("*", "?", "\\", "/") or not nxt:
                raise ExpansionError(
                    f"invalid pattern ({pattern}) in substitution: invalid escape '\\{nxt}'")
            ch = nxt
        out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    match = _pattern_regex(pattern, greedy, anchored=True).search(value)
    return value[match.end():] if match else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern keeping each escape before the char it escapes."""
    out: list[str] = []
    i = len(pattern) - 1
    while i >= 0:
        if i > 0 and pattern[i - 1] == "\\":
            out += ["\\", pattern[i]]
            i -= 2
            continue
        out.append(pattern[i])
        i -= 1
    return "".join(out)


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    """Shortest/longest suffix removal as a prefix removal on reversed strings, like BuildKit."""
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]
