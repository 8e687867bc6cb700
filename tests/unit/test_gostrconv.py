"""Go's strconv parsers (dockyard.gostrconv), their answers as dockerd 20.10.24 gave them:
``exited=`` of ``GET /containers/json`` reads Atoi, ``publish=`` ParseUint(…, 10, 16); an int
flag's base 0 as the docker 28 CLI read ``--stop-timeout 0x10`` (16), ``1_0`` (10),
``--health-retries 0o7`` (7), ``-c 010`` (8), ``--pids-limit -0b11`` (-3)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dockyard.gostrconv import NumError, atoi, parse_uint, pflag_int, quote

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
    _reads_as_go(atoi, "Atoi", text, expected)


def _reads_as_go(parse: Callable[[str], int], func: str, text: str, expected: int | str) -> None:
    """``parse(text)`` is ``expected``: the value, or the reason of Go's NumError by ``func``."""
    if isinstance(expected, int):
        assert parse(text) == expected
    else:
        with pytest.raises(NumError) as refused:
            parse(text)
        assert str(refused.value) == f"strconv.{func}: parsing {quote(text)}: {expected}"


@pytest.mark.parametrize(("text", "expected"), [
    ("65535", 65535), ("080", 80), ("0", 0), ("65536", "value out of range"),
    ("999999a", "value out of range"), ("65536a", "value out of range"), ("6553a", "invalid syntax"),
    ("+80", "invalid syntax"), ("", "invalid syntax"), ("-1", "invalid syntax"),
])
def test_parse_uint16_reads_and_refuses_as_go(text: str, expected: int | str) -> None:
    _reads_as_go(lambda t: parse_uint(t, 16), "ParseUint", text, expected)


def test_quote_is_go_percent_q() -> None:
    assert quote('a"b\\\t\x01\x7f\u200b') == '"a\\"b\\\\\\t\\x01\\x7f\\u200b"'


# (text, ParseInt(text, 0, 64)'s value or its error's reason): pflag's int flags
PFLAG_INT = [
    ("16", 16), ("0x10", 16), ("0X1f", 31), ("010", 8), ("0o17", 15), ("0b101", 5),
    ("-0b11", -3), ("+0x10", 16), ("1_000", 1000), ("0x_1", 1), ("0_7", 7), ("0", 0), ("-0", 0),
    ("0x7fffffffffffffff", 9223372036854775807), ("-0x8000000000000000", -9223372036854775808),
    ("0x8000000000000000", "value out of range"), ("99999999999999999999a", "value out of range"),
    ("08", "invalid syntax"), ("0x", "invalid syntax"), ("0b2", "invalid syntax"),
    ("_1", "invalid syntax"), ("1__0", "invalid syntax"), ("1_", "invalid syntax"),
    ("0x1g", "invalid syntax"), ("", "invalid syntax"), ("٣", "invalid syntax"), (" 1", "invalid syntax"),
]


@pytest.mark.parametrize(("text", "expected"), PFLAG_INT)
def test_an_int_flag_reads_base_0_as_pflag(text: str, expected: int | str) -> None:
    _reads_as_go(pflag_int, "ParseInt", text, expected)
