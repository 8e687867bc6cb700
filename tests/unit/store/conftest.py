"""Fixtures for the store tests; the builders live in store_helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.store.images import ImageStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ImageStore]:
    s = ImageStore(tmp_path / "root")
    yield s
    s.close()
