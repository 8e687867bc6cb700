"""dockyard's pytest plugin (registered through the ``pytest11`` entry point).

In CI (``CI=true``) a test skipped for a missing capability counts as a failure: CI runs as
root and must exercise everything.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .registry import RegistryProcess


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not in_ci() or reporter is None:
        return
    skipped = reporter.stats.get("skipped", [])
    if skipped:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; skips count as failures in CI", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def dockyard_registry_factory() -> Iterator[Callable[..., "RegistryProcess"]]:
    """Start ``dockyard registry serve`` processes with given flags; all stopped at teardown.

    ``factory(htpasswd=path, public=["pub/*"], token_auth=True)`` → a started RegistryProcess
    (``.url``, ``.host``, ``.root``).
    """
    from .registry import RegistryProcess

    started: list[RegistryProcess] = []

    def factory(*args: str, root: Path | None = None, **flags: object) -> RegistryProcess:
        registry = RegistryProcess(root, *args, **flags)
        started.append(registry)
        return registry.start()

    yield factory
    for registry in started:
        registry.cleanup()


@pytest.fixture
def dockyard_registry(dockyard_registry_factory: Callable[..., "RegistryProcess"]) -> "RegistryProcess":
    """An open (no auth) dockyard registry on 127.0.0.1, on a fresh temporary root."""
    return dockyard_registry_factory()
