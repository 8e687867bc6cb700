"""A build cache prune's filters as BuildKit reads them: containerd's filter syntax.

dockerd 20.10 (builder-next's ``toBuildkitPruneInfo``) turns a prune's ``id``, ``parent``,
``type``, ``description``, ``inuse``, ``shared`` and ``private`` filters into one string —
``id~=<value>`` (a regular expression), ``<key>==<value>``, or the bare key for a key given no
value — joined with commas, and BuildKit parses it with containerd's ``filters.Parse``. So a
value is not taken as it is: a space, a leading ``"``, ``/`` or ``|``, an empty value end the
parse with its error (dockerd's 400), and a comma starts another selector (``type=a,shared``
is two). :func:`parse` gives the selectors, :func:`matches` applies them to what BuildKit's
prune knows of a record (its ``adaptUsageInfo`` over the prune's ``UsageInfo``: the ID, the
type and whether it is shared — not the parent, the description or whether it is in use, so
those match nothing).

Grammar (containerd ``filters/parser.go``)::

    selectors := selector ("," selector)*
    selector  := fieldpath [operator value]
    fieldpath := field ("." field)*
    operator  := "==" | "!=" | "~="
    value     := [^,\\s]+ | quoted      (quoted: "…", and /…/ or |…| after ~=)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InvalidArgument

_EOF, _ILLEGAL = "\x00EOF", "\x00ILLEGAL"
_QUOTED, _VALUE, _FIELD, _SEPARATOR, _OPERATOR = "quoted", "value", "field", "separator", "operator"


@dataclass(frozen=True)
class Selector:
    fieldpath: tuple[str, ...]
    operator: str  # "" (present), "==", "!=", "~="
    value: str = ""


class FilterSyntaxError(InvalidArgument):
    """containerd's ``parse error: [input >|x|< rest]: msg``."""


def _is_field_rune(ch: str) -> bool:
    return ch == "_" or ("a" <= ch.lower() <= "z" and ch.isascii()) or ch in "0123456789"


def _is_value_rune(ch: str) -> bool:
    if ch == "," or ch.isspace():
        return False
    return unicodedata.category(ch)[0] in "LMNPS"


class _Scanner:
    """containerd's ``filters/scanner.go``: positions are those of the last rune read."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.ppos, self.value, self.err = text, 0, 0, False, ""

    def next(self) -> str:
        if self.pos >= len(self.text) or self.ppos >= len(self.text):
            self.pos = max(self.pos, self.ppos)
            return _EOF
        self.pos = self.ppos
        ch = self.text[self.ppos]
        self.ppos += 1
        return _ILLEGAL if ch == "\x00" else ch

    def peek(self) -> str:
        pos, ppos = self.pos, self.ppos
        ch = self.next()
        self.pos, self.ppos = pos, ppos
        return ch

    def scan(self) -> tuple[int, str, str]:
        ch = self.next()
        pos = self.pos
        while ch not in (_EOF, _ILLEGAL) and ch.isspace():
            ch = self.next()
            pos = self.pos
        if ch in (_EOF, _ILLEGAL):
            return self.pos, ch, ""
        if ch in '"/|':
            if not self._quoted(ch):
                return pos, _ILLEGAL, self.text[pos:self.ppos]
            return pos, _QUOTED, self.text[pos:self.ppos]
        if ch in ",.":
            self.value = False
            return pos, _SEPARATOR, self.text[pos:self.ppos]
        if ch in "=!~":
            self._take(lambda c: c in "=!~")
            self.value = True
            return pos, _OPERATOR, self.text[pos:self.ppos]
        if self.value:
            self._take(_is_value_rune)
            self.value = False
            return pos, _VALUE, self.text[pos:self.ppos]
        if _is_field_rune(ch):
            self._take(_is_field_rune)
            return pos, _FIELD, self.text[pos:self.ppos]
        return self.pos, ch, ""

    def _take(self, keep: Callable[[str], bool]) -> None:
        while (ch := self.peek()) not in (_EOF, _ILLEGAL) and keep(ch):
            self.next()

    def _quoted(self, quote: str) -> bool:
        legal = True
        ch = self.next()
        while ch != quote:
            if ch in ("\n", _EOF, _ILLEGAL):
                self.err = "quoted literal not terminated"
                return False
            if ch == "\\":
                ch, ok = self._escape(quote)
                legal = legal and ok
            else:
                ch = self.next()
        if not legal:
            self.err = "illegal escape sequence"
        return legal

    def _escape(self, quote: str) -> tuple[str, bool]:
        ch = self.next()
        digits = {"x": (16, 2), "u": (16, 4), "U": (16, 8)}
        if ch in ("a", "b", "f", "n", "r", "t", "v", "\\", quote):
            return self.next(), True
        if ch in "01234567" and ch not in (_EOF, _ILLEGAL):
            return self._digits(ch, 8, 3)
        if ch in digits:
            return self._digits(self.next(), *digits[ch])
        return ch, False

    def _digits(self, ch: str, base: int, n: int) -> tuple[str, bool]:
        while n > 0 and len(ch) == 1 and ch.isascii() and ch.lower() in "0123456789abcdef"[:base]:
            ch = self.next()
            n -= 1
        return ch, n == 0


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.scanner = _Scanner(text)

    def error(self, pos: int, message: str) -> FilterSyntaxError:
        if pos < len(self.text):
            where = f"{self.text[:pos]} >|{self.text[pos]}|< {self.text[pos + 1:]}"
        else:
            where = self.text
        return FilterSyntaxError(f"filters: parse error: [{where}]: {message}")

    def selectors(self) -> list[Selector]:
        found = [self.selector()]
        while True:
            ahead = self.scanner.peek()
            if ahead == _EOF:
                return found
            if ahead != ",":
                shown = "\ufffd" if ahead == _ILLEGAL else ahead
                raise self.error(self.scanner.ppos, f"unexpected input: {shown}")
            self.scanner.scan()
            found.append(self.selector())

    def selector(self) -> Selector:
        path = [self.field()]
        while self.scanner.peek() == ".":
            self.scanner.scan()
            path.append(self.field())
        if self.scanner.peek() in (",", _EOF):
            return Selector(tuple(path), "")
        operator = self.operator()
        return Selector(tuple(path), operator, self.value(operator == "~="))

    def field(self) -> str:
        pos, token, text = self.scanner.scan()
        if token == _FIELD:
            return text
        if token == _QUOTED:
            return self.unquote(pos, text, False)
        if token == _ILLEGAL and self.scanner.err:
            raise self.error(pos, self.scanner.err)
        raise self.error(pos, "expected field or quoted")

    def operator(self) -> str:
        pos, token, text = self.scanner.scan()
        if token == _OPERATOR:
            if text in ("==", "!=", "~="):
                return text
            raise self.error(pos, f'unsupported operator "{text}"')
        if token == _ILLEGAL and self.scanner.err:
            raise self.error(pos, self.scanner.err)
        raise self.error(pos, 'expected an operator ("=="|"!="|"~=")')

    def value(self, alt_quotes: bool) -> str:
        pos, token, text = self.scanner.scan()
        if token in (_VALUE, _FIELD):
            return text
        if token == _QUOTED:
            return self.unquote(pos, text, alt_quotes)
        if token == _ILLEGAL and self.scanner.err:
            raise self.error(pos, self.scanner.err)
        raise self.error(pos, "expected value or quoted")

    def unquote(self, pos: int, text: str, alt_quotes: bool) -> str:
        if not alt_quotes and text[0] != '"' and text[-1] != '"':
            raise self.error(pos, "invalid quote encountered")
        body = text[1:-1]
        return re.sub(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)",
                      _unescape, body)


_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unescape(found: re.Match[str]) -> str:
    code = found.group(1)
    if code[0] in "xuU":
        return chr(int(code[1:], 16))
    if code[0] in "01234567" and len(code) == 3:
        return chr(int(code, 8))
    return _SIMPLE.get(code, code)


def parse(text: str) -> list[Selector]:
    """The selectors of one filter string (none for "": every record matches)."""
    if text == "":
        return []
    return _Parser(text).selectors()


def matches(selectors: list[Selector], record_id: str, record_type: str, shared: bool) -> bool:
    """Whether BuildKit's prune takes a record: every selector holds (containerd's ``All``)."""
    fields: dict[str, tuple[str, bool]] = {
        "id": (record_id, record_id != ""), "type": (record_type, record_type != ""),
        "shared": ("", shared), "private": ("", not shared),
        "mutable": ("", False), "immutable": ("", True),
    }
    return all(_holds(s, *fields.get(s.fieldpath[0], ("", False))) for s in selectors)


def _holds(selector: Selector, value: str, present: bool) -> bool:
    if selector.operator == "":
        return present
    if selector.operator == "==":
        return present and value == selector.value
    if selector.operator == "!=":
        return value != selector.value
    try:  # Go compiles the expression when it first matches: a bad one matches nothing
        return re.search(selector.value, value) is not None
    except re.error:
        return False
