"""Content digests (``algorithm:hex``) as the OCI image spec defines them."""

from __future__ import annotations

import hashlib
import re
from typing import Final

from ..errors import InvalidArgument

ALGORITHMS: Final = {"sha256": 64, "sha512": 128}
# \Z where Go's regexp has $: Python's $ also takes a trailing newline
_DIGEST = re.compile(r"^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-fA-F0-9=_-]{32,})\Z")


class InvalidDigest(InvalidArgument):
    pass


def validate(digest: str) -> str:
    """Return ``digest`` if it is a well-formed digest of a supported algorithm."""
    m = _DIGEST.match(digest)
    if not m:
        raise InvalidDigest(f"invalid digest format: {digest!r}")
    algorithm, hexpart = m.groups()
    size = ALGORITHMS.get(algorithm)
    if size is None:
        raise InvalidDigest(f"unsupported digest algorithm: {algorithm}")
    if len(hexpart) != size or not re.fullmatch(r"[a-f0-9]+", hexpart):
        raise InvalidDigest(f"invalid checksum digest length or format: {digest!r}")
    return digest


def split(digest: str) -> tuple[str, str]:
    """``"sha256:ab…"`` → ``("sha256", "ab…")``, validating on the way."""
    algorithm, _, hexpart = validate(digest).partition(":")
    return algorithm, hexpart


def hasher(digest_or_algorithm: str = "sha256") -> hashlib._Hash:
    """A fresh hash object for a digest's algorithm (or an algorithm name)."""
    algorithm = digest_or_algorithm.partition(":")[0]
    if algorithm not in ALGORITHMS:
        raise InvalidDigest(f"unsupported digest algorithm: {algorithm}")
    return hashlib.new(algorithm)


def of_bytes(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def is_hex_id(value: str, min_len: int = 1) -> bool:
    """True for a (possibly ``sha256:``-prefixed, possibly truncated) hex image/container id."""
    value = value.removeprefix("sha256:")
    return min_len <= len(value) <= 64 and re.fullmatch(r"[a-f0-9]+", value) is not None
