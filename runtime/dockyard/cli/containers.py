"""Container verbs, as docker spells them: ``run``, ``create``, ``start``, ``stop``, ``kill``,
``restart``, ``rm``, ``ps``, ``logs``, ``exec``, ``attach``, ``wait``, ``top``, ``port``,
``rename``, ``pause``, ``unpause``, ``stats``, ``cp``, ``diff``, ``commit``, ``export``, the
``container`` group (the same plus ``ls``, ``inspect``, ``prune``), the top-level ``inspect``
(any object, container first, as docker looks them up) and ``system prune``.

Streaming verbs live in :mod:`.running`, tar transfers in :mod:`.copy`, output wording in
:mod:`.ctformat`. A verb whose endpoint the daemon does not serve fails with one line naming it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from . import copy as cpmod
from . import ctformat, running
from . import formatting as fmt
from .client import DaemonError, connect
from .images import confirm, parse_filters
from .output import fail
from .running import endpoint_guard

Sub = argparse._SubParsersAction
Verb = Callable[[argparse.Namespace], int]


# ---- ps -------------------------------------------------------------------------------------


def ps(args: argparse.Namespace) -> int:
    limit = 1 if args.latest else args.last
    shown = args.format or ""
    size = args.size or ".Size" in shown or "json" in shown  # docker asks for sizes a format shows
    containers = connect(args).containers(all=args.all or limit != -1, limit=limit, size=size,
                                          filters=parse_filters(args.filter) or None)
    rows = [ctformat.ps_row(c, args.no_trunc) for c in containers]
    if args.quiet:
        template = "{{.ID}}"
    else:
        table = ctformat.PS_TABLE + ("\t{{.Size}}" if args.size else "")
        template = args.format or "table " + table
    sys.stdout.write(fmt.format_rows(template, rows, ctformat.PS_HEADERS, ctformat.PS_TABLE))
    return 0


# ---- simple lifecycle verbs -----------------------------------------------------------------


def stop(args: argparse.Namespace) -> int:
    api = connect(args, timeout=None)
    params = {k: v for k, v in {"t": args.time, "signal": args.signal}.items() if v is not None}

    def one(name: str) -> None:
        api._raise_for_status(api._post(api._url("/containers/{0}/stop", name), params=params))
    return running.each(args.containers, one)


def restart(args: argparse.Namespace) -> int:
    api = connect(args, timeout=None)
    params = {k: v for k, v in {"t": args.time, "signal": args.signal}.items() if v is not None}

    def one(name: str) -> None:
        api._raise_for_status(api._post(api._url("/containers/{0}/restart", name), params=params))
    return running.each(args.containers, one)


def kill(args: argparse.Namespace) -> int:
    api = connect(args)
    return running.each(args.containers, lambda n: api.kill(n, args.signal))


def rm(args: argparse.Namespace) -> int:
    api = connect(args, timeout=None)
    return running.each(args.containers,
                        lambda n: api.remove_container(n, v=args.volumes, force=args.force, link=args.link))


def pause(args: argparse.Namespace) -> int:
    return running.each(args.containers, connect(args).pause)


def unpause(args: argparse.Namespace) -> int:
    return running.each(args.containers, connect(args).unpause)


def rename(args: argparse.Namespace) -> int:
    connect(args).rename(args.container, args.new_name)
    return 0


def wait(args: argparse.Namespace) -> int:
    import docker.errors

    api = connect(args, timeout=None)
    status = 0
    for name in args.containers:
        try:
            print(api.wait(name).get("StatusCode", 0))
        except docker.errors.APIError as exc:
            status = fail(str(exc.explanation or exc))
    return status


# ---- information ----------------------------------------------------------------------------


def top(args: argparse.Namespace) -> int:
    result = connect(args).top(args.container, ps_args=" ".join(args.ps_args) or None)
    lines = ["\t".join(result.get("Titles") or [])]
    lines += ["\t".join(row) for row in result.get("Processes") or []]
    sys.stdout.write(fmt.tabwrite(lines, minwidth=20, padding=1))
    return 0


def port_lines(ports: dict[str, Any] | None, wanted: str | None) -> list[str]:
    """``80/tcp -> 0.0.0.0:8080`` lines for a container's NetworkSettings.Ports."""
    if wanted and "/" not in wanted:
        wanted += "/tcp"
    lines = []
    for key, bindings in sorted((ports or {}).items(), key=_port_key):
        if wanted and key != wanted:
            continue
        for binding in bindings or []:
            ip = binding.get("HostIp") or "0.0.0.0"
            host = f"[{ip}]" if ":" in ip else ip
            lines.append(f"{host}:{binding.get('HostPort')}" if wanted else
                         f"{key} -> {host}:{binding.get('HostPort')}")
    return lines


def _port_key(item: tuple[str, Any]) -> tuple[int, str]:
    """``80/tcp`` before ``7000/tcp``: numeric, then by protocol, as docker port orders them."""
    number, _, proto = item[0].partition("/")
    return (int(number) if number.isdigit() else 0, proto)


def port(args: argparse.Namespace) -> int:
    info = connect(args).inspect_container(args.container)
    lines = port_lines((info.get("NetworkSettings") or {}).get("Ports"), args.port)
    if args.port and not lines:
        return fail(f"No public port '{args.port if '/' in args.port else args.port + '/tcp'}' "
                    f"published for {args.container}")
    for line in lines:
        print(line)
    return 0


def diff(args: argparse.Namespace) -> int:
    kinds = {0: "C", 1: "A", 2: "D"}
    for change in connect(args).diff(args.container) or []:
        print(f"{kinds.get(change.get('Kind'), '?')} {change.get('Path')}")
    return 0


def commit(args: argparse.Namespace) -> int:
    from .images import split_tag

    repo, tag = split_tag(args.repository) if args.repository else (None, None)
    result = connect(args, timeout=None).commit(
        args.container, repository=repo, tag=tag or None, message=args.message or None,
        author=args.author or None, pause=args.pause, changes=args.change or None)
    print(result.get("Id", ""))
    return 0


def stats(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor  # here only: the other verbs start faster

    api = connect(args, timeout=None)
    names = args.containers or [c["Id"] for c in api.containers(all=args.all)]
    template = args.format or "table " + ctformat.STATS_TABLE
    while True:
        with ThreadPoolExecutor(max(1, min(len(names), 16))) as pool:
            samples = list(pool.map(lambda n: api.stats(n, stream=False), names))
        rows = [ctformat.stats_row(s, str(s.get("name", "")), args.no_trunc) for s in samples]
        text = fmt.format_rows(template, rows, ctformat.STATS_HEADERS, ctformat.STATS_TABLE)
        if args.no_stream:
            sys.stdout.write(text)
            return 0
        sys.stdout.write("\033[2J\033[H" + text)
        sys.stdout.flush()
        time.sleep(0.5)


# ---- inspect (every object kind) ------------------------------------------------------------

KINDS = ("container", "image", "network", "volume")


def _inspector(api: Any, kind: str, size: bool) -> Callable[[str], Any]:
    methods: dict[str, Callable[[str], Any]] = {"container": lambda n: _inspect_container(api, n, size), "image": api.inspect_image,
            "network": api.inspect_network, "volume": api.inspect_volume}
    return methods[kind]


def _inspect_container(api: Any, name: str, size: bool) -> Any:
    return api._result(api._get(api._url("/containers/{0}/json", name), params={"size": int(size)}), True)


def lookup(api: Any, name: str, kind: str | None, size: bool = False) -> Any:
    """The object called ``name``: the first kind that has it, in docker's order."""
    import docker.errors

    for each_kind in (kind,) if kind else KINDS:
        try:
            return _inspector(api, each_kind, size)(name)
        except docker.errors.NotFound:
            continue
    raise DaemonError(f"No such {kind}: {name}" if kind else f"No such object: {name}")


def inspect(args: argparse.Namespace) -> int:
    api = connect(args)
    found, errors = [], []
    for name in args.names:
        try:
            found.append(lookup(api, name, args.type, args.size))
        except DaemonError as exc:
            errors.append(str(exc))
    if args.format and args.format != "json":
        template, _ = fmt.expand_format(args.format, "")
        for item in found:
            print(fmt.render(template, item))
    else:
        print(json.dumps(found, indent=4, ensure_ascii=False))
    for message in errors:
        fail(message)
    return 1 if errors else 0


# ---- prune ----------------------------------------------------------------------------------


def prune(args: argparse.Namespace) -> int:
    if not args.force and not confirm("WARNING! This will remove all stopped containers."):
        return 0
    report = connect(args, timeout=None).prune_containers(filters=parse_filters(args.filter) or None)
    _print_deleted("Deleted Containers:", report.get("ContainersDeleted"))
    print(f"Total reclaimed space: {fmt.human_size(report.get('SpaceReclaimed', 0), 4)}")
    return 0


def _print_deleted(title: str, items: list[Any] | None) -> None:
    if items:
        print(title)
        for item in items:
            if isinstance(item, dict):
                for key, value in item.items():
                    print(f"{key.lower()}: {value}")
            else:
                print(item)
        print()


def system_prune_warning(all_images: bool, volumes: bool) -> str:
    items = ["all stopped containers", "all networks not used by at least one container"]
    if volumes:
        items.append("all anonymous volumes not used by at least one container")
    items.append("all images without at least one container associated to them" if all_images
                 else "all dangling images")
    items.append("all build cache" if all_images else "unused build cache")
    return "WARNING! This will remove:\n" + "".join(f"  - {i}\n" for i in items)


def system_prune(args: argparse.Namespace) -> int:
    if not args.force and not confirm(system_prune_warning(args.all, args.volumes).rstrip("\n")):
        return 0
    api = connect(args, timeout=None)
    filters = parse_filters(args.filter)
    reclaimed = 0
    report = api.prune_containers(filters=filters or None)
    _print_deleted("Deleted Containers:", report.get("ContainersDeleted"))
    reclaimed += int(report.get("SpaceReclaimed") or 0)
    _print_deleted("Deleted Networks:", api.prune_networks(filters=filters or None).get("NetworksDeleted"))
    if args.volumes:
        report = api.prune_volumes(filters=filters or None)
        _print_deleted("Deleted Volumes:", report.get("VolumesDeleted"))
        reclaimed += int(report.get("SpaceReclaimed") or 0)
    report = api.prune_images(filters={**filters, "dangling": ["false" if args.all else "true"]})
    _print_deleted("Deleted Images:", report.get("ImagesDeleted"))
    reclaimed += int(report.get("SpaceReclaimed") or 0)
    report = api.prune_builds(all=args.all or None) or {}
    _print_deleted("Deleted build cache objects:", report.get("CachesDeleted"))
    reclaimed += int(report.get("SpaceReclaimed") or 0)
    print(f"Total reclaimed space: {fmt.human_size(reclaimed, 4)}")
    return 0


# ---- flags ----------------------------------------------------------------------------------


def _containers(p: argparse.ArgumentParser, func: Verb) -> argparse.ArgumentParser:
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.set_defaults(func=endpoint_guard(func))
    return p


def _one(p: argparse.ArgumentParser, func: Verb) -> argparse.ArgumentParser:
    p.add_argument("container", metavar="CONTAINER")
    p.set_defaults(func=endpoint_guard(func))
    return p


def add_start(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--attach", action="store_true", help="attach STDOUT/STDERR and forward signals")
    p.add_argument("-i", "--interactive", action="store_true", help="attach container's STDIN")
    _containers(p, running.start)


def add_stop(p: argparse.ArgumentParser, func: Verb = stop) -> None:
    p.add_argument("-t", "--time", "--timeout", type=int, help="seconds to wait before killing the container")
    p.add_argument("-s", "--signal", help="signal to send to the container")
    _containers(p, func)


def add_kill(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--signal", default="KILL", help='signal to send to the container (default "KILL")')
    _containers(p, kill)


def add_rm(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="force the removal of a running container (uses SIGKILL)")
    p.add_argument("-v", "--volumes", action="store_true", help="remove anonymous volumes associated with the container")
    p.add_argument("-l", "--link", action="store_true", help="remove the specified link")
    _containers(p, rm)


def add_ps(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="show all containers (default shows just running)")
    p.add_argument("-f", "--filter", action="append", default=[], help="filter output based on conditions provided")
    p.add_argument("--format", help="format output with a Go template, 'table', or 'json'")
    p.add_argument("-n", "--last", type=int, default=-1, help="show n last created containers (includes all states)")
    p.add_argument("-l", "--latest", action="store_true", help="show the latest created container (includes all states)")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="only display container IDs")
    p.add_argument("-s", "--size", action="store_true", help="display total file sizes")
    p.set_defaults(func=endpoint_guard(ps))


def add_logs(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--follow", action="store_true", help="follow log output")
    p.add_argument("--since", help="show logs since timestamp or relative (e.g. 42m)")
    p.add_argument("--until", help="show logs before a timestamp or relative (e.g. 42m)")
    p.add_argument("-n", "--tail", default="all", help='number of lines to show from the end (default "all")')
    p.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
    _one(p, running.logs)


def add_exec(p: argparse.ArgumentParser) -> None:
    p.add_argument("-d", "--detach", action="store_true", help="detached mode: run command in the background")
    p.add_argument("-e", "--env", action="append", default=[], help="set environment variables")
    p.add_argument("-i", "--interactive", action="store_true", help="keep STDIN open even if not attached")
    p.add_argument("--privileged", action="store_true", help="give extended privileges to the command")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    p.add_argument("-u", "--user", help="username or UID (format: <name|uid>[:<group|gid>])")
    p.add_argument("-w", "--workdir", help="working directory inside the container")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]")
    p.set_defaults(func=endpoint_guard(running.exec_))


def add_attach(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-stdin", action="store_true", help="do not attach STDIN")
    p.add_argument("--sig-proxy", type=lambda s: s.lower() in {"1", "true", "t"}, default=True,
                   help="proxy all received signals to the process (default true)")
    _one(p, running.attach)


def add_inspect(p: argparse.ArgumentParser, kind: str | None = None) -> None:
    p.add_argument("names", nargs="+", metavar="NAME|ID")
    p.add_argument("-f", "--format", help="format output with a Go template or 'json'")
    p.add_argument("-s", "--size", action="store_true", help="display total file sizes if the type is container")
    if kind is None:
        p.add_argument("--type", choices=KINDS, help="return JSON for specified type")
    p.set_defaults(func=endpoint_guard(inspect), type=kind)


def add_top(p: argparse.ArgumentParser) -> None:
    _one(p, top)
    p.add_argument("ps_args", nargs=argparse.REMAINDER, metavar="[ps OPTIONS]")


def add_port(p: argparse.ArgumentParser) -> None:
    _one(p, port)
    p.add_argument("port", nargs="?", metavar="PRIVATE_PORT[/PROTO]")


def add_rename(p: argparse.ArgumentParser) -> None:
    _one(p, rename)
    p.add_argument("new_name", metavar="NEW_NAME")


def add_stats(p: argparse.ArgumentParser) -> None:
    p.add_argument("containers", nargs="*", metavar="CONTAINER")
    p.add_argument("-a", "--all", action="store_true", help="show all containers (default shows just running)")
    p.add_argument("--format", help="format output with a Go template, 'table', or 'json'")
    p.add_argument("--no-stream", action="store_true", help="disable streaming stats and only pull the first result")
    p.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    p.set_defaults(func=endpoint_guard(stats))


def add_commit(p: argparse.ArgumentParser) -> None:
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]")
    p.add_argument("-a", "--author", help='author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    p.add_argument("-c", "--change", action="append", default=[], help="apply Dockerfile instruction to the created image")
    p.add_argument("-m", "--message", help="commit message")
    p.add_argument("-p", "--pause", type=lambda s: s.lower() in {"1", "true", "t"}, nargs="?", const=True,
                   default=True, help="pause container during commit (default true)")
    p.set_defaults(func=endpoint_guard(commit))


def add_prune(p: argparse.ArgumentParser) -> None:
    p.add_argument("--filter", action="append", default=[], help="provide filter values (e.g. 'until=<timestamp>')")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.set_defaults(func=endpoint_guard(prune))


def _guarded(add: Callable[[argparse.ArgumentParser], None]) -> Callable[[argparse.ArgumentParser], None]:
    def wrapped(p: argparse.ArgumentParser) -> None:
        add(p)
        p.set_defaults(func=endpoint_guard(p.get_default("func")))
    return wrapped


# name -> (add flags, help, aliases, also top-level)
VERBS: dict[str, tuple[Callable[[argparse.ArgumentParser], object], str, tuple[str, ...], bool]] = {
    "run": (running.add_run, running.RUN_HELP, (), False),  # top-level run and create: running.register
    "create": (running.add_create, running.CREATE_HELP, (), False),
    "start": (add_start, "Start one or more stopped containers", (), True),
    "stop": (add_stop, "Stop one or more running containers", (), True),
    "restart": (lambda p: add_stop(p, restart), "Restart one or more containers", (), True),
    "kill": (add_kill, "Kill one or more running containers", (), True),
    "rm": (add_rm, "Remove one or more containers", ("remove",), True),
    "ls": (add_ps, "List containers", ("list", "ps"), False),
    "logs": (add_logs, "Fetch the logs of a container", (), True),
    "exec": (add_exec, "Execute a command in a running container", (), True),
    "attach": (add_attach, "Attach local standard input, output, and error streams to a running container", (), True),
    "wait": (lambda p: _containers(p, wait), "Block until one or more containers stop, then print their exit codes", (), True),
    "inspect": (lambda p: add_inspect(p, "container"), "Display detailed information on one or more containers", (), False),
    "top": (add_top, "Display the running processes of a container", (), True),
    "port": (add_port, "List port mappings or a specific mapping for the container", (), True),
    "rename": (add_rename, "Rename a container", (), True),
    "pause": (lambda p: _containers(p, pause), "Pause all processes within one or more containers", (), True),
    "unpause": (lambda p: _containers(p, unpause), "Unpause all processes within one or more containers", (), True),
    "stats": (add_stats, "Display a live stream of container(s) resource usage statistics", (), True),
    "cp": (_guarded(cpmod.add_cp), "Copy files/folders between a container and the local filesystem", (), True),
    "diff": (lambda p: _one(p, diff), "Inspect changes to files or directories on a container's filesystem", (), True),
    "commit": (add_commit, "Create a new image from a container's changes", (), True),
    "export": (_guarded(cpmod.add_export), "Export a container's filesystem as a tar archive", (), True),
    "prune": (add_prune, "Remove all stopped containers", (), False),
}


def register(sub: Sub[argparse.ArgumentParser]) -> None:
    for verb, (add, help_text, _aliases, top_level) in VERBS.items():
        if top_level:
            add(_parser(sub, verb, help_text, ()))
    add_ps(_parser(sub, "ps", "List containers", ()))
    add_inspect(_parser(sub, "inspect", "Return low-level information on Docker objects", ()))
    group = sub.add_parser("container", help="Manage containers")
    group_sub = group.add_subparsers(dest="container_command", metavar="COMMAND")
    for verb, (add, help_text, aliases, _top) in VERBS.items():
        add(_parser(group_sub, verb, help_text, aliases))
    group.set_defaults(func=lambda _args: _usage(group))


def _parser(sub: Sub[argparse.ArgumentParser], verb: str, help_text: str,
            aliases: tuple[str, ...]) -> argparse.ArgumentParser:
    add_help = verb not in {"run", "create"}  # their -h is --hostname, as in docker
    return sub.add_parser(verb, help=help_text, aliases=list(aliases), add_help=add_help,
                          description=help_text)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
