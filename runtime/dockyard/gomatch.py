"""Go's ``path.Match`` patterns (``*``, ``?``, ``[...]`` classes, ``\\`` escapes) as regular
expressions, with Go's syntax check: what an image list's ``reference`` filter and a
``.dockerignore`` line accept or refuse (``filepath.Match`` has the same syntax on Linux)."""

from __future__ import annotations

import re

from .errors import DockyardError


class BadPattern(DockyardError):
    """path.ErrBadPattern (dockerd answers it with 500)."""

    def __init__(self) -> None:
        super().__init__("syntax error in pattern")


def glob(pattern: str) -> re.Pattern[str]:
    """Go's ``path.Match`` pattern as a regular expression: ``*`` and ``?`` never cross
    ``/``, ``[^a-z]`` classes, ``\\`` escapes; a malformed pattern (checked whole, as Go
    1.16+ does) is :class:`BadPattern`."""
    out, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out, i = out + "[^/]*", i + 1
        elif ch == "?":
            out, i = out + "[^/]", i + 1
        elif ch == "[":
            part, i = _class(pattern, i + 1)
            out += part
        else:
            lit, i = _escaped(pattern, i)
            out += re.escape(lit)
    return re.compile(out + r"\Z", re.DOTALL)


def _escaped(pattern: str, i: int) -> tuple[str, int]:
    if pattern[i] == "\\":
        if i + 1 >= len(pattern):
            raise BadPattern()
        return pattern[i + 1], i + 2
    return pattern[i], i + 1


def _class(pattern: str, i: int) -> tuple[str, int]:
    """A ``[...]`` class from just past its ``[``; Go's getEsc refuses an empty class, a
    bare ``-`` or ``]`` as a bound, and a class left open."""
    negated = i < len(pattern) and pattern[i] == "^"
    i += negated
    ranges: list[tuple[str, str]] = []
    while True:
        if i < len(pattern) and pattern[i] == "]" and ranges:
            i += 1
            break
        lo, i = _bound(pattern, i)
        hi = lo
        if i < len(pattern) and pattern[i] == "-":
            hi, i = _bound(pattern, i + 1)
        ranges.append((lo, hi))
    body = "".join(f"{re.escape(lo)}-{re.escape(hi)}" for lo, hi in ranges if lo <= hi)
    if not body:  # only reversed ranges: nothing is in the class
        return ("." if negated else "(?!)"), i
    return "[" + "^" * negated + body + "]", i


def _bound(pattern: str, i: int) -> tuple[str, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        raise BadPattern()
    return _escaped(pattern, i)
