"""Go's strconv parsers (dockyard.gostrconv), their answers as dockerd 20.10.24 gave them:
``exited=`` of ``GET /containers/json`` reads Atoi, ``publish=`` ParseUint(…, 10, 16)."""

from __future__ import annotations

import pytest

from dockyard.gostrconv import NumError, atoi, parse_uint, quote

# (text, Atoi's value or its error's reason)
ATOI = [
    ("3", 3), ("+3", 3), ("03", 3), ("-0", 0), ("-1", -1),
    ("9223372036854775807", 9223372036854775807), ("-9223372036854775808", -9223372036854775808),
    ("9223372036854775808", "value out of range"), ("-9223372036854775809", "value out of range"),
    ("99999999999999999999", "value out of range"),
    ("99999999999999999999a", "value out of range"),  # the overflow comes before the a
    ("1234567890123456789a", "invalid syntax"), ("a99999999999999999999", "invalid syntax"),
    ("", "invalid syntax"), ("+", "invalid syntax"), (" 3", "invalid syntax"), ("3_0", "invalid syntax"),
    ("0x3", "invalid syntax"), ("٣", "invalid syntax"), ("+-3", "invalid syntax"),
]


@pytest.mark.parametrize(("text", "expected"), ATOI)
def test_atoi_reads_and_refuses_as_go(text: str, expected: int | str) -> None:
    if isinstance(expected, int):
        assert atoi(text) == expected
    else:
        with pytest.raises(NumError) as refused:
            atoi(text)
        assert str(refused.value) == f"strconv.Atoi: parsing {quote(text)}: {expected}"


@pytest.mark.parametrize(("text", "expected"), [
    ("65535", 65535), ("080", 80), ("0", 0), ("65536", "value out of range"),
    ("999999a", "value out of range"), ("65536a", "value out of range"), ("6553a", "invalid syntax"),
    ("+80", "invalid syntax"), ("", "invalid syntax"), ("-1", "invalid syntax"),
])
def test_parse_uint16_reads_and_refuses_as_go(text: str, expected: int | str) -> None:
    if isinstance(expected, int):
        assert parse_uint(text, 16) == expected
    else:
        with pytest.raises(NumError) as refused:
            parse_uint(text, 16)
        assert str(refused.value) == f"strconv.ParseUint: parsing {quote(text)}: {expected}"


def test_quote_is_go_percent_q() -> None:
    assert quote('a"b\\\t\x01\x7f\u200b') == '"a\\"b\\\\\\t\\x01\\x7f\\u200b"'
