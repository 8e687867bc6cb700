"""Rows, filtering and sorting shared by the image browser and the container list."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    key: str                      # what actions act on (image reference / container id)
    cells: list[str]
    sort_keys: list[Any]
    obj: Any = None


@dataclass
class TableModel:
    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    query: str = ""
    sort_by: int = 0
    descending: bool = False

    def visible(self) -> list[Row]:
        """Rows whose cells contain the query (case-insensitive), sorted by one column."""
        words = self.query.lower().split()
        shown = [r for r in self.rows
                 if all(any(w in c.lower() for c in r.cells) for w in words)]
        return sorted(shown, key=lambda r: r.sort_keys[self.sort_by], reverse=self.descending)

    def html(self, selected: str | None = None) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(_row_html(r, r.key == selected) for r in self.visible())
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _row_html(row: Row, selected: bool) -> str:
    style = " style='background:#dbeafe'" if selected else ""
    return f"<tr{style}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row.cells) + "</tr>"


def run_action(action: Callable[[], Any], report: Callable[[str, bool], None],
               done: str | None) -> bool:
    """Run one user action; its error becomes the widget's status line, never a traceback."""
    from ..client import daemon_errors

    try:
        with daemon_errors("daemon"):
            action()
    except Exception as exc:  # noqa: BLE001 - shown in the widget
        report(str(exc), True)
        return False
    if done is not None:
        report(done, False)
    return True


def option_labels(rows: Sequence[Row]) -> list[tuple[str, str]]:
    return [("   ".join(r.cells), r.key) for r in rows]
