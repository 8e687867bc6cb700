"""``dockyard network create|ls|inspect|rm|connect|disconnect|prune``, as docker spells them."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..errors import InvalidArgument
from . import formatting as fmt
from .client import connect
from .images import confirm, parse_filters
from .output import fail
from .running import endpoint_guard

Sub = argparse._SubParsersAction

LS_TABLE = "{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
LS_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
              "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT"}


def ipam_config(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--subnet/--gateway/--ip-range`` → the API's IPAM (one pool per subnet, docker's pairing)."""
    if not args.subnet and (args.gateway or args.ip_range):
        raise InvalidArgument("every ip-range or gateway must have a corresponding subnet")
    if len(args.gateway) > len(args.subnet) or len(args.ip_range) > len(args.subnet):
        raise InvalidArgument("every ip-range or gateway must have a corresponding subnet")
    pools = []
    for i, subnet in enumerate(args.subnet):
        pool = {"Subnet": subnet}
        if i < len(args.gateway):
            pool["Gateway"] = args.gateway[i]
        if i < len(args.ip_range):
            pool["IPRange"] = args.ip_range[i]
        pools.append(pool)
    if not pools and args.ipam_driver == "default":
        return None
    return {"Driver": args.ipam_driver, "Config": pools, "Options": {}}


def _pairs(items: list[str]) -> dict[str, str]:
    return {k: v for k, _, v in (i.partition("=") for i in items)}


def create(args: argparse.Namespace) -> int:
    result = connect(args).create_network(
        args.name, driver=args.driver, options=_pairs(args.opt) or None, ipam=ipam_config(args),
        internal=args.internal, labels=_pairs(args.label) or None, enable_ipv6=args.ipv6,
        attachable=args.attachable or None, check_duplicate=True)  # as the docker CLI below API 1.44
    for warning in [result.get("Warning")] if result.get("Warning") else []:
        print(f"WARNING: {warning}", file=sys.stderr)
    print(result.get("Id", ""))
    return 0


def ls_row(network: dict[str, Any], no_trunc: bool) -> dict[str, str]:
    created = str(network.get("Created", ""))
    labels = network.get("Labels") or {}
    return {"CreatedAt": _created(created), "Driver": str(network.get("Driver", "")),
            "ID": network["Id"] if no_trunc else network["Id"][:12],
            "IPv6": str(bool(network.get("EnableIPv6"))).lower(),
            "Internal": str(bool(network.get("Internal"))).lower(),
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
            "Name": str(network.get("Name", "")), "Scope": str(network.get("Scope", ""))}


def _created(text: str) -> str:
    try:
        return fmt.go_time(datetime.fromisoformat(re.sub(r"\.\d+", "", text)).timestamp())
    except ValueError:
        return text


def ls(args: argparse.Namespace) -> int:
    networks = connect(args).networks(filters=parse_filters(args.filter) or None)
    rows = sorted((ls_row(n, args.no_trunc) for n in networks), key=lambda r: r["Name"])
    template = "{{.ID}}" if args.quiet else (args.format or "table " + LS_TABLE)
    sys.stdout.write(fmt.format_rows(template, rows, LS_HEADERS, LS_TABLE))
    return 0


def inspect(args: argparse.Namespace) -> int:
    import docker.errors

    api = connect(args)
    found, status = [], 0
    for name in args.networks:
        try:
            found.append(api.inspect_network(name, verbose=args.verbose or None))
        except docker.errors.NotFound as exc:
            status = 1
            errors = str(exc.explanation or f"network {name} not found")
            print(f"dockyard: {errors}", file=sys.stderr)
    if args.format and args.format != "json":
        template, _ = fmt.expand_format(args.format, "")
        for network in found:
            print(fmt.render(template, network))
    else:
        print(json.dumps(found, indent=4, ensure_ascii=False))
    return status


def _each(names: list[str], action: Callable[[str], Any]) -> int:
    import docker.errors

    status = 0
    for name in names:
        try:
            action(name)
        except docker.errors.APIError as exc:
            status = fail(str(exc.explanation or exc))
        else:
            print(name)
    return status


def rm(args: argparse.Namespace) -> int:
    return _each(args.networks, connect(args).remove_network)


def connect_(args: argparse.Namespace) -> int:
    connect(args).connect_container_to_network(
        args.container, args.network, ipv4_address=args.ip, ipv6_address=args.ip6,
        aliases=args.alias or None, links=args.link or None)
    return 0


def disconnect(args: argparse.Namespace) -> int:
    connect(args).disconnect_container_from_network(args.container, args.network, force=args.force)
    return 0


PRUNE_WARNING = "WARNING! This will remove all custom networks not used by at least one container."


def prune(args: argparse.Namespace) -> int:
    if not args.force and not confirm(PRUNE_WARNING):
        return 0
    report = connect(args).prune_networks(filters=parse_filters(args.filter) or None)
    deleted = report.get("NetworksDeleted") or []
    if deleted:
        print("Deleted Networks:")
        print("\n".join(deleted))
    return 0


# ---- flags ----------------------------------------------------------------------------------


def add_create(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NETWORK")
    p.add_argument("-d", "--driver", default="bridge", help='driver to manage the network (default "bridge")')
    p.add_argument("--subnet", action="append", default=[], help="subnet in CIDR format")
    p.add_argument("--gateway", action="append", default=[], help="IPv4 or IPv6 gateway for the subnet")
    p.add_argument("--ip-range", action="append", default=[], help="allocate container ip from a sub-range")
    p.add_argument("--ipam-driver", default="default", help='IP address management driver (default "default")')
    p.add_argument("--internal", action="store_true", help="restrict external access to the network")
    p.add_argument("--attachable", action="store_true", help="enable manual container attachment")
    p.add_argument("--ipv6", action="store_true", help="enable IPv6 networking")
    p.add_argument("-o", "--opt", action="append", default=[], help="set driver specific options")
    p.add_argument("--label", action="append", default=[], help="set metadata on a network")
    p.set_defaults(func=create)


def add_ls(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--filter", action="append", default=[], help="provide filter values (e.g. 'driver=bridge')")
    p.add_argument("--format", help="format output with a Go template, 'table', or 'json'")
    p.add_argument("--no-trunc", action="store_true", help="do not truncate the output")
    p.add_argument("-q", "--quiet", action="store_true", help="only display network IDs")
    p.set_defaults(func=ls)


def add_inspect(p: argparse.ArgumentParser) -> None:
    p.add_argument("networks", nargs="+", metavar="NETWORK")
    p.add_argument("-f", "--format", help="format output with a Go template or 'json'")
    p.add_argument("-v", "--verbose", action="store_true", help="verbose output for diagnostics")
    p.set_defaults(func=inspect)


def add_rm(p: argparse.ArgumentParser) -> None:
    p.add_argument("networks", nargs="+", metavar="NETWORK")
    p.add_argument("-f", "--force", action="store_true", help="do not error if the network does not exist")
    p.set_defaults(func=rm)


def add_connect(p: argparse.ArgumentParser) -> None:
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("--alias", action="append", default=[], help="add network-scoped alias for the container")
    p.add_argument("--ip", help="IPv4 address (e.g., 172.30.100.104)")
    p.add_argument("--ip6", help="IPv6 address (e.g., 2001:db8::33)")
    p.add_argument("--link", action="append", default=[], help="add link to another container")
    p.set_defaults(func=connect_)


def add_disconnect(p: argparse.ArgumentParser) -> None:
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("-f", "--force", action="store_true", help="force the container to disconnect from a network")
    p.set_defaults(func=disconnect)


def add_prune(p: argparse.ArgumentParser) -> None:
    p.add_argument("--filter", action="append", default=[], help="provide filter values (e.g. 'until=<timestamp>')")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.set_defaults(func=prune)


VERBS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], str, tuple[str, ...]]] = {
    "connect": (add_connect, "Connect a container to a network", ()),
    "create": (add_create, "Create a network", ()),
    "disconnect": (add_disconnect, "Disconnect a container from a network", ()),
    "inspect": (add_inspect, "Display detailed information on one or more networks", ()),
    "ls": (add_ls, "List networks", ("list",)),
    "prune": (add_prune, "Remove all unused networks", ()),
    "rm": (add_rm, "Remove one or more networks", ("remove",)),
}


def register(sub: Sub[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("network", help="Manage networks")
    group_sub = group.add_subparsers(dest="network_command", metavar="COMMAND")
    for verb, (add, help_text, aliases) in VERBS.items():
        p = group_sub.add_parser(verb, help=help_text, aliases=list(aliases))
        add(p)
        p.set_defaults(func=endpoint_guard(p.get_default("func")))
    group.set_defaults(func=lambda _args: _usage(group))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
