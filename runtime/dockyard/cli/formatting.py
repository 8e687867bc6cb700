"""docker's output conventions: human sizes and ages, tab-aligned tables, ``--format`` templates.

The template language is the subset of Go's text/template that people pass to ``docker
--format``: ``{{.Field}}`` (nested ``{{.Config.Cmd}}``), ``{{.}}``, functions ``json``, ``upper``,
``lower``, ``title``, ``join``, ``truncate``, ``len``, ``index`` and ``println``, pipes
(``{{.Repository | upper}}``), string literals, and the ``table`` prefix (header row, then
rows), plus ``--format json`` as ``{{json .}}``. ``\\t`` and ``\\n`` in a format are tabs and
newlines, and every output goes through a tab writer, as in docker. Anything else (``range``,
``if``) is an ``InvalidArgument``, never a traceback.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..errors import InvalidArgument
from ..units import human_duration, human_size


def since(unix: float, now: float | None = None) -> str:
    """``"2 hours ago"`` for a unix timestamp."""
    current = datetime.now().timestamp() if now is None else now
    return human_duration(current - unix) + " ago"


def go_time(unix: float) -> str:
    """Go's ``time.Unix(t, 0).String()`` in local time: ``2024-01-01 00:00:00 +0000 UTC``."""
    stamp = datetime.fromtimestamp(unix).astimezone()
    return stamp.strftime("%Y-%m-%d %H:%M:%S %z ") + (stamp.tzname() or "")


def rfc3339(unix: float) -> str:
    """Go's ``time.Unix(t, 0).Format(time.RFC3339)`` in local time (``Z`` when at UTC)."""
    stamp = datetime.fromtimestamp(unix).astimezone()
    text = stamp.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def short_id(image_id: str) -> str:
    """docker's ``TruncateID``: no algorithm prefix, 12 hex digits."""
    return image_id.split(":", 1)[-1][:12]


def ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# ---- Go-style value rendering and template functions ------------------------------------------


def go_str(value: Any) -> str:
    """How Go's ``{{.}}`` prints a decoded JSON value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_str(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _json(value: Any) -> str:
    """Go's ``json.Marshal``: compact, with ``<``, ``>`` and ``&`` escaped as docker prints them."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _join(items: Any, sep: str) -> str:
    return sep.join(go_str(i) for i in items or [])


def _truncate(text: Any, length: Any) -> str:
    return go_str(text)[: int(length)]


def _index(container: Any, key: Any) -> Any:
    try:
        return container[key]
    except (KeyError, IndexError, TypeError):
        return None


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "json": _json, "upper": lambda s: go_str(s).upper(), "lower": lambda s: go_str(s).lower(),
    "title": lambda s: go_str(s).title(), "join": _join, "truncate": _truncate,
    "len": lambda v: len(v or []), "index": _index, "println": lambda *a: " ".join(map(go_str, a)) + "\n",
}

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)


def _field(ctx: Any, path: str) -> Any:
    value = ctx
    for part in path.split(".")[1:]:
        if not part:
            continue
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, Mapping) or value is None:
            return None
        else:
            raise InvalidArgument(f"template: can't evaluate field {part} in type {type(value).__name__}")
    return value


def _operand(token: str, ctx: Any) -> Any:
    if token.startswith("."):
        return _field(ctx, token)
    if token[:1] in "\"'`":
        return token[1:-1]
    if re.fullmatch(r"-?\d+", token):
        return int(token)
    raise InvalidArgument(f'template: function "{token}" not defined')


def _command(words: list[str], ctx: Any, piped: tuple[Any, ...]) -> Any:
    if not words:
        raise InvalidArgument("template: missing value for command")
    head = words[0]
    if head in FUNCTIONS:
        args = [_operand(w, ctx) for w in words[1:]] + list(piped)
        try:
            return FUNCTIONS[head](*args)
        except TypeError:
            raise InvalidArgument(f"template: wrong number of args for {head}") from None
    if head in {"range", "if", "with", "end", "else", "template", "define", "block"}:
        raise InvalidArgument(f"template: {{{{{head}}}}} is not supported by dockyard's --format")
    if len(words) > 1 or piped:
        raise InvalidArgument(f"template: can't give argument to non-function {head}")
    return _operand(head, ctx)


def _evaluate(action: str, ctx: Any) -> str:
    value: tuple[Any, ...] = ()
    for stage in action.split("|"):
        try:
            words = shlex.split(stage, posix=False)
        except ValueError as exc:
            raise InvalidArgument(f"template: {exc}") from None
        value = (_command(words, ctx, value),)
    return go_str(value[0]) if not isinstance(value[0], str) else value[0]


def render(template: str, ctx: Any) -> str:
    """Render one Go-template string against ``ctx`` (a dict, as docker's formatting contexts)."""
    out: list[str] = []
    pos = 0
    for match in _ACTION.finditer(template):
        out.append(template[pos:match.start()])
        out.append(_evaluate(match.group(1), ctx))
        pos = match.end()
    tail = template[pos:]
    if "{{" in tail:
        raise InvalidArgument("template: unclosed action")
    out.append(tail)
    return "".join(out)


# ---- tables ---------------------------------------------------------------------------------


def tabwrite(lines: Iterable[str], minwidth: int = 10, padding: int = 3) -> str:
    """Go's ``tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`` as docker configures it: every
    tab-terminated cell is padded to its column's width; the cell after the last tab is not."""
    rows = [line.split("\t") for line in lines]
    widths: dict[int, int] = {}
    for cells in rows:
        for i, cell in enumerate(cells[:-1]):
            widths[i] = max(widths.get(i, 0), max(len(cell) + padding, minwidth))
    text = []
    for cells in rows:
        text.append("".join(c.ljust(widths[i]) for i, c in enumerate(cells[:-1])) + cells[-1])
    return "".join(line + "\n" for line in text)


def expand_format(fmt: str, default_table: str) -> tuple[str, bool]:
    """(template, is_table) for a ``--format`` value, with docker's shortcuts and escapes."""
    fmt = fmt or "table"
    if fmt == "json":
        return "{{json .}}", False
    is_table = fmt.startswith("table")
    if is_table:
        fmt = fmt[len("table"):].strip() or default_table
    fmt = fmt.replace("\\t", "\t").replace("\\n", "\n")
    return fmt, is_table


def format_rows(fmt: str | None, rows: Sequence[Mapping[str, Any]], headers: Mapping[str, str],
                default_table: str) -> str:
    """Render ``rows`` as docker does: a header row for ``table`` formats, one line per row."""
    template, is_table = expand_format(fmt or "", default_table)
    lines: list[str] = []
    if is_table:
        lines.append(render(template, _Headers(headers)))
    lines.extend(render(template, row) for row in rows)
    return tabwrite("\n".join(lines).split("\n")) if lines else ""


class _Headers(dict[str, str]):
    """The header context: a field's column title, or the field name upper-cased."""

    def __missing__(self, key: str) -> str:
        return key.upper()

    def __contains__(self, key: object) -> bool:
        return True


__all__ = ["ellipsis", "expand_format", "format_rows", "go_str", "go_time", "human_duration",
           "human_size", "render", "rfc3339", "short_id", "since", "tabwrite"]
