"""Fixtures for the interop tests that drive the session daemon."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def client(dockyard_tidy_client: Any) -> Any:
    """``dockyard_tidy_client`` (the plugin's): containers a test leaves behind are removed."""
    return dockyard_tidy_client


