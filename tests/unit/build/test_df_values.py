"""Small value grammars: platforms, EXPOSE ports, Go durations, sizes, suggestions."""

from __future__ import annotations

import pytest

from dockyard.build import platforms
from dockyard.build.errors import DockerfileParseError
from dockyard.build.flags import levenshtein, parse_duration, ram_in_bytes, suggest
from dockyard.build.ports import parse_ports
from dockyard.errors import InvalidArgument


@pytest.mark.parametrize(("text", "expected"), [
    ("linux/amd64", "linux/amd64"), ("linux/x86_64", "linux/amd64"),
    ("linux/arm64", "linux/arm64"), ("linux/arm64/v8", "linux/arm64"),
    ("linux/aarch64", "linux/arm64"), ("linux/arm", "linux/arm/v7"),
    ("linux/arm/v6", "linux/arm/v6"), ("linux/arm/7", "linux/arm/v7"),
    ("linux/armhf", "linux/arm/v7"), ("arm64", "linux/arm64"), ("amd64", "linux/amd64"),
    ("Linux/AMD64", "linux/amd64"), ("linux/386", "linux/386"), ("linux/i386", "linux/386"),
    ("linux/riscv64", "linux/riscv64"), ("windows/amd64", "windows/amd64"),
])
def test_platform_parse(text: str, expected: str) -> None:
    assert str(platforms.parse(text)) == expected


@pytest.mark.parametrize("text", ["", "linux/", "a/b/c/d", "//", "bogus", "*"])
def test_platform_errors(text: str) -> None:
    with pytest.raises(InvalidArgument):
        platforms.parse(text)


def test_platform_args() -> None:
    assert platforms.args(platforms.parse("linux/arm/v7"), "TARGET") == {
        "TARGETPLATFORM": "linux/arm/v7", "TARGETOS": "linux", "TARGETARCH": "arm",
        "TARGETVARIANT": "v7"}
    assert platforms.host().os == "linux"


@pytest.mark.parametrize(("specs", "keys"), [
    (["80"], ["80/tcp"]), (["80/udp"], ["80/udp"]), (["80/TCP"], ["80/tcp"]),
    (["53/sctp"], ["53/sctp"]), (["8000-8002"], ["8000/tcp", "8001/tcp", "8002/tcp"]),
    (["80", "80/tcp"], ["80/tcp"]), (["127.0.0.1:8080:80"], ["80/tcp"]),
    (["8080:80/udp"], ["80/udp"]), (["65535"], ["65535/tcp"]), (["0"], ["0/tcp"]),
])
def test_ports(specs: list[str], keys: list[str]) -> None:
    assert parse_ports(specs) == keys


@pytest.mark.parametrize(("spec", "message"), [
    ("x", "invalid containerPort: x"), ("65536", "invalid containerPort: 65536"),
    ("80/icmp", "invalid proto: icmp"), ("9-1", "invalid containerPort: 9-1"),
    ("/tcp", "no port specified: /tcp<empty>"), ("a:b:80", "invalid IP address: a"),
    ("x:80", "invalid hostPort: x"),
    ("\u0668\u0660", "invalid containerPort: \u0668\u0660"),  # Go's ParseUint: ASCII digits alone
    ("\u00b2", "invalid containerPort: \u00b2"), ("\u0668:80", "invalid hostPort: \u0668"),
])
def test_port_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_ports([spec])
    assert str(info.value) == message


@pytest.mark.parametrize(("text", "ns"), [
    ("0", 0), ("1s", 10**9), ("1.5s", 1_500_000_000), ("1m30s", 90 * 10**9), ("2h", 7200 * 10**9),
    ("300ms", 300_000_000), ("10us", 10_000), ("10µs", 10_000), ("7ns", 7), ("-1s", -(10**9)),
    ("+5m", 300 * 10**9), (".5s", 500_000_000), ("1.s", 10**9), ("1h2m3s4ms", 3_723_004_000_000),
])
def test_go_durations(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize(("text", "message"), [
    ("", 'time: invalid duration ""'), ("5", 'time: missing unit in duration "5"'),
    ("1d", 'time: unknown unit "d" in duration "1d"'), ("s", 'time: invalid duration "s"'),
    (".s", 'time: invalid duration ".s"'), ("1s2", 'time: missing unit in duration "1s2"'),
])
def test_go_duration_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value) == message


@pytest.mark.parametrize(("text", "size"), [
    ("64m", 64 << 20), ("1g", 1 << 30), ("512", 512), ("1.5k", 1536), ("10MiB", 10 << 20),
    ("2 kb", 2048),
])
def test_ram_in_bytes(text: str, size: int) -> None:
    assert ram_in_bytes(text, "size") == size


def test_ram_in_bytes_error() -> None:
    with pytest.raises(DockerfileParseError, match="invalid value for size: 1x"):
        ram_in_bytes("1x", "size")


def test_suggestions() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert suggest("FRM", ["from", "run"], False) == "FROM"
    assert suggest("Frm", ["from", "run"], False) == "from"
    assert suggest("frm", ["from", "run"], False) == "from"
    assert suggest("xyzzy", ["from", "run"], False) is None
    assert suggest("run", ["from", "run"], False) is None
    assert suggest("Form", ["from"], True) is None
