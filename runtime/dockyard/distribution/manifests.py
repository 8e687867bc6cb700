"""Manifests and indexes as pull and push read and write them; platform selection.

Both Docker schema2 and OCI forms are accepted and kept byte for byte (their digest is the
image's identity in the registry). A manifest Docker generates is indented with three spaces,
keys in a fixed order, so pushing the same image twice gives the same digest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidArgument
from ..oci import digest as _digest
from ..oci import mediatypes as mt
from ..oci import platform as _platform
from ..oci.platform import Platform
from .errors import ManifestUnknown, UnsupportedManifest


def parse_platform(text: str | None) -> Platform:
    """A ``?platform=`` as containerd parses it; None or empty → this machine's platform."""
    return _platform.parse(text) if text else _platform.default()


def serves(wanted: Platform, image: Platform) -> bool:
    """Whether an image of platform ``image`` runs where ``wanted`` is asked for, as dockerd
    20.10's ``OnlyPlatformWithFallback`` decides: containerd's ``platforms.Only``, or, for an
    image config without a variant (the image spec had none), the same OS and architecture."""
    if _platform.only(wanted).match(image):
        return True
    if image.variant:
        return False
    have, want = _platform.normalize(image), _platform.normalize(wanted)
    return (have.os, have.architecture) == (want.os, want.architecture)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    urls: tuple[str, ...] = ()


@dataclass
class ImageManifest:
    media_type: str
    config: Descriptor
    layers: list[Descriptor]


@dataclass
class Index:
    media_type: str
    manifests: list[Descriptor] = field(default_factory=list)


def parse(data: bytes, content_type: str) -> ImageManifest | Index:
    """Parse a manifest or index, trusting its ``mediaType`` field over the HTTP header."""
    try:
        body = json.loads(data)
    except ValueError:
        raise UnsupportedManifest("invalid manifest: not JSON") from None
    if not isinstance(body, dict):
        raise UnsupportedManifest("invalid manifest: not a JSON object")
    if body.get("schemaVersion") == 1:
        raise UnsupportedManifest("unsupported manifest format: Docker Image manifest version 2, schema 1 "
                                  "support has been removed; push the image again with a newer client")
    media_type = body.get("mediaType") or content_type
    if media_type in mt.INDEXES or (not media_type and "manifests" in body):
        return Index(media_type or mt.OCI_INDEX, [_descriptor(d) for d in body.get("manifests") or []])
    if media_type in mt.MANIFESTS or (not media_type and "config" in body):
        return ImageManifest(media_type or mt.OCI_MANIFEST, _descriptor(body.get("config")),
                             [_descriptor(d) for d in body.get("layers") or []])
    raise UnsupportedManifest(f"unsupported manifest media type: {media_type or 'none'}")


def _descriptor(raw: Any) -> Descriptor:
    if not isinstance(raw, dict):
        raise UnsupportedManifest("invalid manifest: malformed descriptor")
    try:
        digest = _digest.validate(str(raw["digest"]))
        size = int(raw["size"])
    except (KeyError, ValueError, TypeError, InvalidArgument):
        raise UnsupportedManifest("invalid manifest: descriptor without a valid digest and size") from None
    p = raw.get("platform")
    plat = (Platform(str(p.get("os", "")), str(p.get("architecture", "")), str(p.get("variant", "")))
            if isinstance(p, dict) else None)
    return Descriptor(str(raw.get("mediaType", "")), digest, size, plat, tuple(raw.get("urls") or ()))


def select(index: Index, wanted: Platform) -> Descriptor:
    """The index entry for ``wanted``, as dockerd 20.10's ``filterManifests`` chooses it: the
    first whose normalised platform is the wanted one, else (arm alone, for lists from before
    variants were compared) the first of the same OS and architecture, whatever its variant."""
    want = _platform.normalize(wanted)
    entries = [(d, _platform.normalize(d.platform)) for d in index.manifests
               if d.platform and d.media_type in mt.MANIFESTS | {""}]
    chosen = [d for d, p in entries if p == want]
    if not chosen and want.architecture == "arm":
        chosen = [d for d, p in entries if (p.os, p.architecture) == (want.os, want.architecture)]
    if chosen:
        return chosen[0]
    raise ManifestUnknown(f"no matching manifest for {wanted} in the manifest list entries")


def build(config: Descriptor, layers: list[Descriptor], media_type: str = mt.DOCKER_MANIFEST) -> bytes:
    """A manifest as dockerd writes it (schema2: 3-space indent, fixed key order)."""
    body = {"schemaVersion": 2, "mediaType": media_type, "config": _plain(config),
            "layers": [_plain(x) for x in layers]}
    return json.dumps(body, indent=3).encode()


def _plain(d: Descriptor) -> dict[str, Any]:
    out: dict[str, Any] = {"mediaType": d.media_type, "size": d.size, "digest": d.digest}
    if d.urls:
        out["urls"] = list(d.urls)
    return out
