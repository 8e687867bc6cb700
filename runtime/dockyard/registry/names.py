"""Repository names, tags and references as the OCI Distribution Spec's regular expressions allow.

Validation here is also the storage layer's path-safety guarantee: a name that passes can only
produce path components made of ``[a-z0-9._-]`` that never start with ``.`` or ``_``, so no
``..``, no absolute paths, and no clash with the ``_layers``/``_manifests`` directories.
"""

from __future__ import annotations

import re
from typing import Final

from ..errors import InvalidArgument
from ..oci import digest as _digest
from .errors import RegistryError

NAME_MAX: Final = 255
_COMPONENT: Final = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE: Final = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG_RE: Final = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")


def validate_name(name: str) -> str:
    if len(name) > NAME_MAX or not NAME_RE.fullmatch(name):
        raise RegistryError("NAME_INVALID", detail={"name": name[:NAME_MAX + 1]})
    return name


def is_digest(reference: str) -> bool:
    return ":" in reference


def validate_digest(digest: str) -> str:
    try:
        return _digest.validate(digest)
    except InvalidArgument as exc:
        raise RegistryError("DIGEST_INVALID", detail=str(exc)) from None


def validate_reference(reference: str) -> str:
    """A manifest reference: a digest, or a tag."""
    if is_digest(reference):
        return validate_digest(reference)
    if not TAG_RE.fullmatch(reference):
        raise RegistryError("TAG_INVALID", message="invalid tag", detail={"tag": reference[:200]})
    return reference
