"""Manifests and indexes as pull and push read and write them; platform selection.

Both Docker schema2 and OCI forms are accepted and kept byte for byte (their digest is the
image's identity in the registry). A manifest Docker generates is indented with three spaces,
keys in a fixed order, so pushing the same image twice gives the same digest.
"""

from __future__ import annotations

import json
import platform as _platform
from dataclasses import dataclass, field
from typing import Any

from ..engine import go_arch
from ..errors import InvalidArgument
from ..oci import digest as _digest
from ..oci import mediatypes as mt
from .errors import ManifestUnknown, UnsupportedManifest

_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "i386": "386"}
# Go's GOARCH values, which containerd knows an architecture alone by
_KNOWN_ARCH = frozenset({"386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "loong64",
                         "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc",
                         "ppc64", "ppc64le", "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64",
                         "wasm"})


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(x for x in (self.os, self.architecture, self.variant) if x)


def parse_platform(text: str | None) -> Platform:
    """``linux/arm64/v8`` → Platform; None or empty → this machine's platform."""
    if not text:
        return host_platform()
    parts = text.strip().lower().split("/")
    if parts[0] in ("linux", "windows", "darwin") and len(parts) == 1:  # an OS alone: this machine's arch
        here = host_platform()
        return Platform(parts[0], here.architecture, here.variant)
    if len(parts) == 1:
        parts = ["linux", parts[0]]
        if _ARCH_ALIASES.get(parts[1], parts[1]) not in _KNOWN_ARCH:  # os/arch pairs are not checked
            raise InvalidArgument(f"\"{text}\": unknown operating system or architecture: invalid argument")
    if len(parts) < 2 or len(parts) > 3 or not all(parts):
        raise InvalidArgument(f"\"{text}\": unknown operating system or architecture: invalid argument")
    arch = _ARCH_ALIASES.get(parts[1], parts[1])
    variant = parts[2] if len(parts) == 3 else ""
    return Platform(parts[0], arch, _norm_variant(arch, variant))


def host_platform() -> Platform:
    arch = go_arch()
    variant = {"arm64": "v8", "arm": "v7"}.get(arch, "")
    if arch == "arm" and _platform.machine().startswith("armv6"):
        variant = "v6"
    return Platform("linux", arch, variant)


def serves(wanted: Platform, image: Platform) -> bool:
    """Whether an image of platform ``image`` runs where ``wanted`` is asked for, as
    containerd's ``platforms.Only`` decides: the same OS and architecture, where an arm
    variant serves every newer one and an arm64 machine also takes 32-bit arm (v8 and older)."""
    if wanted.os != image.os:
        return False
    if wanted.architecture == image.architecture:
        if image.architecture != "arm":
            return True
        return _arm_level(image.variant) <= _arm_level(wanted.variant)
    return wanted.architecture == "arm64" and image.architecture == "arm" and _arm_level(image.variant) <= 8


def _arm_level(variant: str) -> int:
    """``v6`` → 6; an arm image or request without a variant is v7, as containerd normalises it."""
    digits = variant.lstrip("v")
    return int(digits) if digits.isdigit() else 7


def containerd_format(p: Platform) -> str:
    """``p`` as containerd's ``platforms.Format`` prints it: arm64's implied v8 left out."""
    return str(Platform(p.os, p.architecture, "" if p.variant == "v8" and p.architecture == "arm64" else p.variant))


def _norm_variant(arch: str, variant: str) -> str:
    if arch == "arm64" and variant in ("", "8"):
        return "v8"
    if arch == "arm" and variant.isdigit():
        return "v" + variant
    return variant


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
    """The index entry for ``wanted``, as dockerd chooses it (exact variant preferred)."""
    candidates = [d for d in index.manifests if d.platform and d.media_type in mt.MANIFESTS | {""}
                  and d.platform.os == wanted.os and d.platform.architecture == wanted.architecture]
    exact = [d for d in candidates
             if _norm_variant(wanted.architecture, d.platform.variant if d.platform else "") == wanted.variant]
    if exact:
        return exact[0]
    if candidates and not wanted.variant:
        return candidates[0]
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
