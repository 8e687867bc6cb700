"""ImageStore: blobs + metadata + snapshots behind one interface (work in progress)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def close(self) -> None:
        pass

    def count_images(self) -> int:
        return 0

    def layers_size(self) -> int:
        return 0

    def list_images(self, all: bool = False, filters: dict[str, list[str]] | None = None,
                    digests: bool = False) -> list[dict[str, Any]]:
        return []

    def inspect(self, name: str) -> dict[str, Any]:
        raise NotImplementedError

    def history(self, name: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def tag(self, name: str, repo: str, tag: str | None) -> None:
        raise NotImplementedError

    def remove(self, name: str, force: bool = False, prune: bool = True) -> list[dict[str, Any]]:
        raise NotImplementedError

    def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        raise NotImplementedError

    def rootfs_layers(self, name: str) -> list[Path]:
        raise NotImplementedError
