"""Instruction flags (``--from=x``, ``--link``, ``--mount=…``) with BuildKit's BFlags rules.

Also the small value grammars flags use: Go durations (HEALTHCHECK), Levenshtein-based
"did you mean" suggestions, and ``RUN --mount`` specs with their per-type defaults.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from .errors import DockerfileParseError

FlagType = Literal["bool", "string", "strings"]


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def suggest(value: str, options: Iterable[str], case_sensitive: bool) -> str | None:
    """BuildKit's suggest.WrapError choice: the first option at distance < 3, closest wins."""
    val = value if case_sensitive else value.lower()
    match, best = None, 3
    for opt in options:
        cmp = opt if case_sensitive else opt.lower()
        if cmp == val:
            return None
        dist = levenshtein(val, cmp)
        if dist < best:
            match, best = (cmp if case_sensitive else _match_case(cmp, value)), dist
    return match


def _match_case(option: str, original: str) -> str:
    if original == original.lower():
        return option.lower()
    if original == original.upper():
        return option.upper()
    return option


def with_suggestion(message: str, value: str, options: Iterable[str], case_sensitive: bool) -> str:
    match = suggest(value, options, case_sensitive)
    return f"{message} (did you mean {match}?)" if match else message


@dataclass
class Flags:
    """The flags one instruction accepts, filled from its ``--`` words."""

    spec: dict[str, FlagType]
    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    used: list[str] = field(default_factory=list)

    def parse(self, words: list[str]) -> Flags:
        for word in words:
            if not word.startswith("--"):
                raise DockerfileParseError(f"arg should start with -- : {word}")
            if word == "--":
                break
            self._one(word[2:])
        return self

    def _one(self, arg: str) -> None:
        name, eq, value = arg.partition("=")
        kind = self.spec.get(name)
        if kind is None:
            raise DockerfileParseError(
                with_suggestion(f"unknown flag: {name}", name, self.spec, True))
        if name in self.used and kind != "strings":
            raise DockerfileParseError(f"duplicate flag specified: {name}")
        self.used.append(name)
        if kind == "bool":
            if eq and not value:
                raise DockerfileParseError(f"missing a value on flag: {name}")
            if value.lower() not in ("", "true", "false"):
                raise DockerfileParseError(
                    f"expecting boolean value for flag {name}, not: {value}")
            self.values[name] = "false" if value.lower() == "false" else "true"
            return
        if not eq:
            raise DockerfileParseError(f"missing a value on flag: {name}")
        if kind == "string":
            self.values[name] = value
        else:
            self.lists.setdefault(name, []).append(value)

    def string(self, name: str) -> str:
        return self.values.get(name, "")

    def boolean(self, name: str) -> bool:
        return self.values.get(name) == "true"

    def strings(self, name: str) -> list[str]:
        return list(self.lists.get(name, []))


# --- Go durations -----------------------------------------------------------------------------

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
          "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]*)")


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds (``1m30s``, ``1.5h``, ``300ms``)."""
    quoted = '"' + text + '"'
    rest, sign = text, 1
    if rest[:1] in "+-" and rest:
        sign, rest = (-1 if rest[0] == "-" else 1), rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise ValueError(f"time: invalid duration {quoted}")
    total = 0
    while rest:
        match = _DURATION_PART.match(rest)
        assert match is not None
        number, unit = match.groups()
        if number in ("", "."):
            raise ValueError(f"time: invalid duration {quoted}")
        if not unit:
            raise ValueError(f"time: missing unit in duration {quoted}")
        if unit not in _UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration {quoted}')
        total += _scaled(number, _UNITS[unit])
        rest = rest[match.end():]
    return sign * total


def _scaled(number: str, unit: int) -> int:
    whole, _, frac = number.partition(".")
    value = int(whole or "0") * unit
    if frac:
        value += int(frac) * unit // (10 ** len(frac))
    return value


# --- RUN --mount ------------------------------------------------------------------------------

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING_MODES = ("shared", "private", "locked")
_MOUNT_KEYS = ["type", "from", "source", "target", "readonly", "id", "sharing", "required",
               "size", "mode", "uid", "gid", "src", "dst", "destination", "ro", "rw",
               "readwrite", "env"]
Expander = Callable[[str], str]


@dataclass
class Mount:
    """One ``--mount`` with BuildKit's defaults filled in (see ``with_defaults``)."""

    type: str = "bind"
    from_: str = ""
    source: str = ""
    target: str = ""
    readonly: bool = False
    id: str = ""
    sharing: str = ""
    required: bool = False
    size: int = 0
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    env: str | None = None


def parse_mount(spec: str, expand: Expander | None) -> Mount:
    """Parse ``type=cache,target=/root/.cache,…``; values are expanded when ``expand`` is given."""
    try:
        fields = next(csv.reader([spec]), [])
    except csv.Error as exc:
        raise DockerfileParseError(f"failed to parse csv mounts: {exc}") from None
    m = Mount()
    ro_auto = True
    for item in fields:
        key, eq, value = item.partition("=")
        key = key.lower()
        if not eq:
            ro_auto = _mount_bare_key(m, key, item) and ro_auto
            continue
        if expand is not None:
            value = expand(value)
        ro_auto = _mount_key(m, key, value, item) and ro_auto
    _check_mount(m)
    if ro_auto:
        m.readonly = m.type not in ("cache", "tmpfs")
    return m


def _mount_bare_key(m: Mount, key: str, item: str) -> bool:
    if key in ("readonly", "ro"):
        m.readonly = True
        return False
    if key in ("readwrite", "rw"):
        m.readonly = False
        return False
    if key == "required":
        if m.type not in ("secret", "ssh"):
            raise DockerfileParseError(f"unexpected key '{key}' for mount type '{m.type}'")
        m.required = True
        return True
    raise DockerfileParseError(f"invalid field '{item}' must be a key=value pair")


def _go_bool(key: str, value: str) -> bool:
    low = value
    if low in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if low in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise DockerfileParseError(f"invalid value for {key}: {value}")


def _go_uint(value: str, base: int, what: str) -> int:
    try:
        if not value or not all(c in "0123456789abcdef"[:base] for c in value.lower()):
            raise ValueError
        number = int(value, base)
    except ValueError:
        raise DockerfileParseError(f"invalid value {value} for {what}") from None
    if number >= 2**32:
        raise DockerfileParseError(f"invalid value {value} for {what}")
    return number


def _mount_key(m: Mount, key: str, value: str, item: str) -> bool:
    """Apply one key=value; returns False when it fixed read-only-ness explicitly."""
    if key == "type":
        if value.lower() not in MOUNT_TYPES:
            raise DockerfileParseError(with_suggestion(
                f'unsupported mount type "{value}"', value, MOUNT_TYPES, True))
        m.type = value.lower()
    elif key == "from":
        m.from_ = value
    elif key in ("source", "src"):
        m.source = value
    elif key in ("target", "dst", "destination"):
        m.target = value
    elif key in ("readonly", "ro"):
        m.readonly = _go_bool(key, value)
        return False
    elif key in ("readwrite", "rw"):
        m.readonly = not _go_bool(key, value)
        return False
    else:
        _mount_other_key(m, key, value, item)
    return True


def _mount_other_key(m: Mount, key: str, value: str, item: str) -> None:
    if key == "required":
        if m.type not in ("secret", "ssh"):
            raise DockerfileParseError(f"unexpected key '{key}' for mount type '{m.type}'")
        m.required = _go_bool(key, value)
    elif key == "size":
        if m.type != "tmpfs":
            raise DockerfileParseError(f"unexpected key '{key}' for mount type '{m.type}'")
        m.size = ram_in_bytes(value, key)
    elif key == "id":
        m.id = value
    elif key == "sharing":
        if m.type != "cache":
            raise DockerfileParseError(f"invalid cache sharing set for {m.type} mount")
        m.sharing = value.lower()
    elif key == "mode":
        m.mode = _go_uint(value, 8, "mode")
    elif key in ("uid", "gid"):
        setattr(m, key, _go_uint(value, 10, key))
    elif key == "env":
        m.env = value
    else:
        raise DockerfileParseError(with_suggestion(
            f"unexpected key '{key}' in '{item}'", key, _MOUNT_KEYS, True))


def _check_mount(m: Mount) -> None:
    if m.type not in ("secret", "ssh", "cache"):
        for attr in ("mode", "uid", "gid"):
            if getattr(m, attr) is not None:
                raise DockerfileParseError(f'{attr} not allowed for "{m.type}" type mounts')
    if m.sharing and m.type != "cache":
        raise DockerfileParseError(f"invalid cache sharing set for {m.type} mount")
    if m.sharing and m.sharing not in SHARING_MODES:
        raise DockerfileParseError(f"unsupported sharing value {m.sharing!r}".replace("'", '"'))
    if m.type == "secret":
        if m.from_:
            raise DockerfileParseError("secret mount should not have a from")
        if not (m.source or m.target or m.id):
            raise DockerfileParseError("invalid secret mount. one of source, target required")
        if m.source and m.id:
            raise DockerfileParseError("both source and id can't be set")
    if m.type in ("bind", "cache", "tmpfs") and not m.target:
        raise DockerfileParseError("mount target is required")


def with_defaults(m: Mount) -> Mount:
    """The values BuildKit uses when a key is omitted (cache id = target, secret paths …)."""
    out = Mount(**m.__dict__)
    if out.type == "cache":
        out.id = out.id or out.target
        out.sharing = out.sharing or "shared"
        out.mode = 0o755 if out.mode is None else out.mode
    elif out.type == "secret":
        out.id = out.id or out.source or out.target.rsplit("/", 1)[-1]
        out.target = out.target or ("" if out.env else f"/run/secrets/{out.id}")
        out.mode = 0o400 if out.mode is None else out.mode
    elif out.type == "ssh":
        out.id = out.id or "default"
        out.target = out.target or "/run/buildkit/ssh_agent.0"
        out.mode = 0o600 if out.mode is None else out.mode
    if out.type in ("cache", "secret", "ssh"):
        out.uid = 0 if out.uid is None else out.uid
        out.gid = 0 if out.gid is None else out.gid
    return out


_RAM_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2,
              "g": 1024**3, "gb": 1024**3, "t": 1024**4, "tb": 1024**4, "p": 1024**5,
              "pb": 1024**5}
_RAM = re.compile(r"^(\d+(?:\.\d+)?) ?([kKmMgGtTpP]?[iI]?[bB]?)$")


def ram_in_bytes(value: str, key: str) -> int:
    """docker/go-units RAMInBytes: binary units, ``64m`` → 67108864."""
    match = _RAM.match(value)
    unit = match.group(2).lower().replace("i", "") if match else ""
    if not match or unit not in _RAM_UNITS:
        raise DockerfileParseError(f"invalid value for {key}: {value}")
    return int(float(match.group(1)) * _RAM_UNITS[unit])
