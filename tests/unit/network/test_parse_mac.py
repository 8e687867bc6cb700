"""``ipam.parse_mac``: MAC addresses as Go's net.ParseMAC reads them, as it prints them."""

from __future__ import annotations

import pytest

from dockyard.network.ipam import parse_mac


@pytest.mark.parametrize(("text", "mac"), [
    ("02:42:ac:11:00:99", "02:42:ac:11:00:99"),
    ("02-42-AC-11-00-98", "02:42:ac:11:00:98"),
    ("0242.ac11.0099", "02:42:ac:11:00:99"),
    ("02:00:5e:10:00:00:00:01", "02:00:5e:10:00:00:00:01"),  # EUI-64
])
def test_valid(text: str, mac: str) -> None:
    assert parse_mac(text) == mac


@pytest.mark.parametrize("text", [
    "", "nonsense", "02:42:ac:11:00", "zz:42:ac:11:00:99", "02:42-ac:11:00:99",
    "02:42:ac:11: 0:99", "+2:42:ac:11:00:99", "02:42:ac:11:00:99:00", "0242.ac11.009",
])
def test_invalid(text: str) -> None:
    assert parse_mac(text) is None
