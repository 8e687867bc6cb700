"""``%docker run --health-*`` / ``--no-healthcheck`` → docker-py's ``healthcheck``, with the
docker CLI's refusals as one-line usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard_jupyter import parsers
from dockyard_jupyter.errors import CommandUsage
from dockyard_jupyter.translate import run_kwargs


def _kwargs(*argv: str) -> dict[str, object]:
    ns = parsers.run().parse_args([*argv, "busybox"])
    return run_kwargs(ns, Path("/tmp"))


def test_health_flags_to_docker_py() -> None:
    assert "healthcheck" not in _kwargs()
    assert _kwargs("--no-healthcheck")["healthcheck"] == {"test": ["NONE"]}
    assert _kwargs("--health-cmd", "wget -q localhost || exit 1", "--health-interval", "1m30s",
                   "--health-timeout", "300ms", "--health-start-period", "1.5s",
                   "--health-retries", "2")["healthcheck"] == {
        "test": ["CMD-SHELL", "wget -q localhost || exit 1"], "interval": 90_000_000_000,
        "timeout": 300_000_000, "start_period": 1_500_000_000, "retries": 2}
    assert _kwargs("--health-interval", "5s")["healthcheck"] == {
        "test": None, "interval": 5_000_000_000, "timeout": 0, "start_period": 0, "retries": 0}


@pytest.mark.parametrize(("flags", "message"), [
    (["--no-healthcheck", "--health-cmd", "x"], "--no-healthcheck conflicts with --health-* options"),
    (["--health-interval=-1s", "--health-retries", "-1"], "--health-interval cannot be negative"),
    (["--health-retries", "-1", "--health-start-period=-1s"], "--health-retries cannot be negative"),
    (["--health-start-period=-2m"], "--health-start-period cannot be negative"),
    (["--health-timeout", "5"], ('invalid argument "5" for "--health-timeout" flag: time: '
                                 'invalid duration "5"')),
])
def test_refusals(flags: list[str], message: str) -> None:
    with pytest.raises(CommandUsage) as info:
        _kwargs(*flags)
    assert str(info.value) == message
