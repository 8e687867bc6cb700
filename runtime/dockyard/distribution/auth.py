"""Registry authentication from the ``WWW-Authenticate`` challenge, as the docker client does it.

A registry answers 401 with a challenge. ``Basic realm=…`` → send the credentials on every
request. ``Bearer realm=…,service=…,scope=…`` → ask the realm for a token covering the scopes
(``repository:NAME:pull,push``), with Basic credentials, with an identity token (OAuth2
``refresh_token`` grant, POST) or anonymously; the token is cached until it expires and
re-requested when a request needs a scope it does not cover.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .credentials import AuthConfig
from .errors import LoginFailed, RegistryError

_PARAM = re.compile(r'([a-zA-Z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')
EXPIRY_DEFAULT = 60
EXPIRY_MARGIN = 10
CLIENT_ID = "dockyard"


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" | "bearer"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


def parse_challenge(header: str) -> Challenge | None:
    """``Bearer realm="https://auth",service="reg",scope="repository:a:pull"`` → Challenge."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {m[1].lower(): (m[2].replace('\\"', '"') if m[2] is not None else (m[3] or ""))
              for m in _PARAM.finditer(rest)}
    return Challenge(scheme.lower(), params)


def scope_for(repository: str, actions: str) -> str:
    """``repository:library/busybox:pull`` (``actions`` like ``pull`` or ``pull,push``)."""
    return f"repository:{repository}:{actions}"


def basic_header(auth: AuthConfig) -> str:
    return "Basic " + base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()


TokenFetch = Callable[[str, str, dict[str, str], bytes | None], tuple[int, bytes]]
"""(method, url, headers, body) → (status, body): the HTTP call a token request makes."""


@dataclass
class _Token:
    value: str
    scopes: frozenset[str]
    expires: float


class Authorizer:
    """The Authorization header for one registry host and one set of credentials."""

    def __init__(self, auth: AuthConfig, fetch: TokenFetch) -> None:
        self.auth = auth
        self._fetch = fetch
        self._lock = threading.Lock()
        self._challenge: Challenge | None = None
        self._token: _Token | None = None
        self._scopes: set[str] = set()

    @property
    def challenge(self) -> Challenge | None:
        return self._challenge

    def header(self, scopes: frozenset[str]) -> str | None:
        """The header to send for a request needing ``scopes``, fetching a token if required."""
        with self._lock:
            ch = self._challenge
            if ch is None:
                return None
            if ch.scheme == "basic":
                return basic_header(self.auth) if not self.auth.empty else None
            if ch.scheme != "bearer":
                return None
            if self.auth.registrytoken:
                return "Bearer " + self.auth.registrytoken
            token = self._token
            if token is None or not scopes <= token.scopes or token.expires <= time.time():
                self._scopes |= scopes
                token = self._token = self._request_token(ch, frozenset(self._scopes))
            return "Bearer " + token.value

    def on_challenge(self, header: str) -> bool:
        """Record a 401's challenge; False when it tells nothing new (a retry would not help)."""
        ch = parse_challenge(header)
        with self._lock:
            if ch is None or ch.scheme not in ("basic", "bearer"):
                return False
            new = ch != self._challenge or (ch.scheme == "bearer" and self._token is not None
                                            and bool(_challenge_scopes(ch) - self._token.scopes))
            self._challenge = ch
            if ch.scheme == "bearer":
                self._scopes |= _challenge_scopes(ch)
                if not new:
                    return False
                self._token = None
            return new

    def _request_token(self, ch: Challenge, scopes: frozenset[str]) -> _Token:
        realm = ch.realm
        if not realm.startswith(("http://", "https://")):
            raise RegistryError(f"invalid token realm: {realm!r}")
        service = ch.params.get("service", "")
        if self.auth.identitytoken:
            form = {"grant_type": "refresh_token", "refresh_token": self.auth.identitytoken,
                    "client_id": CLIENT_ID, "service": service, "scope": " ".join(sorted(scopes))}
            body = urllib.parse.urlencode(form).encode()
            status, data = self._fetch("POST", realm, {"Content-Type": "application/x-www-form-urlencoded"}, body)
        else:
            query = [("service", service)] if service else []
            query += [("scope", s) for s in sorted(scopes)]
            if not self.auth.empty:
                query += [("account", self.auth.username)]
            headers = {"Authorization": basic_header(self.auth)} if not self.auth.empty else {}
            sep = "&" if "?" in realm else "?"
            status, data = self._fetch("GET", realm + sep + urllib.parse.urlencode(query), headers, None)
        return _parse_token(status, data, realm, scopes)


def _challenge_scopes(ch: Challenge) -> set[str]:
    return {s for s in ch.params.get("scope", "").split(" ") if s}


def _parse_token(status: int, data: bytes, realm: str, scopes: frozenset[str]) -> _Token:
    if status in (401, 403):
        raise LoginFailed(f"Get \"{realm}\": unauthorized: {_error_text(data) or 'incorrect username or password'}")
    if status != 200:
        raise RegistryError(f"token server {realm} answered {status}: {_error_text(data)}")
    try:
        body: dict[str, Any] = json.loads(data)
    except ValueError:
        raise RegistryError(f"token server {realm} sent invalid JSON") from None
    value = body.get("token") or body.get("access_token")
    if not isinstance(value, str) or not value:
        raise RegistryError(f"token server {realm} sent no token")
    expires_in = body.get("expires_in") or EXPIRY_DEFAULT
    lifetime = max(int(expires_in) - EXPIRY_MARGIN, 1) if isinstance(expires_in, int | float) else EXPIRY_DEFAULT
    return _Token(value, scopes, time.time() + lifetime)


def _error_text(data: bytes) -> str:
    """The message of an OCI ``{"errors": [...]}`` body, or of a token server's ``details``."""
    try:
        body = json.loads(data)
    except ValueError:
        return data.decode(errors="replace").strip()[:200]
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message") or errors[0].get("code") or "")
        return str(body.get("details") or body.get("message") or body.get("error") or "")
    return ""
