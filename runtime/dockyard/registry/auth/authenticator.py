"""Authenticators (who is asking, what do they hold) and the single authorisation decision.

Three implementations of one small interface: :class:`OpenAuth` (no credentials configured),
:class:`BasicAuth` (htpasswd) and :class:`TokenAuth` (Docker bearer tokens). :func:`authorize`
turns their answers into success, 401 with a challenge, or 403.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ...errors import Unauthorized
from ..errors import RegistryError
from .htpasswd import Htpasswd
from .jwt import KeyPair
from .policy import ACTIONS, NOTHING, Policy, Scope

LEEWAY = 60.0


@dataclass(frozen=True)
class Identity:
    account: str | None
    access: tuple[dict[str, Any], ...] | None = None  # token claims; None for Basic/open
    token: bool = False


class Authenticator(Protocol):
    policy: Policy

    def authenticate(self, headers: Mapping[str, str]) -> Identity: ...

    def granted(self, identity: Identity, scope: Scope) -> frozenset[str]: ...

    def challenge(self, base_url: str, scope: Scope | None, error: str | None) -> str | None: ...


def basic_credentials(header: str) -> tuple[str, str] | None:
    """``Basic base64(user:password)`` → (user, password); None if not a Basic header."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    return (user, password) if sep else ("", "")


class OpenAuth:
    """No authentication configured: everyone may do everything."""

    policy = Policy(open=True)

    def authenticate(self, headers: Mapping[str, str]) -> Identity:
        return Identity(None)

    def granted(self, identity: Identity, scope: Scope) -> frozenset[str]:
        return ACTIONS | {"*"}

    def challenge(self, base_url: str, scope: Scope | None, error: str | None) -> str | None:
        return None


class BasicAuth:
    """HTTP Basic against an htpasswd file, every request."""

    def __init__(self, htpasswd: Htpasswd, policy: Policy, realm: str = "dockyard-registry") -> None:
        self.htpasswd, self.policy, self.realm = htpasswd, policy, realm

    def authenticate(self, headers: Mapping[str, str]) -> Identity:
        header = headers.get("Authorization")
        if not header:
            return Identity(None)
        creds = basic_credentials(header)
        if creds is None or not self.htpasswd.verify(*creds):
            raise RegistryError("UNAUTHORIZED", detail="invalid username or password",
                                headers={"WWW-Authenticate": f'Basic realm="{self.realm}"'})
        return Identity(creds[0])

    def granted(self, identity: Identity, scope: Scope) -> frozenset[str]:
        if scope.type == "registry":
            return frozenset({"*"}) if self.policy.may_list_catalog(identity.account) else NOTHING
        return self.policy.granted(identity.account, scope.name)

    def challenge(self, base_url: str, scope: Scope | None, error: str | None) -> str | None:
        return f'Basic realm="{self.realm}"'


class TokenAuth:
    """Bearer JWTs from a token server (the bundled one, or any sharing the key)."""

    def __init__(self, key: KeyPair, policy: Policy, realm: str | None, service: str, issuer: str) -> None:
        self.key, self.policy, self.realm = key, policy, realm
        self.service, self.issuer = service, issuer
        self._cache: dict[str, dict[str, Any]] = {}

    def authenticate(self, headers: Mapping[str, str]) -> Identity:
        header = headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return Identity(None)
        claims = self._claims(token.strip())
        access = claims.get("access")
        if not isinstance(access, list):
            access = []
        return Identity(claims.get("sub") or None, tuple(a for a in access if isinstance(a, dict)), True)

    def _claims(self, token: str) -> dict[str, Any]:
        claims = self._cache.get(token)
        if claims is None:
            try:
                claims = self.key.verify(token)
            except (Unauthorized, ValueError):
                raise self._unauthorized("invalid token") from None
            if claims.get("iss") != self.issuer or self.service not in _audiences(claims):
                raise self._unauthorized("token issued for another service")
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[token] = claims
        now = time.time()
        if not (_number(claims, "exp", now + LEEWAY) + LEEWAY > now >= _number(claims, "nbf", 0) - LEEWAY):
            raise self._unauthorized("token expired")
        return claims

    def _unauthorized(self, detail: str) -> RegistryError:
        return RegistryError("UNAUTHORIZED", detail=detail,
                             headers={"WWW-Authenticate": self.challenge("", None, "invalid_token")})

    def granted(self, identity: Identity, scope: Scope) -> frozenset[str]:
        held: set[str] = set()
        for entry in identity.access or ():
            if entry.get("type") == scope.type and entry.get("name") == scope.name:
                held |= {a for a in entry.get("actions", []) if isinstance(a, str)}
        return frozenset(held)

    def challenge(self, base_url: str, scope: Scope | None, error: str | None) -> str:
        realm = self.realm or f"{base_url}/token"
        parts = [f'realm="{realm}"', f'service="{self.service}"']
        if scope is not None:
            parts.append(f'scope="{scope}"')
        if error:
            parts.append(f'error="{error}"')
        return "Bearer " + ",".join(parts)


def _audiences(claims: dict[str, Any]) -> list[Any]:
    aud = claims.get("aud")
    return aud if isinstance(aud, list) else [aud]


def _number(claims: dict[str, Any], key: str, default: float) -> float:
    value = claims.get(key, default)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def authorize(auth: Authenticator, headers: Mapping[str, str], base_url: str,
              scope: Scope | None) -> Identity:
    """Authenticate, then require ``scope``'s actions: 401 for anonymous, 403 for an account.

    ``scope`` None is the ``/v2/`` base check: any valid credentials (or an open registry) pass.
    """
    identity = auth.authenticate(headers)
    if scope is None:
        if isinstance(auth, OpenAuth) or identity.account is not None or identity.token:
            return identity
        raise _challenge(auth, base_url, None, None)
    held = auth.granted(identity, scope)
    if set(scope.actions) <= held or "*" in held:
        return identity
    if identity.account is None:
        raise _challenge(auth, base_url, scope, "insufficient_scope" if identity.token else None)
    raise RegistryError("DENIED", detail={"scope": str(scope), "account": identity.account})


def _challenge(auth: Authenticator, base_url: str, scope: Scope | None, error: str | None) -> RegistryError:
    header = auth.challenge(base_url, scope, error)
    return RegistryError("UNAUTHORIZED", detail=[{"Type": scope.type, "Name": scope.name,
                                                  "Action": a} for a in scope.actions] if scope else None,
                         headers={"WWW-Authenticate": header} if header else {})
