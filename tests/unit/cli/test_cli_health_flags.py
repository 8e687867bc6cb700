"""``--health-*`` / ``--no-healthcheck`` → ``Config.Healthcheck`` as the docker CLI sends it
(non-zero fields only), with its refusals."""

from __future__ import annotations

import argparse

import pytest

from dockyard.cli import runopts
from dockyard.errors import InvalidArgument


def _body(*argv: str) -> dict[str, object]:
    p = argparse.ArgumentParser(add_help=False)
    runopts.add_create_flags(p)
    return runopts.create_body(p.parse_args([*argv, "busybox"]), detach=True)


def test_flags_to_the_body() -> None:
    assert "Healthcheck" not in _body()  # the image's stays
    assert _body("--no-healthcheck")["Healthcheck"] == {"Test": ["NONE"]}
    assert _body("--health-cmd", "curl -f x || exit 1", "--health-interval", "1m30s",
                 "--health-timeout", "3s", "--health-start-period", "1.5s",
                 "--health-start-interval", "100ms", "--health-retries", "4")["Healthcheck"] == {
        "Test": ["CMD-SHELL", "curl -f x || exit 1"], "Interval": 90_000_000_000,
        "Timeout": 3_000_000_000, "StartPeriod": 1_500_000_000, "StartInterval": 100_000_000,
        "Retries": 4}
    assert _body("--health-retries", "2")["Healthcheck"] == {"Retries": 2}  # the image's Test


@pytest.mark.parametrize(("flags", "message"), [
    (["--no-healthcheck", "--health-interval", "1s"], "--no-healthcheck conflicts with --health-* options"),
    (["--health-timeout=-1s"], "--health-timeout cannot be negative"),
    (["--health-start-period=-1s"], "--health-start-period cannot be negative"),
    (["--health-start-interval=-1ms"], "--health-start-interval cannot be negative"),
    (["--health-retries", "-3"], "--health-retries cannot be negative"),
    (["--health-timeout", "3d"], ('invalid argument "3d" for "--health-timeout" flag: '
                                  'time: unknown unit "d" in duration "3d"')),
])
def test_refusals(flags: list[str], message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        _body(*flags)
    assert str(info.value) == message
