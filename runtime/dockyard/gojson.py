"""Go's ``encoding/json`` as dockerd and the docker CLI word it: a decode error's message, a
value's kind in "cannot unmarshal" errors, ``json.Compact`` (what the CLI sends for a
``--security-opt seccomp=<file>``) and the encoder's compact output (:func:`dumps`, every
Engine API body). Pure, and light: the CLI imports it."""

from __future__ import annotations

import json
from typing import Any


def error(exc: json.JSONDecodeError) -> str:
    """The words Go's decoder uses where Python's stopped (the usual cases)."""
    text, pos = exc.doc, exc.pos
    if pos >= len(text.rstrip()):
        return "unexpected end of JSON input"
    after = {"Expecting property name enclosed in double quotes": "looking for beginning of object key string",
             "Expecting ':' delimiter": "after object key",
             "Expecting ',' delimiter": "after object key:value pair" if _in_object(text, pos)
             else "after array element",
             "Extra data": "after top-level value"}.get(exc.msg, "looking for beginning of value")
    return f"invalid character '{text[pos]}' {after}"


def _in_object(text: str, pos: int) -> bool:
    depth = []
    in_str = escaped = False
    for ch in text[:pos]:
        if in_str:
            in_str, escaped = (in_str if escaped or ch != '"' else False), (ch == "\\" and not escaped)
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth.append(ch)
        elif ch in "]}" and depth:
            depth.pop()
    return bool(depth) and depth[-1] == "{"


def kind(value: Any) -> str:
    return {bool: "bool", int: "number", float: "number", str: "string", list: "array",
            type(None): "null"}.get(type(value), "object")


def compact(text: str) -> str:
    """``json.Compact``: the same tokens without the whitespace between them (numbers, escapes
    and key order as written); ``ValueError`` with Go's words if it is not JSON."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(error(exc)) from None
    out, in_str, escaped = [], False, False
    for ch in text:
        if in_str:
            out.append(ch)
            in_str, escaped = (in_str if escaped or ch != '"' else False), (ch == "\\" and not escaped)
        elif ch not in " \t\n\r":
            out.append(ch)
            in_str = ch == '"'
    return "".join(out)


def dumps(value: Any) -> str:
    """``value`` as dockerd's encoder writes a body: no spaces between tokens (its
    ``{"message":"…"}``); no trailing newline (callers add the encoder's)."""
    return json.dumps(value, separators=(",", ":"))


def stream_dumps(value: Any) -> str:
    """A message of a JSON stream (pull, push, build, load, stats) as dockerd's
    ``json.Marshal`` writes it: :func:`dumps` with Go's HTML escaping, ``<``, ``>`` and ``&``
    as ``\\u003c``, ``\\u003e``, ``\\u0026`` (a progress bar's arrow). Only strings hold them."""
    return dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
