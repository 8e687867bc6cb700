"""OCI platforms (``linux/arm64``, ``linux/arm/v7``) as containerd's ``platforms`` package
reads, normalises, prints and matches them — the package dockerd 20.10 uses for every
``--platform`` it is given (pull, create, import, a build's ``FROM --platform``).

``parse`` takes the specifier syntax ``<os>|<arch>|<os>/<arch>[/<variant>]`` with containerd's
refusals word for word; ``normalize`` gives the canonical names (``aarch64`` → ``arm64``,
``armhf`` → ``arm/v7``); ``fmt`` prints ``os/arch[/variant]``; ``only`` is the matcher that
decides whether an image's platform runs where another is wanted. What each caller does
beyond that (import's OS check, pull's index choice) stays with the caller.
"""

from __future__ import annotations

import platform as _host
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..errors import InvalidArgument

# containerd's specifierRe, as dockerd 20.10 prints it in its refusal
_COMPONENT = re.compile(r"^[A-Za-z0-9_-]+$")
# Go's GOOS and GOARCH lists (containerd's isKnownOS / isKnownArch)
_KNOWN_OS = frozenset({"aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios",
                       "js", "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos"})
_KNOWN_ARCH = frozenset({"386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64",
                         "ppc64le", "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32",
                         "mips64p32le", "ppc", "riscv", "riscv64", "s390", "s390x", "sparc",
                         "sparc64", "wasm"})
# uname -m → GOARCH, for this machine's default platform
_MACHINE = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm", "armv5l": "arm",
            "i686": "386", "i386": "386", "ppc64le": "ppc64le", "s390x": "s390x",
            "riscv64": "riscv64", "mips64": "mips64", "loongarch64": "loong64"}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return fmt(self)


def parse(specifier: str) -> Platform:
    """containerd's ``platforms.Parse``: an OS alone gets this machine's architecture, an
    architecture alone this machine's OS; ``os/arch`` pairs are not checked against any list."""
    if "*" in specifier:
        raise InvalidArgument(f"{_q(specifier)}: wildcards not yet supported: invalid argument")
    parts = specifier.split("/")
    for part in parts:
        if not _COMPONENT.match(part):
            raise InvalidArgument(f"{_q(part)} is an invalid component of {_q(specifier)}: platform "
                                  f"specifier component must match {_q(_COMPONENT.pattern)}: invalid argument")
    if len(parts) == 1:
        return _one(specifier, parts[0])
    if len(parts) == 2:
        arch, variant = _normalize_arch(parts[1], "")
        return Platform(_normalize_os(parts[0]), arch, "" if (arch, variant) == ("arm", "v7") else variant)
    if len(parts) == 3:
        arch, variant = _normalize_arch(parts[1], parts[2])
        return Platform(_normalize_os(parts[0]), arch, variant or ("v8" if arch == "arm64" else ""))
    raise InvalidArgument(f"{_q(specifier)}: cannot parse platform specifier: invalid argument")


def _one(specifier: str, word: str) -> Platform:
    os_name = _normalize_os(word)
    if os_name in _KNOWN_OS:
        here = default()
        return Platform(os_name, here.architecture, here.variant if here.architecture == "arm"
                        and here.variant != "v7" else "")
    arch, variant = _normalize_arch(word, "")
    if arch in _KNOWN_ARCH:
        return Platform("linux", arch, "" if (arch, variant) == ("arm", "v7") else variant)
    raise InvalidArgument(f"{_q(specifier)}: unknown operating system or architecture: invalid argument")


def normalize(p: Platform) -> Platform:
    """containerd's ``platforms.Normalize``: canonical OS, architecture and variant names."""
    return Platform(_normalize_os(p.os), *_normalize_arch(p.architecture, p.variant))


def fmt(p: Platform) -> str:
    """containerd's ``platforms.Format``: ``os/arch[/variant]``, ``unknown`` without an OS."""
    if not p.os:
        return "unknown"
    return "/".join(x for x in (p.os, p.architecture, p.variant) if x)


def default() -> Platform:
    """containerd's ``DefaultSpec``: this machine's platform (arm's variant from its CPU)."""
    machine = _host.machine().lower()
    arch = _MACHINE.get(machine, machine)
    variant = {"arm64": "v8", "arm": "v7"}.get(arch, "")
    if arch == "arm" and machine[:5] in ("armv5", "armv6"):
        variant = "v" + machine[4]
    return Platform("linux", arch, variant)


class Matcher:
    """containerd's ``platforms.Only`` (1.6): the wanted platform first, then those that run where
    it does — 386 on amd64, older arm variants, and 32-bit arm (v8 and older) on arm64. ``rank`` orders
    candidates the way ``Less`` does (lower is preferred; None: no match)."""

    def __init__(self, wanted: Platform) -> None:
        self.wanted = normalize(wanted)
        self.vector: Sequence[Platform] = _vector(self.wanted)

    def rank(self, p: Platform) -> int | None:
        got = normalize(p)
        return next((i for i, v in enumerate(self.vector) if v == got), None)

    def match(self, p: Platform) -> bool:
        return self.rank(p) is not None


def only(wanted: Platform) -> Matcher:
    return Matcher(wanted)


def _vector(p: Platform) -> list[Platform]:
    out = [p]
    if p.architecture == "amd64":
        out.append(replace(p, architecture="386"))
    level = p.variant[1:] if p.variant.startswith("v") else ""
    if p.architecture == "arm" and level.isdigit() and int(level) > 5:
        out += [replace(p, variant=f"v{n}") for n in range(int(level) - 1, 4, -1)]
    if p.architecture == "arm64":
        out += _vector(Platform(p.os, "arm", p.variant or "v8"))
    return out


def _normalize_os(os_name: str) -> str:
    if not os_name:
        return "linux"
    os_name = os_name.lower()
    return "darwin" if os_name == "macos" else os_name


def _normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    arch, variant = arch.lower(), variant.lower()
    if arch == "i386":
        return "386", ""
    if arch in ("x86_64", "x86-64"):
        return "amd64", ""
    if arch in ("aarch64", "arm64"):
        return "arm64", "" if variant in ("8", "v8") else variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            return "arm", "v7"
        return "arm", "v" + variant if variant in ("5", "6", "8") else variant
    return arch, variant


def _q(text: str) -> str:
    """Go's ``%q`` for the plain strings a specifier is made of."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
