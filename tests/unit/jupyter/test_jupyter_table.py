"""The widgets' table model: filtering and sorting without a front end."""

from __future__ import annotations

from dockyard_jupyter.widgets.table import Row, TableModel


def model() -> TableModel:
    return TableModel(["REPOSITORY", "SIZE"], [
        Row("a:1", ["alpine", "5MB"], ["alpine", 5_000_000]),
        Row("b:1", ["busybox", "2MB"], ["busybox", 2_000_000]),
        Row("c:1", ["busybox-extra", "9MB"], ["busybox-extra", 9_000_000]),
    ])


def test_filter_matches_every_word_in_any_cell() -> None:
    m = model()
    m.query = "BUSY 9mb"
    assert [r.key for r in m.visible()] == ["c:1"]
    m.query = "nothing-like-this"
    assert m.visible() == []


def test_sort_by_a_column_uses_its_sort_key_not_the_text() -> None:
    m = model()
    m.sort_by, m.descending = 1, True
    assert [r.key for r in m.visible()] == ["c:1", "a:1", "b:1"]


def test_html_escapes_and_marks_the_selection() -> None:
    m = TableModel(["NAME"], [Row("x", ["<script>"], ["x"])])
    page = m.html(selected="x")
    assert "&lt;script&gt;" in page and "background" in page and "<script>" not in page
