"""A build's platforms: containerd's (:mod:`dockyard.oci.platform`), normalised as the
``TARGET*``/``BUILD*`` args name them (``linux/arm`` is ``linux/arm/v7``, ``arm64/v8`` is
``arm64``). The Dockerfile front end needs them for ``FROM --platform`` and those args.
"""

from __future__ import annotations

from ..oci import platform as _oci
from ..oci.platform import Platform

__all__ = ["Platform", "args", "host", "parse"]


def parse(text: str) -> Platform:
    """``os[/arch[/variant]]`` or an OS or architecture alone, refused in containerd's words."""
    return _oci.normalize(_oci.parse(text))


def host() -> Platform:
    """The platform this process runs on (BUILDPLATFORM's default)."""
    return _oci.normalize(_oci.default())


def args(p: Platform, prefix: str) -> dict[str, str]:
    """``TARGETPLATFORM``/``TARGETOS``/``TARGETARCH``/``TARGETVARIANT`` (or BUILD*)."""
    return {f"{prefix}PLATFORM": str(p), f"{prefix}OS": p.os,
            f"{prefix}ARCH": p.architecture, f"{prefix}VARIANT": p.variant}
