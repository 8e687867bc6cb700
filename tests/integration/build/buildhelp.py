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


def image_file(inspect: dict[str, Any], path: str) -> Path | None:
    """``path`` in an image's layer dirs (GraphDriver names them), top layer first; None when
    absent or whited out."""
    import os
    import stat

    data = inspect["GraphDriver"]["Data"]
    layers = [data["UpperDir"], *(p for p in data.get("LowerDir", "").split(":") if p)]
    for layer in layers:
        candidate = Path(layer) / path.lstrip("/")
        if os.path.lexists(candidate):
            st = os.lstat(candidate)
            return None if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0 else candidate
    return None
