"""Shell-word expansion, case by case against BuildKit's lexer behaviour."""

from __future__ import annotations

import pytest

from dockyard.build.expand import ExpansionError, Lexer, expand

ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": "", "FOO": "xxyy",
       "EMPTY": "", "A": "a", "SPACED": "a  b c"}

WORDS = [
    ("hello", "hello"),
    ("he'll'o", "hello"),
    ('he"l"lo', "hello"),
    ("'$PWD'", "$PWD"),
    ('"$PWD"', "/home"),
    ("$PWD", "/home"),
    ("${PWD}", "/home"),
    ("${PWD}x", "/homex"),
    ("$PWDx", ""),
    ("a$PWD", "a/home"),
    ("\\$PWD", "$PWD"),
    ('"\\$PWD"', "$PWD"),
    ("'\\$PWD'", "\\$PWD"),
    ('"hello\\"world"', 'hello"world'),
    ('"a\\b"', "a\\b"),
    ('"a\\\\b"', "a\\b"),
    ("a\\ b", "a b"),
    ("\\\\", "\\"),
    ("abc\\", "abc"),
    ("$", "$"),
    ("$ x", "$ x"),
    ("x$", "x$"),
    ("$1", ""),
    ("$@", ""),
    ("$KOREAN", "한국어"),
    ("${KOREAN}!", "한국어!"),
    ("${NULL:-default}", "default"),
    ("${NULL-default}", ""),
    ("${UNSET-default}", "default"),
    ("${UNSET:-default}", "default"),
    ("${PWD:-default}", "/home"),
    ("${PWD:+alt}", "alt"),
    ("${NULL:+alt}", ""),
    ("${NULL+alt}", "alt"),
    ("${UNSET+alt}", ""),
    ("${UNSET:-$PWD}", "/home"),
    ("${UNSET:-${SHELL}}", "bash"),
    ("${UNSET:-'quoted $x'}", "quoted $x"),
    ('${UNSET:-"dq $PWD"}', "dq /home"),
    ("${UNSET:-a b}", "a b"),
    ("${FOO#x}", "xyy"),
    ("${FOO##*x}", "yy"),
    ("${FOO#*}", "xxyy"),
    ("${FOO%y}", "xxy"),
    ("${FOO%%y*}", "xx"),
    ("${FOO%%x*}", ""),
    ("${FOO%?}", "xxy"),
    ("${FOO/x/z}", "zxyy"),
    ("${FOO//x/z}", "zzyy"),
    ("${FOO//?/.}", "...."),
    ("${FOO/nomatch/z}", "xxyy"),
    ("${UNSET/x/z}", ""),
    ("${FOO#}", "xxyy"),
    ("${FOO%}", "xxyy"),
    ("${FOO?msg}", "xxyy"),
    ("${NULL?msg}", ""),
    ("${A}${A}", "aa"),
    ("$A$A", "aa"),
    ("$A-$A", "a-a"),
    ("$A_", ""),
    ("${A}_", "a_"),
    ("$SPACED", "a  b c"),
    ("''", ""),
    ('""', ""),
    ("x'y z'", "xy z"),
    ("'a'\"b\"c", "abc"),
    ("${PWD#/}", "home"),
    ("café", "café"),
]


@pytest.mark.parametrize(("word", "expected"), WORDS)
def test_process_word(word: str, expected: str) -> None:
    assert Lexer().process_word(word, ENV) == expected


ERRORS = [
    ("${", "syntax error: missing '}'"),
    ("${PWD", "syntax error: missing '}'"),
    ("${}", "syntax error: bad substitution"),
    ("${:}", "syntax error: bad substitution"),
    ("${{x}", "syntax error: bad substitution"),
    ("${PWD:-x", "syntax error: missing '}'"),
    ("${PWD=x}", "unsupported modifier (=) in substitution"),
    ("${PWD:=x}", "unsupported modifier (:=) in substitution"),
    ("${PWD:#x}", "unsupported modifier (:#) in substitution"),
    ("${PWD:%x}", "unsupported modifier (:%) in substitution"),
    ("${UNSET?}", "UNSET: is not allowed to be unset"),
    ("${UNSET?oops}", "UNSET: oops"),
    ("${NULL:?}", "NULL: is not allowed to be empty"),
    ("${UNSET:?must set $A}", "UNSET: must set a"),
    ("'open", "unexpected end of statement while looking for matching single-quote"),
    ('"open', "unexpected end of statement while looking for matching double-quote"),
    ("${FOO//x}", "syntax error: missing '/' in ${}"),
    ("${FOO/x", "syntax error: missing '/' in ${}"),
    ("${FOO#\\x}", "invalid pattern (\\x) in substitution: invalid escape '\\x'"),
]


@pytest.mark.parametrize(("word", "message"), ERRORS)
def test_process_word_errors(word: str, message: str) -> None:
    with pytest.raises(ExpansionError) as info:
        Lexer().process_word(word, ENV)
    assert info.value.message == message


SPLIT = [
    ("a b c", ["a", "b", "c"]),
    ("  a   b  ", ["a", "b"]),
    ("'a b' c", ["a b", "c"]),
    ('"a b" c', ["a b", "c"]),
    ("$SPACED", ["a", "b", "c"]),
    ('"$SPACED"', ["a  b c"]),
    ("x$SPACED", ["xa", "b", "c"]),
    ("'' a", ["a"]),
    ("a\\ b", ["a b"]),
    ("80/tcp 443", ["80/tcp", "443"]),
    ("", []),
]


@pytest.mark.parametrize(("word", "expected"), SPLIT)
def test_process_words(word: str, expected: list[str]) -> None:
    assert Lexer().process_words(word, ENV) == expected


def test_skip_unset_keeps_references_verbatim() -> None:
    lex = Lexer(skip_unset=True)
    assert lex.process_word("$UNSET ${UNSET} ${UNSET:-x} $A", ENV) == "$UNSET ${UNSET} ${UNSET:-x} a"
    assert lex.process_word("${UNSET/a/b}", ENV) == "${UNSET/a/b}"


def test_raw_quotes_and_escapes() -> None:
    assert Lexer(raw_quotes=True).process_word("'a' \"b\"", ENV) == "'a' \"b\""
    assert Lexer(raw_escapes=True).process_word("a\\ b", ENV) == "a\\ b"


def test_skip_quotes_for_heredoc_bodies() -> None:
    lex = Lexer(skip_quotes=True)
    assert lex.process_word("echo 'hi $A' \"x\"\n", ENV) == "echo 'hi a' \"x\"\n"


def test_backtick_escape_token() -> None:
    lex = Lexer(escape="`")
    assert lex.process_word("C:\\path`$A", ENV) == "C:\\path$A"
    assert lex.process_word('"a`"b"', ENV) == 'a"b'


def test_matched_and_unmatched_names_are_reported() -> None:
    _, _, matched, unmatched = Lexer().run("${FOO-a} ${BAR-b} $NULL ${BAZ:+c}", ENV)
    assert matched == {"FOO", "NULL"}
    assert unmatched == {"BAR", "BAZ"}


def test_platform_release_name() -> None:
    env = {"VERSION": "v1.2.3", "TARGETOS": "linux", "TARGETARCH": "arm", "TARGETVARIANT": "v7"}
    word = "x-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tgz"
    assert expand(word, env) == "x-v1.2.3.linux-arm-v7.tgz"
    env["TARGETVARIANT"] = ""
    assert expand(word, env) == "x-v1.2.3.linux-arm.tgz"
