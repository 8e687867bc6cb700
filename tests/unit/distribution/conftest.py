from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from dist_helpers import Node


@pytest.fixture
def node_factory(tmp_path: Path) -> Iterator[Callable[..., Node]]:
    """Fresh data roots (store + distribution client), closed at teardown."""
    made: list[Node] = []

    def factory(name: str = "node", **kwargs: object) -> Node:
        node = Node(tmp_path / f"{name}-{len(made)}", **kwargs)  # type: ignore[arg-type]
        made.append(node)
        return node

    yield factory
    for node in made:
        node.close()


@pytest.fixture
def source(node_factory: Callable[..., Node], busybox_archive: Path) -> Node:
    """A data root holding busybox:latest (loaded from a docker save archive)."""
    node = node_factory("source")
    node.load(busybox_archive)
    return node
