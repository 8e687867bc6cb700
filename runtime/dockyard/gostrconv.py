"""Go's ``strconv`` number parsers as dockerd's code calls them, with their errors' words:
``strconv.<Func>: parsing "<text as %q>": invalid syntax`` or ``value out of range``.

Go reads the digits left to right and stops at the first fault, so which of the two a text
gets depends on where its trouble starts: ``999999a`` overflows a 16-bit number before the
``a`` is reached (out of range), ``a999999`` is invalid syntax. Base 10 only (no ``_``, no
``0x``), as every call in dockerd that dockyard mirrors. Pure.
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


def parse_uint(text: str, bits: int = 64, func: str = "ParseUint") -> int:
    """``strconv.ParseUint(text, 10, bits)``: ASCII digits alone, at most ``2**bits - 1``."""
    if not text:
        raise NumError(func, text, SYNTAX)
    limit, value = (1 << bits) - 1, 0
    for ch in text:
        if not "0" <= ch <= "9":
            raise NumError(func, text, SYNTAX)
        value = value * 10 + ord(ch) - 48
        if value > limit:
            raise NumError(func, text, RANGE)
    return value


def parse_int(text: str, bits: int = 64, func: str = "ParseInt") -> int:
    """``strconv.ParseInt(text, 10, bits)``: one optional sign, then ParseUint's digits."""
    sign = -1 if text[:1] == "-" else 1
    digits = text[1:] if text[:1] in ("+", "-") else text
    try:
        magnitude = parse_uint(digits, bits)
    except NumError as e:
        raise NumError(func, text, e.reason) from None
    if magnitude > (1 << (bits - 1)) - (sign > 0):
        raise NumError(func, text, RANGE)
    return sign * magnitude


def atoi(text: str) -> int:
    """``strconv.Atoi`` (a 64-bit ``int``): ParseInt's reading in Atoi's name."""
    return parse_int(text, 64, "Atoi")
