"""dockyard's pytest plugin (registered through the ``pytest11`` entry point).

In CI (``CI=true``) a test skipped for a missing capability counts as a failure: CI runs as
root and must exercise everything.
"""

from __future__ import annotations

import os

import pytest


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
