from __future__ import annotations

from collections.abc import Iterator

import pytest
from regclient import Client

from dockyard.testing.registry import RegistryProcess


@pytest.fixture(scope="module")
def shared_registry() -> Iterator[RegistryProcess]:
    """One open registry per test module (a process start costs ~0.3 s)."""
    with RegistryProcess() as registry:
        yield registry


@pytest.fixture
def client(shared_registry: RegistryProcess) -> Client:
    return Client(shared_registry.url)
