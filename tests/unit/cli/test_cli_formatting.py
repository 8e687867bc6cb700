"""docker's units, ages, tables and the --format template subset."""

from __future__ import annotations

import pytest

from dockyard import units
from dockyard.cli import formatting as fmt
from dockyard.errors import InvalidArgument


@pytest.mark.parametrize(("size", "text"), [
    (0, "0B"), (999, "999B"), (1000, "1kB"), (4_261_234, "4.26MB"), (1_982_650, "1.98MB"),
    (123_456_789, "123MB"), (2_500_000_000, "2.5GB"),
])
def test_human_size_is_decimal_with_3_significant_digits(size: int, text: str) -> None:
    assert fmt.human_size(size) == text


def test_human_size_precision_4_as_system_df() -> None:
    assert fmt.human_size(1_982_650, 4) == "1.983MB"


@pytest.mark.parametrize(("seconds", "text"), [
    (0.5, "Less than a second"), (1, "1 second"), (30, "30 seconds"), (60, "About a minute"),
    (59 * 60, "59 minutes"), (3600, "About an hour"), (2 * 3600, "2 hours"), (9000, "3 hours"), (47 * 3600, "47 hours"),
    (3 * 86400, "3 days"), (20 * 86400, "2 weeks"), (90 * 86400, "3 months"), (800 * 86400, "2 years"),
    (3 * 365 * 86400 - 1800, "2 years"),  # years from the hours before rounding, as go-units
])
def test_human_duration_matches_go_units(seconds: float, text: str) -> None:
    assert fmt.human_duration(seconds) == text


def test_since() -> None:
    assert fmt.since(1000, now=1000 + 7200) == "2 hours ago"


def test_short_id_and_ellipsis() -> None:
    assert fmt.short_id("sha256:" + "ab" * 32) == "ab" * 6
    assert fmt.ellipsis("x" * 50, 45) == "x" * 44 + "…"
    assert fmt.ellipsis("short", 45) == "short"


def test_tabwriter_pads_like_docker() -> None:
    out = fmt.tabwrite(["REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE",
                        "busybox\tlatest\te1b6d2319a5d\t2 years ago\t1.98MB"])
    assert out.splitlines() == [
        "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE",
        "busybox      latest    e1b6d2319a5d   2 years ago   1.98MB",
    ]


def test_render_fields_nesting_and_functions() -> None:
    ctx = {"Repository": "busybox", "Tag": "latest", "Config": {"Cmd": ["sh", "-c"], "Env": None,
           "Labels": {"b": "2", "a": "1"}}, "Ok": True}
    assert fmt.render("{{.Repository}}:{{.Tag}}", ctx) == "busybox:latest"
    assert fmt.render("{{.Config.Cmd}}", ctx) == "[sh -c]"
    assert fmt.render("{{json .Config.Cmd}}", ctx) == '["sh","-c"]'
    assert fmt.render("{{.Config.Labels}}", ctx) == "map[a:1 b:2]"
    assert fmt.render("{{.Ok}} {{.Config.Env}}", ctx) == "true <nil>"
    assert fmt.render("{{upper .Repository}} {{.Tag | upper}}", ctx) == "BUSYBOX LATEST"
    assert fmt.render('{{join .Config.Cmd ","}}', ctx) == "sh,-c"
    assert fmt.render("{{index .Config.Labels \"a\"}}", ctx) == "1"
    assert fmt.render("{{.Missing}}", ctx) == "<nil>"
    assert fmt.render("{{ .Repository }}", ctx) == "busybox"


@pytest.mark.parametrize("template", ["{{range .}}x{{end}}", "{{nosuch .X}}", "{{.X", "{{.Tag.Deeper}}"])
def test_unsupported_templates_are_clear_errors(template: str) -> None:
    with pytest.raises(InvalidArgument):
        fmt.render(template, {"Tag": "latest"})


def test_format_rows_table_json_and_plain() -> None:
    rows = [{"ID": "a1", "Size": "1B"}, {"ID": "b2", "Size": "2B"}]
    headers = {"ID": "IMAGE ID"}
    table = fmt.format_rows("table {{.ID}}\\t{{.Size}}", rows, headers, "{{.ID}}")
    assert table.splitlines() == ["IMAGE ID   SIZE", "a1         1B", "b2         2B"]
    assert fmt.format_rows("json", rows[:1], headers, "") == '{"ID":"a1","Size":"1B"}\n'
    assert fmt.render("{{json .}}", {"Digest": "<none>", "A": "&"}) == '{"Digest":"\\u003cnone\\u003e","A":"\\u0026"}'
    assert fmt.format_rows("{{.ID}}", rows, headers, "") == "a1\nb2\n"
    assert fmt.format_rows("{{.ID}}", [], headers, "") == ""
    assert fmt.format_rows("table", rows, headers, "{{.ID}}").splitlines()[0] == "IMAGE ID"


@pytest.mark.parametrize(("size", "text"), [(0, "0B"), (1023, "1023B"), (1536 * 1024, "1.5MiB"),
                                            (64 * 1024 * 1024, "64MiB"), (24 * 1024**3 - 1, "24GiB")])
def test_bytes_size_is_binary_with_4_significant_digits(size: int, text: str) -> None:
    assert units.bytes_size(size) == text
