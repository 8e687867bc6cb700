"""``/token``: the bundled Docker token endpoint (GET with Basic or anonymous; OAuth2 POST)."""

from __future__ import annotations

import base64

from ..errors import RegistryError
from .base import RegistryHandler


class TokenHandler(RegistryHandler):
    def prepare(self) -> None:
        if self.registry.tokens is None:
            raise RegistryError("UNSUPPORTED", message="token endpoint not enabled", status=404)

    def _scopes(self) -> list[str]:
        return [s for arg in self.get_arguments("scope") for s in arg.split(" ") if s]

    def get(self) -> None:
        assert self.registry.tokens is not None
        issued = self.registry.tokens.issue(self.request.headers.get("Authorization"),
                                            self.get_argument("service", None), self._scopes())
        self.write_json(issued)

    def post(self) -> None:
        """OAuth2 password grant (``docker login`` with identity tokens posts this form)."""
        assert self.registry.tokens is not None
        if self.get_body_argument("grant_type", "") != "password":
            raise RegistryError("UNSUPPORTED", message="unsupported grant_type", status=400)
        creds = f"{self.get_body_argument('username', '')}:{self.get_body_argument('password', '')}"
        header = "Basic " + base64.b64encode(creds.encode()).decode()
        scopes = [s for s in self.get_body_argument("scope", "").split(" ") if s]
        issued = self.registry.tokens.issue(header, self.get_body_argument("service", None), scopes)
        self.write_json(issued)
