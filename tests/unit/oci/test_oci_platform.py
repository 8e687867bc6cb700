"""containerd's platforms package as dockyard.oci.platform: Parse (and its refusals, word for
word as dockerd 20.10 returns them), Normalize, Format and Only."""

from __future__ import annotations

import pytest

from dockyard.engine import go_arch
from dockyard.errors import InvalidArgument
from dockyard.oci import platform
from dockyard.oci.platform import Platform


@pytest.mark.parametrize(("text", "parsed"), [
    ("linux/amd64", "linux/amd64"), ("Linux/AMD64", "linux/amd64"), ("linux/x86_64", "linux/amd64"),
    ("x86_64", "linux/amd64"), ("i386", "linux/386"), ("aarch64", "linux/arm64"),
    ("linux/arm64", "linux/arm64"), ("linux/arm64/v8", "linux/arm64/v8"), ("linux/arm64/8", "linux/arm64/v8"),
    ("linux/arm", "linux/arm"), ("arm", "linux/arm"), ("armhf", "linux/arm"), ("armel", "linux/arm/v6"),
    ("linux/arm/7", "linux/arm/v7"), ("linux/arm/v6", "linux/arm/v6"), ("linux/foo", "linux/foo"),
    ("nope/amd64", "nope/amd64"), ("macos", f"darwin/{go_arch()}"), ("windows", f"windows/{go_arch()}"),
    ("linux/amd64/v2", "linux/amd64/v2"),
])
def test_parse_as_containerd(text: str, parsed: str) -> None:
    assert str(platform.parse(text)) == parsed


@pytest.mark.parametrize(("text", "message"), [
    ("bogus", '"bogus": unknown operating system or architecture: invalid argument'),
    ("linux/a/b/c", '"linux/a/b/c": cannot parse platform specifier: invalid argument'),
    ("*", '"*": wildcards not yet supported: invalid argument'),
    ("linux//amd64", ('"" is an invalid component of "linux//amd64": platform specifier component '
                     'must match "^[A-Za-z0-9_-]+$": invalid argument')),
    ("", ('"" is an invalid component of "": platform specifier component must match '
         '"^[A-Za-z0-9_-]+$": invalid argument')),
])
def test_refusals_in_dockerds_words(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        platform.parse(text)
    assert str(info.value) == message


def test_normalize_and_format() -> None:
    assert platform.normalize(Platform("Linux", "aarch64", "v8")) == Platform("linux", "arm64")
    assert platform.normalize(Platform("linux", "arm")) == Platform("linux", "arm", "v7")
    assert platform.normalize(Platform("", "x86_64")) == Platform("linux", "amd64")
    assert platform.fmt(Platform("", "amd64")) == "unknown"
    assert platform.default().os == "linux" and platform.default().architecture == go_arch()


@pytest.mark.parametrize(("wanted", "image", "rank"), [
    ("linux/amd64", "linux/amd64", 0), ("linux/amd64", "linux/386", 1), ("linux/386", "linux/amd64", None),
    ("linux/arm/v7", "linux/arm", 0), ("linux/arm/v7", "linux/arm/v6", 1), ("linux/arm/v7", "linux/arm/v5", 2),
    ("linux/arm/v6", "linux/arm/v7", None), ("linux/arm64", "linux/arm64/v8", 0),
    ("linux/arm64", "linux/arm/v8", 1), ("linux/arm64", "linux/arm/v7", 2), ("linux/arm64", "linux/amd64", None),
    ("linux/amd64", "windows/amd64", None),
])
def test_only_matches_and_orders_as_containerd(wanted: str, image: str, rank: int | None) -> None:
    os_name, arch, *variant = image.split("/")
    assert platform.only(platform.parse(wanted)).rank(Platform(os_name, arch, "".join(variant))) == rank
