"""``dockyard volume create|ls|inspect|rm|prune``, with docker's flags and output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from ..errors import InvalidArgument
from . import formatting as fmt
from .client import connect
from .images import confirm, parse_filters
from .output import fail

Sub = argparse._SubParsersAction

LS_TABLE = "{{.Driver}}\t{{.Name}}"
LS_HEADERS = {"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
              "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "CreatedAt": "CREATED AT"}
PRUNE_WARNING = "WARNING! This will remove anonymous local volumes not used by at least one container."
PRUNE_ALL_WARNING = "WARNING! This will remove all local volumes not used by at least one container."


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key or (what == "opt" and not sep):
            raise InvalidArgument(f'invalid argument "{item}" for "--{what}" flag: '
                                  "bad format for option (expected key=value)")
        out[key] = value
    return out


def create(args: argparse.Namespace) -> int:
    if args.name and args.volume and args.name != args.volume:
        raise InvalidArgument("conflicting options: either specify --name or provide positional "
                              "arg, not both")
    volume = connect(args).create_volume(args.name or args.volume or None, driver=args.driver,
                                         driver_opts=_pairs(args.opt, "opt"),
                                         labels=_pairs(args.label, "label"))
    print(volume["Name"])
    return 0


def ls_row(volume: dict[str, Any]) -> dict[str, str]:
    labels = volume.get("Labels") or {}
    usage = volume.get("UsageData") or {}
    return {"Name": str(volume.get("Name", "")), "Driver": str(volume.get("Driver", "")),
            "Scope": str(volume.get("Scope", "")), "Mountpoint": str(volume.get("Mountpoint", "")),
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
            "Links": str(usage.get("RefCount", "N/A")) if usage else "N/A",
            "Size": fmt.human_size(usage["Size"]) if usage.get("Size", -1) >= 0 else "N/A",
            "CreatedAt": str(volume.get("CreatedAt", ""))}


def ls(args: argparse.Namespace) -> int:
    reply = connect(args).volumes(filters=parse_filters(args.filter) or None)
    rows = sorted((ls_row(v) for v in reply.get("Volumes") or []), key=lambda r: r["Name"])
    template = "{{.Name}}" if args.quiet else (args.format or "table " + LS_TABLE)
    sys.stdout.write(fmt.format_rows(template, rows, LS_HEADERS, LS_TABLE))
    for warning in reply.get("Warnings") or []:
        print(f"WARNING: {warning}", file=sys.stderr)
    return 0


def inspect(args: argparse.Namespace) -> int:
    import docker.errors

    api = connect(args)
    found, status = [], 0
    for name in args.volumes:
        try:
            found.append(api.inspect_volume(name))
        except docker.errors.NotFound as exc:
            status = fail(str(exc.explanation or f"get {name}: no such volume"))
    if args.format and args.format != "json":
        template, _ = fmt.expand_format(args.format, "")
        for volume in found:
            print(fmt.render(template, volume))
    elif found or not status:
        print(json.dumps(found, indent=4, ensure_ascii=False))
    return status


def _each(names: list[str], action: Callable[[str], Any], force: bool) -> int:
    import docker.errors

    status = 0
    for name in names:
        try:
            action(name)
        except docker.errors.NotFound as exc:
            if not force:
                status = fail(str(exc.explanation or exc))
                continue
        except docker.errors.APIError as exc:
            status = fail(str(exc.explanation or exc))
            continue
        print(name)
    return status


def rm(args: argparse.Namespace) -> int:
    return _each(args.volumes, connect(args).remove_volume, args.force)


def prune(args: argparse.Namespace) -> int:
    filters = parse_filters(args.filter)
    if args.all:
        filters["all"] = ["true"]
    if not args.force and not confirm(PRUNE_ALL_WARNING if args.all else PRUNE_WARNING):
        return 0
    report = connect(args).prune_volumes(filters=filters or None)
    deleted = report.get("VolumesDeleted") or []
    if deleted:
        print("Deleted Volumes:")
        print("\n".join(deleted))
        print()
    print(f"Total reclaimed space: {fmt.human_size(report.get('SpaceReclaimed') or 0)}")
    return 0


# ---- flags ----------------------------------------------------------------------------------


def add_create(p: argparse.ArgumentParser) -> None:
    p.add_argument("volume", nargs="?", metavar="VOLUME")
    p.add_argument("-d", "--driver", default="local", help='specify volume driver name (default "local")')
    p.add_argument("--label", action="append", default=[], help="set metadata for a volume")
    p.add_argument("--name", help="specify volume name")
    p.add_argument("-o", "--opt", action="append", default=[], help="set driver specific options")
    p.set_defaults(func=create)


def add_ls(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--filter", action="append", default=[], help="provide filter values (e.g. 'dangling=true')")
    p.add_argument("--format", help="format output with a Go template, 'table', or 'json'")
    p.add_argument("-q", "--quiet", action="store_true", help="only display volume names")
    p.set_defaults(func=ls)


def add_inspect(p: argparse.ArgumentParser) -> None:
    p.add_argument("volumes", nargs="+", metavar="VOLUME")
    p.add_argument("-f", "--format", help="format output with a Go template or 'json'")
    p.set_defaults(func=inspect)


def add_rm(p: argparse.ArgumentParser) -> None:
    p.add_argument("volumes", nargs="+", metavar="VOLUME")
    p.add_argument("-f", "--force", action="store_true", help="force the removal of one or more volumes")
    p.set_defaults(func=rm)


def add_prune(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="remove all unused volumes, not just anonymous ones")
    p.add_argument("--filter", action="append", default=[], help="provide filter values (e.g. 'label=<label>')")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.set_defaults(func=prune)


VERBS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], str, tuple[str, ...]]] = {
    "create": (add_create, "Create a volume", ()),
    "inspect": (add_inspect, "Display detailed information on one or more volumes", ()),
    "ls": (add_ls, "List volumes", ("list",)),
    "prune": (add_prune, "Remove unused local volumes", ()),
    "rm": (add_rm, "Remove one or more volumes", ("remove",)),
}


def register(sub: Sub[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("volume", help="Manage volumes")
    group_sub = group.add_subparsers(dest="volume_command", metavar="COMMAND")
    for verb, (add, help_text, aliases) in VERBS.items():
        add(group_sub.add_parser(verb, help=help_text, aliases=list(aliases)))
    group.set_defaults(func=lambda _args: _usage(group))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
