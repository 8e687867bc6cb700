"""Go's ``strconv`` number parsers as dockerd's code calls them, with their errors' words:
``strconv.<Func>: parsing "<text as %q>": invalid syntax`` or ``value out of range``.

Go reads the digits left to right and stops at the first fault, so which of the two a text
gets depends on where its trouble starts: ``999999a`` overflows a 16-bit number before the
``a`` is reached (out of range), ``a999999`` is invalid syntax. Base 10, and base 0 for
pflag's integer flags (dockerd's and the docker CLI's: ``0x10``, ``0o17``, ``010``,
``1_000``). Pure.
"""

from __future__ import annotations


class NumError(ValueError):
    """Go's ``*strconv.NumError``: ``str()`` is its ``Error()``."""

    def __init__(self, func: str, text: str, reason: str) -> None:
        super().__init__(f"strconv.{func}: parsing {quote(text)}: {reason}")
        self.func, self.text, self.reason = func, text, reason


SYNTAX = "invalid syntax"
RANGE = "value out of range"


def quote(text: str) -> str:
    """Go's ``strconv.Quote`` (what ``%q`` prints for a string)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                        "\t": "\\t", "\v": "\\v"}[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not ch.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out) + '"'


def parse_uint(text: str, bits: int = 64, func: str = "ParseUint", base: int = 10) -> int:
    """``strconv.ParseUint(text, base, bits)``: at most ``2**bits - 1``; base 0 (pflag's
    integer flags) takes a ``0b``, ``0o``, ``0x`` or a bare ``0`` (octal) prefix and ``_``
    between digits; another base (2 to 36) its digits alone."""
    if not text:
        raise NumError(func, text, SYNTAX)
    digits, radix = _prefixed(text) if base == 0 else (text, base)
    limit, value, underscores = (1 << bits) - 1, 0, False
    for ch in digits:
        if ch == "_" and base == 0:
            underscores = True
            continue
        digit = int(ch, 36) if ch.isascii() and ch.isalnum() else radix
        if digit >= radix:
            raise NumError(func, text, SYNTAX)
        value = value * radix + digit
        if value > limit:
            raise NumError(func, text, RANGE)
    if underscores and not _underscores_ok(text):
        raise NumError(func, text, SYNTAX)
    return value


def _prefixed(text: str) -> tuple[str, int]:
    """Base 0's digits and radix, as Go reads the prefix."""
    if text[0] != "0":
        return text, 10
    if len(text) >= 3 and text[1].lower() in "box":
        return text[2:], {"b": 2, "o": 8, "x": 16}[text[1].lower()]
    return text[1:], 8


def _underscores_ok(text: str) -> bool:
    """Go's ``underscoreOK``: each ``_`` between digits (a base prefix counts as one)."""
    text = text[1:] if text[:1] in ("+", "-") else text
    saw, start, hexa = "^", 0, False
    if len(text) >= 2 and text[0] == "0" and text[1].lower() in "box":
        saw, start, hexa = "0", 2, text[1].lower() == "x"
    for ch in text[start:]:
        if ch.isdigit() and ch.isascii() or hexa and ch.lower() in "abcdef":
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def parse_int(text: str, bits: int = 64, func: str = "ParseInt", base: int = 10) -> int:
    """``strconv.ParseInt(text, base, bits)``: one optional sign, then ParseUint's digits."""
    sign = -1 if text[:1] == "-" else 1
    digits = text[1:] if text[:1] in ("+", "-") else text
    try:
        magnitude = parse_uint(digits, bits, base=base)
    except NumError as e:
        raise NumError(func, text, e.reason) from None
    if magnitude > (1 << (bits - 1)) - (sign > 0):
        raise NumError(func, text, RANGE)
    return sign * magnitude


def pflag_int(text: str) -> int:
    """An ``int`` flag's value as pflag reads it (dockerd's and the docker CLI's flags):
    ``strconv.ParseInt(text, 0, 64)``."""
    return parse_int(text, base=0)


def atoi(text: str) -> int:
    """``strconv.Atoi`` (a 64-bit ``int``): ParseInt's reading in Atoi's name."""
    return parse_int(text, 64, "Atoi")
