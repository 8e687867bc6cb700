"""Parsing and shape-checking of pushed manifests (pure: no I/O).

A manifest is kept byte for byte as pushed (its digest is over those bytes); parsing only
extracts what the registry must check or index: the blobs and child manifests it references
(each must exist in the repository before the manifest is accepted), its ``subject`` (for the
referrers API) and the descriptor fields a referrers index lists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from ..oci import mediatypes as mt
from .errors import RegistryError
from .names import validate_digest

MAX_MANIFEST_BYTES: Final = 4 * 1024 * 1024
_NON_DISTRIBUTABLE: Final = ("application/vnd.oci.image.layer.nondistributable.", mt.DOCKER_FOREIGN_LAYER)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    raw: dict[str, Any] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Manifest:
    media_type: str
    blobs: list[Descriptor]
    children: list[Descriptor]
    subject: Descriptor | None
    artifact_type: str | None
    annotations: dict[str, str] | None


def _invalid(detail: str) -> RegistryError:
    return RegistryError("MANIFEST_INVALID", detail=detail)


def descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _invalid(f"{where}: descriptor must be an object")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise _invalid(f"{where}: mediaType must be a non-empty string")
    if not isinstance(digest, str):
        raise _invalid(f"{where}: digest must be a string")
    try:
        validate_digest(digest)
    except RegistryError:
        raise _invalid(f"{where}: invalid digest {digest[:80]!r}") from None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid(f"{where}: size must be a non-negative integer")
    return Descriptor(media_type, digest, size, value)


def _media_type(doc: dict[str, Any], content_type: str | None) -> str:
    declared = doc.get("mediaType")
    header = (content_type or "").split(";")[0].strip() or None
    if declared is not None and not isinstance(declared, str):
        raise _invalid("mediaType must be a string")
    if declared and header and declared != header:
        raise _invalid(f"mediaType {declared!r} does not match Content-Type {header!r}")
    media_type = declared or header
    if media_type not in mt.MANIFESTS | mt.INDEXES:
        raise _invalid(f"unsupported manifest media type {media_type!r}")
    return media_type


def _descriptors(doc: dict[str, Any], key: str, required: bool) -> list[Descriptor]:
    items = doc.get(key, None if required else [])
    if not isinstance(items, list):
        raise _invalid(f"{key} must be a list")
    return [descriptor(item, f"{key}[{i}]") for i, item in enumerate(items)]


def _optional_str(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise _invalid(f"{key} must be a string")
    return value


def parse(body: bytes, content_type: str | None) -> Manifest:
    """Check a pushed manifest's shape; raise MANIFEST_INVALID (never anything else) if wrong."""
    if len(body) > MAX_MANIFEST_BYTES:
        raise RegistryError("MANIFEST_INVALID", message="manifest too large", status=413,
                            detail={"limit": MAX_MANIFEST_BYTES, "size": len(body)})
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise _invalid("manifest is not valid JSON") from None
    if not isinstance(doc, dict):
        raise _invalid("manifest must be a JSON object")
    if doc.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")
    media_type = _media_type(doc, content_type)
    blobs: list[Descriptor] = []
    children: list[Descriptor] = []
    if media_type in mt.MANIFESTS:
        blobs = [descriptor(doc.get("config"), "config"), *_descriptors(doc, "layers", True)]
    else:
        children = _descriptors(doc, "manifests", True)
    subject = descriptor(doc["subject"], "subject") if doc.get("subject") is not None else None
    annotations = doc.get("annotations")
    if annotations is not None and not (
        isinstance(annotations, dict) and all(isinstance(v, str) for v in annotations.values())
    ):
        raise _invalid("annotations must map strings to strings")
    return Manifest(media_type, blobs, children, subject, _optional_str(doc, "artifactType"),
                    annotations)


def required_blobs(manifest: Manifest) -> list[str]:
    """Digests of blobs that must already be in the repository (foreign layers excepted)."""
    return [d.digest for d in manifest.blobs if not d.media_type.startswith(_NON_DISTRIBUTABLE)]


def artifact_type(manifest: Manifest) -> str | None:
    """The referrers API's ``artifactType``: the field, else an image manifest's config type."""
    if manifest.artifact_type:
        return manifest.artifact_type
    if manifest.media_type in mt.MANIFESTS and manifest.blobs:
        return manifest.blobs[0].media_type
    return None


# -- content negotiation on GET/HEAD, as distribution does it -------------------------------------

DEFAULT_PLATFORM: Final = ("linux", "amd64")
_REFUSED: Final = {
    mt.OCI_MANIFEST: "OCI manifest found, but accept header does not support OCI manifests",
    mt.OCI_INDEX: "OCI index found, but accept header does not support OCI indexes",
}


def accepted_types(headers: list[str]) -> frozenset[str]:
    """Media types named in ``Accept`` headers; parameters (``q=``) ignored, as distribution does."""
    return frozenset(part.split(";")[0].strip() for header in headers for part in header.split(","))


def check_acceptable(media_type: str, accepted: frozenset[str]) -> None:
    """An OCI manifest or index is served only to a client that says it can read one.

    distribution refuses them otherwise (``*/*`` does not count), because an old client would
    mistake one for something else; Docker types are served as stored (this registry keeps no
    schema1 to downgrade to).
    """
    if media_type in _REFUSED and media_type not in accepted:
        raise RegistryError("MANIFEST_UNKNOWN", message=_REFUSED[media_type])


def default_platform_child(body: bytes) -> str | None:
    """The linux/amd64 entry of a Docker manifest list: what a client that cannot read lists gets
    when it asks by tag (distribution's fallback)."""
    try:
        entries = json.loads(body).get("manifests", [])
        for entry in entries:
            platform = entry.get("platform") or {}
            if (platform.get("os"), platform.get("architecture")) == DEFAULT_PLATFORM:
                return validate_digest(entry["digest"])
    except (ValueError, AttributeError, TypeError, KeyError, RegistryError):
        return None
    return None
