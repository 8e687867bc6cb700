"""``%docker run --health-*`` / ``--no-healthcheck`` → the create body's ``Healthcheck``, with
the docker CLI's refusals as one-line errors (the table is dockyard's: ``dockyard.cli.runopts``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import InvalidArgument
from dockyard_jupyter import parsers
from dockyard_jupyter.verbs import run_body


def _health(*argv: str) -> Any:
    ns = parsers.run().parse_args([*argv, "busybox"])
    return run_body(ns, Path("/tmp")).get("Healthcheck")


def test_health_flags_to_the_body() -> None:
    assert _health() is None
    assert _health("--no-healthcheck") == {"Test": ["NONE"]}
    assert _health("--health-cmd", "wget -q localhost || exit 1", "--health-interval", "1m30s",
                   "--health-timeout", "300ms", "--health-start-period", "1.5s",
                   "--health-start-interval", "2s", "--health-retries", "2") == {
        "Test": ["CMD-SHELL", "wget -q localhost || exit 1"], "Interval": 90_000_000_000,
        "Timeout": 300_000_000, "StartPeriod": 1_500_000_000, "StartInterval": 2_000_000_000,
        "Retries": 2}
    assert _health("--health-interval", "5s") == {"Interval": 5_000_000_000}


@pytest.mark.parametrize(("flags", "message"), [
    (["--no-healthcheck", "--health-cmd", "x"], "--no-healthcheck conflicts with --health-* options"),
    (["--health-interval=-1s", "--health-retries", "-1"], "--health-interval cannot be negative"),
    (["--health-retries", "-1", "--health-start-period=-1s"], "--health-retries cannot be negative"),
    (["--health-start-period=-2m"], "--health-start-period cannot be negative"),
    (["--health-timeout", "5"], ('invalid argument "5" for "--health-timeout" flag: time: '
                                 'missing unit in duration "5"')),
])
def test_refusals(flags: list[str], message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        _health(*flags)
    assert str(info.value) == message
