"""OCI platforms (``linux/arm64``, ``linux/arm/v7``) normalised as containerd does.

The Dockerfile front end needs them for ``FROM --platform`` and for the automatic
``TARGET*``/``BUILD*`` args.
"""

from __future__ import annotations

import platform as _host
from dataclasses import dataclass

_OS = {"linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris", "illumos",
       "aix", "android", "dragonfly", "ios", "js", "plan9", "wasip1"}
_ARCH = {"x86_64": ("amd64", ""), "x86-64": ("amd64", ""), "amd64": ("amd64", ""),
         "aarch64": ("arm64", ""), "arm64": ("arm64", ""), "armhf": ("arm", "v7"),
         "armel": ("arm", "v6"), "arm": ("arm", "v7"), "i386": ("386", ""), "386": ("386", ""),
         "ppc64le": ("ppc64le", ""), "s390x": ("s390x", ""), "riscv64": ("riscv64", ""),
         "mips64le": ("mips64le", ""), "loong64": ("loong64", ""), "armv7l": ("arm", "v7"),
         "armv6l": ("arm", "v6")}


class PlatformError(ValueError):
    pass


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base

    def args(self, prefix: str) -> dict[str, str]:
        """``TARGETPLATFORM``/``TARGETOS``/``TARGETARCH``/``TARGETVARIANT`` (or BUILD*)."""
        return {f"{prefix}PLATFORM": str(self), f"{prefix}OS": self.os,
                f"{prefix}ARCH": self.architecture, f"{prefix}VARIANT": self.variant}


def _arch(arch: str, variant: str) -> tuple[str, str]:
    known = _ARCH.get(arch.lower())
    if known is None:
        raise PlatformError(f"unknown operating system or architecture: {arch}")
    name, default_variant = known
    if name == "arm64" and variant in ("8", "v8", "v8.0"):
        variant = ""
    if name == "arm" and variant.isdigit():
        variant = "v" + variant
    return name, variant or default_variant


def parse(text: str) -> Platform:
    """``os[/arch[/variant]]`` or just an architecture, e.g. ``arm64`` → linux/arm64."""
    parts = text.lower().split("/")
    if not text or len(parts) > 3 or any(not p for p in parts):
        raise PlatformError(f'"{text}": invalid platform specifier')
    if len(parts) == 1:
        if parts[0] in _OS:
            arch, variant = _arch(host().architecture, host().variant)
            return Platform(parts[0], arch, variant)
        return Platform("linux", *_arch(parts[0], ""))
    if parts[0] not in _OS:
        raise PlatformError(f'"{text}": unknown operating system or architecture')
    return Platform(parts[0], *_arch(parts[1], parts[2] if len(parts) == 3 else ""))


def host() -> Platform:
    """The platform this process runs on (BUILDPLATFORM's default)."""
    arch, variant = _ARCH.get(_host.machine().lower(), (_host.machine().lower(), ""))
    return Platform("linux", arch, variant)
