"""The ``filters`` query parameter as dockerd 20.10 reads it (moby's ``api/types/filters``).

Every list and prune endpoint takes ``filters`` as ``{"key": ["value", …]}``; each manager
says which keys it accepts and reads their values through the helpers here, so dockerd's
refusals have one wording: ``Invalid filter 'bogus'`` for a key the endpoint does not take,
``Invalid filter 'dangling=[foo]'`` for a value it cannot read (Go's ``%s`` of the values).

Go keeps a key's values as a set (``map[string]bool``): :func:`values_of` drops repeats,
and a boolean filter is decided by whether a value is *among* them (``ExactMatch``), so
``dangling=[foo true]`` is true where ``dangling=[foo]`` is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable
from typing import Any

from . import gojson
from .errors import DockyardError, InvalidArgument
from .store.timefmt import filter_time

Filters = dict[str, list[str]]


class InvalidFilter(InvalidArgument):
    """moby's ``invalidFilter`` (400): the key alone, or the key and what was refused."""

    def __init__(self, key: str, value: str | list[str] | None = None) -> None:
        text = key if value is None else f"{key}={go_str(value)}"
        super().__init__(f"Invalid filter '{text}'")
        self.key = key


def go_str(value: str | list[str]) -> str:
    """Go's ``%s``: a string as it is, a list as ``[a b]``."""
    return value if isinstance(value, str) else "[" + " ".join(value) + "]"


def parse(raw: str) -> Filters:
    """moby's ``filters.FromJSON``: ``{"key": {"value": true}}``, else the legacy
    ``{"key": ["value"]}``; JSON that is neither is dockerd's 500 in Go's words (the first
    form's type error, else the syntax error)."""
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DockyardError(gojson.error(exc)) from None
    if parsed is None:
        return {}
    error = _type_error(parsed)
    if error is not None and not _legacy(parsed):
        raise DockyardError(f"json: cannot unmarshal {error}")
    return {str(k): [] if v is None else values_of(v) for k, v in parsed.items()}


def _type_error(parsed: Any) -> str | None:
    """Go's first type error decoding into ``map[string]map[string]bool``, or None."""
    if not isinstance(parsed, dict):
        return f"{gojson.kind(parsed)} into Go value of type map[string]map[string]bool"
    for values in parsed.values():
        if values is not None and not isinstance(values, dict):
            return f"{gojson.kind(values)} into Go value of type map[string]bool"
        for on in (values or {}).values():
            if on is not None and not isinstance(on, bool):
                return f"{gojson.kind(on)} into Go value of type bool"
    return None


def _legacy(parsed: Any) -> bool:
    """Whether Go decodes it into ``map[string][]string``."""
    return isinstance(parsed, dict) and all(
        v is None or isinstance(v, list) and all(x is None or isinstance(x, str) for x in v)
        for v in parsed.values())


def values_of(value: Any) -> list[str]:
    """One key's values from the JSON (a list, or the legacy ``{"v": true}`` map), repeats
    dropped as Go's set drops them."""
    if isinstance(value, dict):
        items: Iterable[Any] = (k for k, on in value.items() if on)
    else:
        items = ("" if v is None else v for v in value)  # Go's zero string for a null
    return list(dict.fromkeys(str(v) for v in items))


def check_keys(filters: Filters, accepted: Collection[str]) -> None:
    """``Args.Validate``: a key the endpoint does not take is refused before anything runs."""
    for key in filters:
        if key not in accepted:
            raise InvalidFilter(key)


def exact_match(filters: Filters, key: str, value: str) -> bool:
    """``Args.ExactMatch``: true when ``value`` is among the key's values, or it has none."""
    values = filters.get(key)
    return not values or value in values


def unique_exact_match(filters: Filters, key: str, value: str) -> bool:
    """``Args.UniqueExactMatch``: ``value`` is the key's one value (or it has none)."""
    values = filters.get(key)
    return not values or values == [value]


def bool_filter(filters: Filters, key: str, true: tuple[str, ...] = ("true", "1"),
                false: tuple[str, ...] = ("false", "0"), *, false_first: bool = False) -> bool | None:
    """A boolean filter as dockerd reads most of them: None when absent, else whether a
    ``true`` spelling is among the values (a ``false`` one first with ``false_first``, as the
    image prune asks); neither is ``Invalid filter 'key=[values]'``. Case counts (Go's)."""
    if key not in filters:
        return None
    spellings = [(False, false), (True, true)] if false_first else [(True, true), (False, false)]
    for answer, words in spellings:
        if any(exact_match(filters, key, w) for w in words):
            return answer
    raise InvalidFilter(key, filters[key])


def go_match(value: str, source: str) -> bool:
    """One value of ``Args.Match``: the source itself, or a regular expression found in it;
    one that does not compile matches nothing (Go skips it)."""
    if value == source:
        return True
    try:
        return re.search(value, source) is not None
    except re.error:
        return False


def prune_until(filters: Filters) -> float | None:
    """A prune's ``until`` as dockerd's getUntilFromPruneFilters reads it: one value, a time
    or a duration before now (unix seconds); two are its 500."""
    values = filters.get("until")
    if not values:
        return None
    if len(values) > 1:
        raise DockyardError("more than one until filter specified")
    return filter_time(values[0])
