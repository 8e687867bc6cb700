"""Access policy: which actions an account (or anonymous) holds on a repository.

Without any authentication configured the registry is open (everything to everyone, as a
plain ``docker-registry`` is). With authentication: repositories matching a ``--public`` glob
may be pulled by anyone; an authenticated account holds every action on every repository
unless ``--acl ACCOUNT:REPOSITORY:ACTIONS`` rules are given, in which case it holds exactly the
union of the rules matching it (globs, ``fnmatch`` style, case-sensitive).

The docker client pulls anonymously only after a Bearer challenge (with a Basic challenge it
insists on credentials, as against distribution), so public repositories serve docker users
in token mode; in Basic mode they serve clients that simply try without credentials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Final

from ...errors import InvalidArgument

ACTIONS: Final = frozenset({"pull", "push", "delete"})
NOTHING: Final[frozenset[str]] = frozenset()


@dataclass(frozen=True)
class Rule:
    account: str
    repository: str
    actions: frozenset[str]

    def matches(self, account: str, repository: str) -> bool:
        return fnmatchcase(account, self.account) and fnmatchcase(repository, self.repository)


def parse_rule(text: str) -> Rule:
    """``alice:alice/*:pull,push`` → Rule; ``*`` as actions means all of them."""
    parts = text.split(":")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise InvalidArgument(f"invalid access rule {text!r}: want ACCOUNT:REPOSITORY:ACTIONS")
    actions = ACTIONS if parts[2] == "*" else frozenset(a for a in parts[2].split(",") if a)
    unknown = actions - ACTIONS
    if unknown:
        raise InvalidArgument(f"invalid access rule {text!r}: unknown action(s) {sorted(unknown)}")
    return Rule(parts[0], parts[1], actions)


@dataclass(frozen=True)
class Policy:
    open: bool = True
    public: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    def granted(self, account: str | None, repository: str) -> frozenset[str]:
        if self.open:
            return ACTIONS
        public = any(fnmatchcase(repository, p) for p in self.public)
        base = frozenset({"pull"}) if public else NOTHING
        if account is None:
            return base
        if not self.rules:
            return ACTIONS
        held = set(base)
        for rule in self.rules:
            if rule.matches(account, repository):
                held |= rule.actions
        return frozenset(held)

    def may_list_catalog(self, account: str | None) -> bool:
        return self.open or account is not None


@dataclass(frozen=True)
class Scope:
    """``repository:NAME:ACTION[,ACTION]`` or ``registry:catalog:*`` (Docker token auth)."""

    type: str
    name: str
    actions: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def parse_scope(text: str) -> Scope | None:
    """A scope string, or None when it is malformed (Docker ignores such scopes)."""
    kind, _, rest = text.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name:
        return None
    return Scope(kind, name, tuple(a for a in actions.split(",") if a))
