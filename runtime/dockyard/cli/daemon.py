"""``dockyard daemon``: run the Engine API server, with dockerd's flag names and its
configuration file (``--config-file``, daemon.json keys: :mod:`dockyard.config`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import (
    FIELDS,
    check_dns_search,
    check_ip,
    default_config_file,
    default_data_root,
    default_host,
    parse_log_opt,
    parse_pool,
    parse_size,
    parse_ulimit,
)
from ..containers.create import go_parse_bool as go_bool
from ..gostrconv import pflag_int

# flag's dest → daemon.json key: the flags' dests are DaemonConfig's field names ("debug" is a
# file-only spelling of the log level); only the flags given count
_KEYS: dict[str, str] = {field: key for key, field in FIELDS.items() if key != "debug"}


def _flag(name: str, parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type in dockerd's words: ``invalid argument "x" for "--flag" flag: why``."""
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f'invalid argument "{text}" for "{name}" flag: {exc}') from None
    return convert


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("daemon", help="Run the dockyard daemon (the Docker Engine API server)")
    add = parser.add_argument
    add("--config-file", type=Path, default=None,
        help=f"daemon configuration file, dockerd's daemon.json keys (default {default_config_file()})")
    add("-H", "--host", dest="hosts", action="append", metavar="HOST",
        help=f"daemon socket(s) to listen on, repeatable (default {default_host()})")
    add("--data-root", type=Path, default=None,
        help=f"root directory of persistent state (default {default_data_root()})")
    add("-p", "--pidfile", type=Path, default=None, help="path to write the daemon's pid")
    add("-l", "--log-level", default=None,
        choices=["debug", "info", "warn", "warning", "error", "fatal"], help='logging level (default "info")')
    add("--insecure-registry", dest="insecure_registries", action="append", metavar="REGISTRY",
        help="registry (host:port or CIDR) reachable over plain HTTP, repeatable")
    add("--registry-mirror", dest="registry_mirrors", action="append", metavar="URL",
        help="preferred Docker Hub mirror, repeatable")
    add("-b", "--bridge", default=None, metavar="NAME",
        help="Linux bridge of the default bridge network (default dockyard0)")
    add("--bip", default=None, metavar="CIDR", help="the default bridge's address and subnet, e.g. 172.30.0.1/16")
    add("--ipv6", nargs="?", const=True, default=None, metavar="true", type=_flag("--ipv6", go_bool),
        help="IPv6 on the default bridge network (needs --fixed-cidr-v6)")
    add("--fixed-cidr-v6", default=None, metavar="CIDR", help="the default bridge's IPv6 subnet, e.g. fd00:1::/64")
    add("--default-address-pool", dest="default_address_pools", action="append", metavar="base=CIDR,size=N",
        type=_flag("--default-address-pool", parse_pool),
        help="subnets for networks the daemon addresses (default bridge, user networks), repeatable")
    _container_defaults(parser)
    _fixed(parser)
    parser.set_defaults(func=run)


def _fixed(parser: argparse.ArgumentParser) -> None:
    """dockerd's settings for what dockyard always does: taken when they say so."""
    add = parser.add_argument
    add("--live-restore", nargs="?", const=True, default=None, metavar="true",
        type=_flag("--live-restore", go_bool), help="containers outlive the daemon (always)")
    add("-s", "--storage-driver", default=None, metavar="overlay2", help="storage driver (overlay2 only)")
    add("--userland-proxy", nargs="?", const=True, default=None, metavar="true",
        type=_flag("--userland-proxy", go_bool), help="published ports through the userland proxy (always)")
    add("--shutdown-timeout", default=None, metavar="SECONDS", type=_flag("--shutdown-timeout", pflag_int),
        help="accepted, without effect: a stopping daemon stops no container (dockerd's with --live-restore)")


def _container_defaults(parser: argparse.ArgumentParser) -> None:
    """What a container gets when it does not say (dockerd's names and checks)."""
    add = parser.add_argument
    add("--default-ulimit", dest="default_ulimits", action="append", metavar="NAME=SOFT[:HARD]",
        type=_flag("--default-ulimit", parse_ulimit), help="default ulimit for containers, repeatable")
    add("--default-shm-size", type=_flag("--default-shm-size", parse_size), metavar="SIZE",
        help="default /dev/shm size for containers (default 64MiB)")
    add("--log-driver", default=None, metavar="DRIVER", help='default log driver for containers (default "json-file")')
    add("--log-opt", dest="log_opts", action="append", metavar="KEY=VALUE",
        type=_flag("--log-opt", parse_log_opt), help="default log driver options for containers, repeatable")
    add("--default-ipc-mode", default=None, metavar="MODE",
        help='default IPC mode for containers: "shareable" or "private" (default "private")')
    add("--default-cgroupns-mode", default=None, metavar="MODE",
        help='default cgroup namespace mode for containers: "host" or "private" (default "private")')
    add("--cgroup-parent", default=None, metavar="PARENT",
        help="parent cgroup for containers that name none (default: dockyard)")
    add("--dns", action="append", type=_flag("--dns", check_ip), metavar="IP",
        help="DNS server for containers, repeatable")
    add("--dns-search", action="append", type=_flag("--dns-search", check_dns_search), metavar="DOMAIN",
        help="DNS search domain for containers, repeatable")
    add("--dns-opt", dest="dns_opts", action="append", metavar="OPT", help="DNS option for containers, repeatable")
    add("--seccomp-profile", default=None, metavar="PATH",
        help='seccomp profile for containers that name none: a file, "builtin" or "unconfined"')
    add("--userns-remap", default=None, metavar="default|USER[:GROUP]|UID[:GID]",
        help="run containers as the user's subordinate ids (root inside is the first of them; "
             '"default": the user dockremap, made if missing); images and containers then live '
             "under <data-root>/<uid>.<gid>, as dockerd's; a container's --userns host opts out")


def given(args: argparse.Namespace) -> dict[str, Any]:
    """The flags given, as daemon.json keys and values (for :func:`dockyard.config.load`)."""
    out: dict[str, Any] = {}
    for attr, key in _KEYS.items():
        value = getattr(args, attr, None)
        if value is None:
            continue
        if key == "default-ulimits":
            value = {u["Name"]: u for u in value}  # a later one of a name wins, as dockerd's
        elif key == "log-opts":
            value = dict(value)
        out[key] = value
    return out


def run(args: argparse.Namespace) -> int:
    from ..config import load
    from ..daemon import run_daemon

    explicit = args.config_file is not None
    config = load(given(args), args.config_file if explicit else default_config_file(), explicit)
    run_daemon(config)
    return 0
