"""Helpers of the builder's integration tests (a module of its own so tests import it by a
name no other conftest.py shadows)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Built:
    image_id: str | None
    messages: list[dict[str, Any]]

    @property
    def text(self) -> str:
        return "".join(m.get("stream", "") for m in self.messages)

    @property
    def error(self) -> str | None:
        return next((m["error"] for m in self.messages if "error" in m), None)

    @property
    def cached(self) -> int:
        return self.text.count(" ---> Using cache")


def write_context(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data)
        else:
            path.write_bytes(data)
    return root
