"""``dockyard registry serve`` settings: command-line flags, or the same keys in a YAML/TOML file.

Flags given on the command line override the file. Keys use the flag names with ``_`` or ``-``
(``tls_cert`` / ``tls-cert``); an unknown key is an error rather than a silently ignored typo.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from ..config import default_data_root
from ..errors import InvalidArgument

DEFAULT_ADDR = "127.0.0.1:5000"


@dataclass
class RegistryConfig:
    root: Path = field(default_factory=lambda: default_data_root() / "registry")
    addr: str = DEFAULT_ADDR
    tls_cert: Path | None = None
    tls_key: Path | None = None
    htpasswd: Path | None = None
    token_auth: bool = False
    token_realm: str | None = None
    token_key: Path | None = None
    token_service: str = "dockyard-registry"
    token_issuer: str = "dockyard-registry"
    token_expiry: int = 300
    public: list[str] = field(default_factory=list)
    acl: list[str] = field(default_factory=list)
    read_only: bool = False
    max_blob_size: int = 0  # bytes; 0: no limit

    def __post_init__(self) -> None:
        self.max_blob_size = parse_size(self.max_blob_size)

    @property
    def uses_tokens(self) -> bool:
        return self.token_auth or bool(self.token_realm) or self.token_key is not None

    def host_port(self) -> tuple[str, int]:
        host, sep, port = self.addr.rpartition(":")
        if not sep or not port.isdigit():
            raise InvalidArgument(f"invalid --addr {self.addr!r}: want HOST:PORT")
        return host.strip("[]") or "0.0.0.0", int(port)


_UNITS: Final = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(value: int | str) -> int:
    """Bytes from ``1048576``, ``512m`` or ``2g`` (binary units, as docker's size flags)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = str(value).strip().lower().removesuffix("ib").removesuffix("b")
    number, unit = text.rstrip("kmgt"), text[len(text.rstrip("kmgt")):]
    if not number.isdigit() or unit not in _UNITS:
        raise InvalidArgument(f"invalid size {value!r}: want bytes, or a number with k, m, g or t")
    return int(number) * _UNITS[unit]


_PATHS = {"root", "tls_cert", "tls_key", "htpasswd", "token_key"}
_LISTS = {"public", "acl"}


def load_file(path: Path) -> dict[str, Any]:
    """YAML, or TOML when the name ends in ``.toml``."""
    try:
        text = Path(path).read_text()
        data = tomllib.loads(text) if str(path).endswith(".toml") else yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise InvalidArgument(f"cannot read registry config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"registry config {path}: want a mapping at the top level")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def build(values: dict[str, Any]) -> RegistryConfig:
    """A config from file values overlaid with flags (None means "not given")."""
    known = {f.name for f in dataclasses.fields(RegistryConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidArgument(f"unknown registry setting(s): {', '.join(unknown)}")
    config = RegistryConfig()
    for key, value in values.items():
        if value is None:
            continue
        if key in _PATHS:
            value = Path(value)
        elif key in _LISTS and isinstance(value, str):
            value = [value]
        setattr(config, key, value)
    config.max_blob_size = parse_size(config.max_blob_size)
    if bool(config.tls_cert) != bool(config.tls_key):
        raise InvalidArgument("--tls-cert and --tls-key go together")
    return config
