"""``/v2/``: version check and the authentication challenge clients start with."""

from __future__ import annotations

from .base import RegistryHandler


class BaseHandler(RegistryHandler):
    def get(self) -> None:
        self.write_json({})

    def head(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Content-Length", 2)
        self.finish()
