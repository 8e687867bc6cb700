"""Image references, normalised the way Docker normalises them.

``busybox`` → ``docker.io/library/busybox:latest``; ``localhost:5000/a/b@sha256:…`` keeps its
domain; a first component counts as a registry domain only if it has a ``.`` or ``:`` or is
``localhost`` (Docker's rule). Error wording matches dockerd's, which clients show verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidArgument
from . import digest as _digest

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_MAX = 255

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
# \Z where Go's regexp has $: Python's $ also takes a trailing newline
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*\Z")
_DOMAIN_RE = re.compile(rf"^{_DOMAIN}\Z")
TAG_RE = re.compile(r"^[\w][\w.-]{0,127}\Z", re.ASCII)


class InvalidReference(InvalidArgument):
    pass


@dataclass(frozen=True)
class Reference:
    """A parsed, normalised reference. ``tag`` is None only when a digest is given alone."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repository(self) -> str:
        """Fully qualified repository name: ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """The name users type and ``docker images`` shows: ``busybox``, ``foo/bar``."""
        if self.domain == DEFAULT_DOMAIN:
            return self.path.removeprefix(OFFICIAL_PREFIX)
        return self.repository

    def __str__(self) -> str:
        return self._render(self.repository)

    def familiar(self) -> str:
        return self._render(self.familiar_repository)

    def _render(self, repo: str) -> str:
        out = repo
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out

    def with_tag(self, tag: str) -> Reference:
        validate_tag(tag)
        return Reference(self.domain, self.path, tag, None)


def validate_tag(tag: str) -> str:
    if not TAG_RE.match(tag):
        raise InvalidReference(f"invalid tag format: {tag!r}")
    return tag


def split_domain(name: str) -> tuple[str, str]:
    """Split a repository name into (domain, path) with Docker's defaults applied."""
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"):
        domain, path = DEFAULT_DOMAIN, name
    else:
        domain, path = first, rest
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path


def parse(text: str, default_tag: bool = True) -> Reference:
    """Parse and normalise ``text``; add ``:latest`` when no tag or digest is given."""
    if not text:
        raise InvalidReference("invalid reference format")
    name, at, dgst = text.partition("@")
    if at:
        _digest.validate(dgst)
    tag: str | None = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        validate_tag(tag)
    if _digest.is_hex_id(name, 64) and len(name) == 64:
        raise InvalidReference(
            f"invalid repository name ({name}), cannot specify 64-byte hexadecimal strings"
        )
    domain, path = split_domain(name)
    if not _DOMAIN_RE.match(domain):
        raise InvalidReference("invalid reference format")
    if not _PATH.match(path):
        if _PATH.match(path.lower()):
            raise InvalidReference(
                "invalid reference format: repository name "
                f"({path}) must be lowercase"
            )
        raise InvalidReference("invalid reference format")
    if len(domain) + 1 + len(path) > NAME_TOTAL_MAX:
        raise InvalidReference("invalid reference format: repository name must not be more than 255 characters")
    if tag is None and not at and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, dgst or None)


def parse_repository(name: str) -> Reference:
    """Parse a name that must carry neither tag nor digest (``docker tag``'s ``repo`` part)."""
    ref = parse(name, default_tag=False)
    if ref.tag is not None or ref.digest is not None:
        raise InvalidReference(f"invalid repository name: {name}")
    return ref
