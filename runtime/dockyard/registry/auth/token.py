"""The bundled token endpoint of Docker token auth (``GET /token?service=&scope=``).

Clients present Basic credentials (or none, for anonymous pulls); the endpoint grants, per
requested scope, the intersection of the actions asked for and those the policy gives the
account, and returns them signed as the JWT's ``access`` claim. Like Docker Hub it never
refuses an anonymous request: it issues a token holding only what anonymous may do, and the
registry's 401/403 then tells the client what is missing. Wrong credentials are 401 here.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from typing import Any

from ..errors import RegistryError
from .authenticator import basic_credentials
from .htpasswd import Htpasswd
from .jwt import KeyPair
from .policy import ACTIONS, Policy, parse_scope


class TokenService:
    def __init__(self, key: KeyPair, htpasswd: Htpasswd | None, policy: Policy, service: str,
                 issuer: str, expiry: int = 300) -> None:
        self.key, self.htpasswd, self.policy = key, htpasswd, policy
        self.service, self.issuer, self.expiry = service, issuer, expiry

    def account(self, authorization: str | None) -> str | None:
        if not authorization:
            return None
        creds = basic_credentials(authorization)
        if creds is None or self.htpasswd is None or not self.htpasswd.verify(*creds):
            raise RegistryError("UNAUTHORIZED", detail="invalid username or password",
                                headers={"WWW-Authenticate": 'Basic realm="dockyard-registry token"'})
        return creds[0]

    def grant(self, account: str | None, scopes: Iterable[str]) -> list[dict[str, Any]]:
        access = []
        for text in scopes:
            scope = parse_scope(text)
            if scope is None:
                continue
            if scope.type == "repository":
                held = self.policy.granted(account, scope.name)
                wanted = ACTIONS if "*" in scope.actions else set(scope.actions)
                actions = sorted(held & wanted)
            elif scope.type == "registry" and scope.name == "catalog":
                actions = ["*"] if self.policy.may_list_catalog(account) else []
            else:
                continue
            access.append({"type": scope.type, "name": scope.name, "actions": actions})
        return access

    def issue(self, authorization: str | None, service: str | None, scopes: Iterable[str]) -> dict[str, Any]:
        if service and service != self.service:
            raise RegistryError("DENIED", detail=f"unknown service {service!r}")
        account = self.account(authorization)
        now = int(time.time())
        claims = {
            "iss": self.issuer, "sub": account or "", "aud": self.service,
            "exp": now + self.expiry, "nbf": now - 1, "iat": now, "jti": secrets.token_hex(16),
            "access": self.grant(account, scopes),
        }
        token = self.key.sign(claims)
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        return {"token": token, "access_token": token, "expires_in": self.expiry, "issued_at": issued}
