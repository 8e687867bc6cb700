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
_TAG = r"[\w][\w.-]{0,127}"
TAG_RE = re.compile(rf"^{_TAG}\Z", re.ASCII)
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
# distribution's ReferenceRegexp: a name (an optional domain, path components), a tag, a digest
_REFERENCE = re.compile(
    rf"^((?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)(?::({_TAG}))?(?:@({_DIGEST}))?\Z", re.ASCII)


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
    """A tag alone, as distribution's ``WithTag`` checks it (``docker tag``'s and a push's)."""
    if not TAG_RE.match(tag):
        raise InvalidReference("invalid tag format")
    return tag


def split_domain(name: str) -> tuple[str, str]:
    """Split a repository name into (domain, path) with Docker's defaults applied: Go's
    ``splitDockerDomain``, which also takes a whole reference (its tag stays in the path)."""
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
    """Parse and normalise ``text``; add ``:latest`` when no tag or digest is given.

    The checks and words of dockerd 20.10's ``ParseNormalizedNamed`` (distribution's
    reference package as it vendors it), in its order: a 64-hex name, an upper-case letter
    before the first ``:`` of what follows the domain, the whole reference's expression
    (a bad tag or digest is an ``invalid reference format`` too), the name's length, then
    the digest's own check."""
    if _digest.is_hex_id(text, 64) and len(text) == 64:
        raise InvalidReference(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = split_domain(text)
    if remainder.partition(":")[0].lower() != remainder.partition(":")[0]:
        raise InvalidReference("invalid reference format: repository name must be lowercase")
    match = _REFERENCE.match(f"{domain}/{remainder}")
    if match is None:
        if _REFERENCE.match(f"{domain}/{remainder}".lower()):
            raise InvalidReference("repository name must be lowercase")
        raise InvalidReference("invalid reference format")
    name, tag, dgst = match.groups()
    if len(name) > NAME_TOTAL_MAX:
        raise InvalidReference("repository name must not be more than 255 characters")
    if dgst is not None:
        _check_digest(dgst)
    if tag is None and dgst is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, remainder[:len(name) - len(domain) - 1], tag, dgst)


def _check_digest(dgst: str) -> None:
    """go-digest's ``Validate`` of a digest the reference's expression took, in its words."""
    algorithm, _, encoded = dgst.partition(":")
    size = _digest.ALGORITHMS.get(algorithm) or {"sha384": 96}.get(algorithm)
    if size is None:
        raise InvalidReference("unsupported digest algorithm")
    if len(encoded) != size:
        raise InvalidReference("invalid checksum digest length")
    if not re.fullmatch(r"[a-f0-9]+", encoded):
        raise InvalidReference("invalid checksum digest format")


def parse_repository(name: str) -> Reference:
    """Parse a name that must carry neither tag nor digest (``docker tag``'s ``repo`` part)."""
    ref = parse(name, default_tag=False)
    if ref.tag is not None or ref.digest is not None:
        raise InvalidReference(f"invalid repository name: {name}")
    return ref
