"""Daemon configuration: dockerd's flag names and daemon.json keys; the default locations are
:mod:`.hosts`'s.

A daemon's settings come from its flags and from its configuration file (``--config-file``,
dockerd's ``daemon.json``), merged as dockerd merges them (:func:`load`)::

    file  →  parse each key (dockerd's words for a bad value)  →  check dns/dns-search
    flags ─┐
           ├─ a key in the file that is no option: "… don't match any configuration option: K"
           ├─ a key given both ways: "… specified both as a flag and in the configuration file"
           └─ merged → DaemonConfig → checked (IPC and cgroup namespace modes, log options)

Every refusal reads as dockerd's does, behind "unable to configure the Docker daemon with file
F: " when it concerns the file. The container defaults here (``--default-ulimit``,
``--default-shm-size``, ``--log-driver``/``--log-opt``, ``--default-ipc-mode``,
``--default-cgroupns-mode``, ``--dns*``) are applied by the containers manager and the
network manager (docs/containers.md, "Daemon defaults").
"""

from __future__ import annotations

import csv
import ipaddress
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InvalidArgument
from .gostrconv import parse_int
from .hosts import client_host, default_data_root, default_host, default_socket, is_root

__all__ = ["DaemonConfig", "client_host", "default_config_file", "default_data_root", "default_host",
           "default_socket", "is_root", "load"]

DEFAULT_SHM_SIZE = 64 << 20

# go-units' ulimitNameMapping ("as" is left out there: unusable with the way Docker inits)
ULIMIT_NAMES = frozenset({"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
                          "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"})
IPC_MODES = ("shareable", "private")
CGROUPNS_MODES = ("host", "private")


@dataclass
class DaemonConfig:
    """What ``dockyard daemon`` was started with (its flags merged with its config file)."""

    data_root: Path = field(default_factory=default_data_root)
    hosts: list[str] = field(default_factory=lambda: [default_host()])
    pidfile: Path | None = None
    log_level: str = "info"
    insecure_registries: list[str] = field(default_factory=list)
    registry_mirrors: list[str] = field(default_factory=list)
    bridge: str | None = None               # -b: the default bridge network's Linux bridge
    bip: str | None = None                  # --bip: its address/prefix (first use only)
    ipv6: bool = False                      # --ipv6: IPv6 on the default bridge network
    fixed_cidr_v6: str | None = None        # --fixed-cidr-v6: its IPv6 subnet
    # container defaults: what a container gets when it does not say
    default_ulimits: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → {Name, Hard, Soft}
    default_shm_size: int = DEFAULT_SHM_SIZE
    log_driver: str = "json-file"
    log_opts: dict[str, str] = field(default_factory=dict)
    default_ipc_mode: str = "private"
    default_cgroupns_mode: str = "private"
    cgroup_parent: str = ""                 # --cgroup-parent: containers' when they name none
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_opts: list[str] = field(default_factory=list)
    default_address_pools: list[dict[str, Any]] = field(default_factory=list)  # [{"Base", "Size"}]
    seccomp_profile: str = ""               # --seccomp-profile: a file, "builtin" or "unconfined"
    seccomp_text: str = field(default="", repr=False)  # that file's content, read by validate()
    # dockerd's settings that are what dockyard always does: taken when they say so, else refused
    live_restore: bool = True           # containers outlive the daemon (their shims keep them)
    storage_driver: str = "overlay2"
    userland_proxy: bool = True         # published ports go through the daemon's proxy
    shutdown_timeout: int = 15          # no effect: a stopping daemon stops no container, as
                                        # dockerd's with --live-restore
    userns_remap: str = ""              # --userns-remap: "default", USER[:GROUP], UID[:GID]
    # --userns-remap resolved at the daemon's start (linux.remap.RemappedRoot): containers' root
    # is its first host id, and the engine's state lives under <data-root>/<uid>.<gid>
    remapped: Any = field(default=None, repr=False, compare=False)

    @property
    def engine_root(self) -> Path:
        """Where the engine keeps its state: the data root, or its ``<uid>.<gid>`` directory
        under ``--userns-remap`` (dockerd's; images pulled before are not seen there)."""
        root = Path(self.data_root)
        return root / self.remapped.dir_name if self.remapped is not None else root

    @property
    def rootless(self) -> bool:
        return not is_root()

    def validate(self) -> None:
        """dockerd's checks of the merged configuration, in its words (:func:`load` puts the
        file's prefix before the first two when a file was read)."""
        self.check_modes()
        self.check_pools()
        self.check_ipv6()
        self.check_fixed()
        self.read_seccomp_profile()
        from .containers.create import LOG_DRIVERS, check_log_opts
        if self.log_driver in LOG_DRIVERS:  # an unknown driver fails each create, as dockerd's
            try:
                check_log_opts(self.log_driver, self.log_opts)
            except InvalidArgument as exc:
                raise InvalidArgument(f"failed to set log opts: {exc}") from None

    def read_seccomp_profile(self) -> None:
        """``--seccomp-profile``: the file is read once, at the daemon's start (a missing one
        stops it, in dockerd's words); its content is checked at each container's start, as
        dockerd's. ``builtin`` and ``unconfined`` are current dockerd's names for the default
        profile and for none."""
        path = self.seccomp_profile
        if path in ("", "builtin", "unconfined"):
            self.seccomp_text = ""
            return
        try:
            self.seccomp_text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            raise InvalidArgument(f"opening seccomp profile ({path}) failed: open {path}: {reason}") from None

    def check_ipv6(self) -> None:
        """``--ipv6`` needs ``--fixed-cidr-v6``: dockerd 20.10 does not start without it (its
        default pools are IPv4), in these words; a bad CIDR is refused as a network's subnet."""
        if self.fixed_cidr_v6:
            from .network.ipam import parse_subnet6
            parse_subnet6(self.fixed_cidr_v6)
        elif self.ipv6:
            raise InvalidArgument("Error initializing network controller: IPv6 is enabled for the "
                                  "default bridge, but no subnet is configured. Specify an IPv6 "
                                  "subnet using --fixed-cidr-v6")

    def check_fixed(self) -> None:
        """What dockyard cannot be told otherwise."""
        if self.userns_remap and self.rootless:
            raise InvalidArgument("--userns-remap needs a root daemon: a rootless daemon's containers "
                                  "run in its own user namespace already")
        if self.storage_driver != "overlay2":
            raise InvalidArgument(f"error initializing graphdriver: driver not supported: {self.storage_driver} "
                                  "(dockyard stores layers with overlay2 only)")
        if not self.live_restore:
            raise InvalidArgument("live-restore cannot be disabled: dockyard's containers always outlive "
                                  "the daemon, as dockerd's with --live-restore")
        if not self.userland_proxy:
            raise InvalidArgument("userland-proxy cannot be disabled: dockyard publishes ports through "
                                  "its userland proxy only")

    def check_pools(self) -> None:
        """dockerd's network controller's check of ``--default-address-pool`` (IPv4 only here:
        dockyard's networks are)."""
        for pool in self.default_address_pools:
            base, size = str(pool["Base"]), int(pool["Size"])
            try:
                network = ipaddress.ip_network(base, strict=False)
            except ValueError:
                network = None
            if network is None or "/" not in base:
                raise InvalidArgument("Error initializing network controller: error obtaining controller "
                                      f'instance: invalid base pool "{base}": invalid CIDR address: {base}')
            if network.version != 4:
                raise InvalidArgument(f'default address pool "{base}": only IPv4 pools are supported')
            if size <= 0 or size < network.prefixlen or size > 32:
                raise InvalidArgument("Error initializing network controller: error obtaining controller "
                                      f"instance: invalid pools size: {size}")

    def check_modes(self) -> None:
        ipc, cgroupns = self.default_ipc_mode, self.default_cgroupns_mode
        if ipc not in IPC_MODES:
            what = (f'IPC mode "{ipc}" is not supported as default value'
                    if ipc in ("host", "none") or ipc.startswith("container:")
                    else f"default IPC mode setting ({ipc}) is invalid")
            raise InvalidArgument(f'{what}; use "shareable" or "private"')
        if cgroupns not in CGROUPNS_MODES:
            raise InvalidArgument(f'default cgroup namespace mode ({cgroupns}) is invalid; use "host" or "private"')


# ---- values, as dockerd's flags parse them ----------------------------------------------------


def parse_ulimit(text: str) -> dict[str, Any]:
    """go-units' ParseUlimit: ``nofile=1024:2048`` (or ``nofile=1024``: hard = soft)."""
    name, eq, values = text.partition("=")
    if not eq:
        raise ValueError(f"invalid ulimit argument: {text}")
    if name not in ULIMIT_NAMES:
        raise ValueError(f"invalid ulimit type: {name}")
    parts = values.split(":")
    if len(parts) > 2:
        raise ValueError(f"too many limit value arguments - {values}, can only have up to two, "
                         "`soft[:hard]`")
    hard = parse_int(parts[1]) if len(parts) == 2 else None  # go-units reads the hard one first
    soft = parse_int(parts[0])
    hard = soft if hard is None else hard
    if hard != -1 and soft > hard:
        raise ValueError(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return {"Name": name, "Hard": hard, "Soft": soft}


_RAM = re.compile(r"(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?")


def parse_size(text: str) -> int:
    """go-units' RAMInBytes: ``128m``, ``1g``, ``1.5GiB``, ``1024`` (binary units)."""
    match = _RAM.fullmatch(text)
    try:
        number = float(match.group(1)) if match else -1.0
    except ValueError:
        number = -1.0
    if number < 0 or match is None:
        raise ValueError(f"invalid size: '{text}'")
    return int(number * 1024 ** "bkmgtp".index((match.group(2) or "b").lower()))


def check_ip(text: str) -> str:
    """opts.ValidateIPAddress: the address in its canonical form."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ValueError(f"{text} is not an ip address") from None


_DOMAIN = re.compile(r"^(:?(?:[a-zA-Z0-9]|(?:[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9]))"
                     r"(:?\.(?:[a-zA-Z0-9]|(?:[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])))*)\.?\s*$")


def check_dns_search(text: str) -> str:
    """opts.ValidateDNSSearch: a domain name (or ``.``)."""
    text = text.strip(" ")
    if text == ".":
        return text
    match = _DOMAIN.match(text) if re.search(r"[a-zA-Z]", text) else None
    if match is None or len(match.group(1)) >= 255:
        raise ValueError(f"{text} is not a valid domain")
    return match.group(1)


def parse_pool(text: str) -> dict[str, Any]:
    """``--default-address-pool base=10.10.0.0/16,size=24`` (opts.PoolsOpt)."""
    pool: dict[str, Any] = {"Base": "", "Size": 0}
    for part in next(csv.reader([text])):
        key, eq, value = part.partition("=")
        if not eq:
            raise ValueError(f"invalid field '{part}' must be a key=value pair")
        key, value = key.lower(), value.lower()
        if key == "base":
            pool["Base"] = value
        elif key == "size":
            if not re.fullmatch(r"[+-]?\d+", value):
                raise ValueError(f'invalid size value: "{value}" (must be integer): strconv.Atoi: '
                                 f'parsing "{value}": invalid syntax')
            pool["Size"] = int(value)
        else:
            raise ValueError(f"unexpected key '{key}' in '{part}'")
    return pool


def parse_log_opt(text: str) -> tuple[str, str]:
    """``--log-opt KEY=VALUE``."""
    key, eq, value = text.partition("=")
    if not eq:
        raise ValueError(f"invalid key value pair format: {text}")
    return key, value


# ---- the configuration file -------------------------------------------------------------------


def default_config_file() -> Path:
    """dockyard's daemon.json: ``/etc/dockyard/daemon.json`` as root, else
    ``$XDG_CONFIG_HOME/dockyard/daemon.json`` (dockerd's are ``/etc/docker/daemon.json`` and
    ``~/.config/docker/daemon.json``; dockyard does not read another daemon's file)."""
    if is_root():
        return Path("/etc/dockyard/daemon.json")
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "dockyard" / "daemon.json"


# daemon.json key → DaemonConfig field ("debug" is the log level "debug")
FIELDS: dict[str, str] = {
    "hosts": "hosts", "data-root": "data_root", "pidfile": "pidfile", "log-level": "log_level",
    "debug": "log_level", "insecure-registries": "insecure_registries",
    "registry-mirrors": "registry_mirrors", "bridge": "bridge", "bip": "bip",
    "ipv6": "ipv6", "fixed-cidr-v6": "fixed_cidr_v6",
    "default-ulimits": "default_ulimits", "default-shm-size": "default_shm_size",
    "log-driver": "log_driver", "log-opts": "log_opts", "default-ipc-mode": "default_ipc_mode",
    "default-cgroupns-mode": "default_cgroupns_mode", "dns": "dns", "dns-search": "dns_search",
    "dns-opts": "dns_opts", "default-address-pools": "default_address_pools",
    "live-restore": "live_restore", "storage-driver": "storage_driver", "userland-proxy": "userland_proxy",
    "shutdown-timeout": "shutdown_timeout", "seccomp-profile": "seccomp_profile",
    "userns-remap": "userns_remap", "cgroup-parent": "cgroup_parent",
}
_LISTS = ("hosts", "insecure-registries", "registry-mirrors", "dns", "dns-search", "dns-opts")


def go_text(value: Any) -> str:
    """Go's ``%v`` of a decoded JSON value (maps with sorted keys), for dockerd's messages."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_text(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_text(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return "<nil>" if value is None else str(value)


def flag_text(key: str, value: Any) -> str:
    """A flag's value as dockerd prints it (pflag's ``String()``) in a conflict."""
    if key == "default-ulimits":
        return "[" + " ".join(f"{u['Name']}={u['Soft']}:{u['Hard']}" for u in value.values()) + "]"
    if key == "default-address-pools":  # PoolsOpt's String()
        return ", ".join(f"{p['Base']} {p['Size']}" for p in value)
    if key == "default-shm-size":
        from .units import bytes_size  # go-units' BytesSize: 64MiB
        return bytes_size(value)
    return go_text(value)


def _json_kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "bool", type(None): "null"}.get(
        type(value), "number")


def _from_file(key: str, raw: Any) -> Any:
    """One daemon.json value, as dockerd's decoder takes it."""
    def wrong(go_type: str, where: str = "") -> InvalidArgument:
        return InvalidArgument(f"json: cannot unmarshal {_json_kind(raw)} into Go struct field "
                               f"Config.{where or key} of type {go_type}")
    if key == "default-shm-size":
        if not isinstance(raw, str):
            quoted = json.dumps(raw, separators=(",", ":")).replace("\\", "\\\\").replace('"', '\\"')
            raise InvalidArgument(f'invalid size: "{quoted}"')
        try:
            return parse_size(raw)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
    if key == "default-ulimits":
        return _ulimits_from_file(raw, wrong)
    if key == "default-address-pools":
        return _pools_from_file(raw, wrong)
    if key == "log-opts":
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            raise wrong("map[string]string")
        return dict(raw)
    if key in ("debug", "live-restore", "userland-proxy", "ipv6"):
        if not isinstance(raw, bool):
            raise wrong("bool")
        return ("debug" if raw else None) if key == "debug" else raw
    if key == "shutdown-timeout":
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise wrong("int")
        return raw
    if key in _LISTS:
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise wrong("[]string")
        if key == "dns" or key == "dns-search":
            check = check_ip if key == "dns" else check_dns_search
            try:
                return [check(v) for v in raw]
            except ValueError as exc:
                raise InvalidArgument(f"configuration validation from file failed: {exc}") from None
        return list(raw)
    if not isinstance(raw, str):
        raise wrong("string")
    return raw


def _pools_from_file(raw: Any, wrong: Any) -> list[dict[str, Any]]:
    """``[{"base": "10.10.0.0/16", "size": 24}]`` (field names in any case)."""
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise wrong("[]*ipamutils.NetworkToSplit")
    pools = []
    for item in raw:
        fields = {k.lower(): v for k, v in item.items()}
        base, size = fields.get("base", ""), fields.get("size", 0)
        if not isinstance(base, str):
            raise wrong("string")
        if not isinstance(size, int) or isinstance(size, bool):
            raise InvalidArgument(f"json: cannot unmarshal {_json_kind(size)} into Go struct field "
                                  "Config.default-address-pools of type int")
        pools.append({"Base": base, "Size": size})
    return pools


def _ulimits_from_file(raw: Any, wrong: Any) -> dict[str, dict[str, Any]]:
    """``{"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}}`` (field names in any case,
    as Go's decoder matches them); the map's key is what a container's own ulimit overrides."""
    if not isinstance(raw, dict):
        raise wrong("map[string]*units.Ulimit")
    out: dict[str, dict[str, Any]] = {}
    for name, item in raw.items():
        if not isinstance(item, dict):
            raise InvalidArgument(f"json: cannot unmarshal {_json_kind(item)} into Go struct field "
                                  "Config.default-ulimits of type units.Ulimit")
        fields = {k.lower(): v for k, v in item.items()}
        for part in ("soft", "hard"):
            value = fields.get(part, 0)
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidArgument(f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
                                      f"Ulimit.default-ulimits.{part.capitalize()} of type int64")
        if not isinstance(fields.get("name", ""), str):
            raise InvalidArgument(f"json: cannot unmarshal {_json_kind(fields['name'])} into Go "
                                  "struct field Ulimit.default-ulimits.Name of type string")
        out[name] = {"Name": fields.get("name", ""), "Hard": fields.get("hard", 0),
                     "Soft": fields.get("soft", 0)}
    return out


def read_file(path: Path) -> dict[str, Any]:
    """daemon.json's keys, each parsed; dockerd's refusals (without the file prefix)."""
    try:
        text = path.read_text()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise InvalidArgument(f"open {path}: {reason}") from None
    try:
        raw = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:  # Go's decoder words the two usual cases so
        where = text[exc.pos] if exc.pos < len(text.rstrip()) else ""
        raise InvalidArgument(f"invalid character '{where}' looking for beginning of value" if where
                              else "unexpected EOF") from None
    if not isinstance(raw, dict):
        raise InvalidArgument(f"json: cannot unmarshal {_json_kind(raw)} into Go value of type "
                              "map[string]interface {}")
    unknown = [key for key in raw if key not in FIELDS]
    if unknown:
        raise InvalidArgument("the following directives don't match any configuration option: "
                              + ", ".join(unknown))
    return {key: (value, _from_file(key, value)) for key, value in raw.items()}


def load(flags: dict[str, Any], config_file: Path | None = None, explicit: bool = False) -> DaemonConfig:
    """The daemon's configuration: ``flags`` (daemon.json key → parsed value, only the flags
    given) merged with ``config_file``. A missing file is no error unless it was named."""
    settings, prefix = dict(flags), ""
    read = config_file is not None and (explicit or config_file.exists())
    if config_file is not None and read:
        prefix = f"unable to configure the Docker daemon with file {config_file}: "
        try:
            from_file = read_file(config_file)
            both = sorted(key for key in from_file if key in flags)
            if both:
                raise InvalidArgument(
                    "the following directives are specified both as a flag and in the configuration "
                    "file: " + ", ".join(f"{key}: (from flag: {flag_text(key, flags[key])}, from file: "
                                          f"{go_text(from_file[key][0])})" for key in both))
        except InvalidArgument as exc:
            raise InvalidArgument(prefix + str(exc)) from None
        settings.update((key, parsed) for key, (_, parsed) in from_file.items() if parsed is not None)
    config = DaemonConfig()
    for key, value in settings.items():
        if key in ("data-root", "pidfile"):
            value = Path(value).resolve() if key == "data-root" else Path(value)
        setattr(config, FIELDS[key], value)
    if read:
        try:
            config.check_modes()
        except InvalidArgument as exc:
            raise InvalidArgument(f"{prefix}merged configuration validation from file and command "
                                  f"line flags failed: {exc}") from None
    config.validate()
    return config
