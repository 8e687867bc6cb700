"""dockyard.filters: the ``filters`` parameter as dockerd 20.10 reads and refuses it (its
words recorded from a private dockerd 20.10.24: see tests/interop/test_filters_parity_dockerd.py)."""

from __future__ import annotations

import time

import pytest

from dockyard.build.builder import check_prune_filters
from dockyard.distribution.service import search_filter
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.filters import (
    InvalidFilter,
    bool_filter,
    check_keys,
    exact_match,
    go_match,
    parse,
    prune_until,
    unique_exact_match,
)
from dockyard.gomatch import BadPattern, glob


def _refused(exc: pytest.ExceptionInfo[DockyardError]) -> tuple[int, str]:
    return exc.value.status, str(exc.value)


def test_invalid_filter_words_are_dockerds() -> None:
    assert str(InvalidFilter("bogus")) == "Invalid filter 'bogus'"
    assert str(InvalidFilter("status", "foo")) == "Invalid filter 'status=foo'"
    assert str(InvalidFilter("dangling", ["foo", "bar"])) == "Invalid filter 'dangling=[foo bar]'"
    assert InvalidFilter("x").status == 400


def test_check_keys_refuses_a_key_the_endpoint_does_not_take() -> None:
    check_keys({"label": ["a"]}, ("label", "until"))
    with pytest.raises(InvalidFilter) as exc:
        check_keys({"label": ["a"], "bogus": []}, ("label", "until"))
    assert _refused(exc) == (400, "Invalid filter 'bogus'")


def test_parse_reads_both_forms_and_keeps_gos_set_of_values() -> None:
    assert parse("") == {}
    assert parse("null") == {}
    assert parse('{"status": {"running": true, "exited": false}}') == {"status": ["running"]}
    assert parse('{"status": ["running", "running", null]}') == {"status": ["running", ""]}
    assert parse('{"bogus": null}') == {"bogus": []}


@pytest.mark.parametrize(("raw", "words"), [
    ("[]", "json: cannot unmarshal array into Go value of type map[string]map[string]bool"),
    ("1", "json: cannot unmarshal number into Go value of type map[string]map[string]bool"),
    ('{"a": "b"}', "json: cannot unmarshal string into Go value of type map[string]bool"),
    ('{"a": {"b": "x"}}', "json: cannot unmarshal string into Go value of type bool"),
    ('{"a": [1]}', "json: cannot unmarshal array into Go value of type map[string]bool"),
    ('{"a": {"b": true}, "c": ["d"]}', "json: cannot unmarshal array into Go value of type map[string]bool"),
    ('{"status": ["running"]', "unexpected end of JSON input"),
])
def test_parse_refuses_what_go_cannot_decode_with_its_500(raw: str, words: str) -> None:
    with pytest.raises(DockyardError) as exc:
        parse(raw)
    assert _refused(exc) == (500, words)


def test_exact_and_unique_exact_match() -> None:
    filters = {"a": ["x", "true"], "b": []}
    assert exact_match(filters, "a", "true") and not exact_match(filters, "a", "y")
    assert exact_match(filters, "b", "anything") and exact_match(filters, "c", "anything")
    assert not unique_exact_match(filters, "a", "true")
    assert unique_exact_match({"a": ["true"]}, "a", "true") and unique_exact_match(filters, "b", "z")


def test_bool_filter_reads_a_value_among_the_values_case_and_all() -> None:
    assert bool_filter({}, "dangling") is None
    assert bool_filter({"dangling": ["foo", "true"]}, "dangling") is True
    assert bool_filter({"dangling": ["0"]}, "dangling") is False
    assert bool_filter({"dangling": []}, "dangling") is True  # no value: Go's ExactMatch is true
    assert bool_filter({"dangling": ["true", "false"]}, "dangling") is True
    assert bool_filter({"dangling": ["true", "false"]}, "dangling", false_first=True) is False
    for values, words in ((["True"], "[True]"), (["1"], "[1]"), (["foo", "bar"], "[foo bar]")):
        with pytest.raises(InvalidFilter) as exc:
            bool_filter({"dangling": values}, "dangling", ("true",), ("false",))
        assert _refused(exc) == (400, f"Invalid filter 'dangling={words}'")


def test_prune_until_takes_one_value() -> None:
    assert prune_until({}) is None
    assert prune_until({"until": ["1700000000"]}) == 1700000000.0
    assert abs(prune_until({"until": ["1h"]}) - (time.time() - 3600)) < 60  # type: ignore[operator]
    with pytest.raises(DockyardError) as exc:
        prune_until({"until": ["1h", "2h"]})
    assert _refused(exc) == (500, "more than one until filter specified")
    with pytest.raises(DockyardError) as exc:
        prune_until({"until": ["x"]})
    assert _refused(exc) == (500, 'failed to parse value as time or duration: "x"')


@pytest.mark.parametrize(("pattern", "name", "matched"), [
    ("busy*", "busybox", True), ("busy*", "busy/box", False), ("b?sybox", "busybox", True),
    ("busy[a-z]ox", "busybox", True), ("busy[^a-z]ox", "busybox", False), ("busy[^a-z]ox", "busy/ox", True),
    ("busy\\*", "busy*", True), ("busy\\*", "busybox", False), ("[]a]", "]", False),
    ("a[z-a]", "ab", False), ("a[^z-a]", "ab", True), ("b[\\]]", "b]", True), ("x.y", "xzy", False),
])
def test_glob_is_gos_path_match(pattern: str, name: str, matched: bool) -> None:
    if pattern == "[]a]":  # an empty class is malformed
        with pytest.raises(BadPattern):
            glob(pattern)
        return
    assert bool(glob(pattern).match(name)) is matched


@pytest.mark.parametrize("pattern", ["busybox\\", "busy[", "busy[a-", "[]", "[-a]", "a[b-]", "ok*[x"])
def test_glob_refuses_a_malformed_pattern_whole_with_dockerds_500(pattern: str) -> None:
    with pytest.raises(BadPattern) as exc:
        glob(pattern)
    assert _refused(exc) == (500, "syntax error in pattern")


def test_go_match_is_the_value_or_a_regexp_found_in_the_source() -> None:
    assert go_match("default", "default") and go_match("^def", "default") and go_match("fau", "default")
    assert not go_match("DEF", "default") and not go_match("[", "default")


@pytest.mark.parametrize(("filters", "status", "words"), [
    ({"bogus": ["1"]}, 400, "Invalid filter 'bogus'"),
    ({"until": ["x"]}, 500, "\"until\" filter expects a duration (e.g., '24h'): time: invalid duration \"x\""),
    ({"unused-for": ["1x"]}, 500,
     "\"unused-for\" filter expects a duration (e.g., '24h'): time: unknown unit \"x\" in duration \"1x\""),
    ({"until": ["x"], "unused-for": ["y"]}, 400, 'conflicting filters: "until" and "unused-for"'),
    ({"until": ["x", "y"]}, 400, "filters expect only one value"),
    ({"parent": ["a", "b"]}, 400, "filters expect only one value"),
    ({"parent": ["a", "b"], "until": ["x"]}, 500,
     "\"until\" filter expects a duration (e.g., '24h'): time: invalid duration \"x\""),
])
def test_build_cache_prune_filters_as_dockerd_refuses_them(filters: dict[str, list[str]], status: int,
                                                           words: str) -> None:
    with pytest.raises(DockyardError) as exc:
        check_prune_filters(filters)
    assert _refused(exc) == (status, f"failed to prune build cache: {words}")
    assert isinstance(exc.value, InvalidArgument) is (status == 400)


def test_build_cache_prune_filters_dockerd_takes() -> None:
    assert check_prune_filters({}) is None
    assert check_prune_filters({"until": ["1h"], "label": ["a", "b"], "inuse": []}) == 3_600_000_000_000
    assert check_prune_filters({"unused-for": ["-1m"], "id": ["x"]}) == -60_000_000_000


def test_search_filters_refused_and_applied() -> None:
    for filters, words in (({"bogus": ["1"]}, "'bogus'"), ({"is-official": ["1"]}, "'is-official=[1]'"),
                           ({"is-automated": ["true", "false"]}, "'is-automated=[true false]'"),
                           ({"stars": ["2", " 1"]}, "'stars= 1'")):
        with pytest.raises(InvalidFilter) as exc:
            search_filter(filters)
        assert _refused(exc) == (400, f"Invalid filter {words}")
    results = [{"name": n, "star_count": s, "is_official": o, "is_automated": False}
               for n, s, o in (("a", 0, True), ("b", 5, False), ("c", 9, True))]
    keep = search_filter({"stars": ["3", "-1"], "is-official": ["true"]})
    assert [r["name"] for r in results if keep(r)] == ["c"]
    keep = search_filter({"is-automated": ["false"], "stars": ["+5"]})
    assert [r["name"] for r in results if keep(r)] == ["b", "c"]
