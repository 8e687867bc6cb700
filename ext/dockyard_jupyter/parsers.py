"""argparse parsers mirroring docker's own flags, one builder per verb.

Parsers raise :class:`CommandUsage` instead of exiting, so a magic reports bad input as one
line; ``--help`` prints docker-style help and stops the verb (``HelpShown``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

from dockyard.cli import runopts

from .errors import CommandUsage


class HelpShown(Exception):
    """``--help`` was given: help text is printed, nothing runs."""


class _HelpAction(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str, **kw: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show this help")

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kw: object) -> None:
        parser.print_help()
        raise HelpShown()


class Parser(argparse.ArgumentParser):
    """No ``-h`` (docker uses it for ``--hostname``), no sys.exit, errors as CommandUsage."""

    def __init__(self, prog: str, description: str = "") -> None:
        super().__init__(prog=f"%docker {prog}", description=description, add_help=False,
                         allow_abbrev=False)
        self.add_argument("--help", action=_HelpAction)

    def error(self, message: str) -> NoReturn:
        raise CommandUsage(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise CommandUsage(message or f"{self.prog}: exited")


def _many(p: Parser, *flags: str, dest: str | None = None, help: str = "") -> None:
    kw: dict[str, Any] = {"dest": dest} if dest else {}
    p.add_argument(*flags, action="append", default=[], help=help, **kw)


def run() -> Parser:
    """docker's ``run`` flags from dockyard's one table (:mod:`dockyard.cli.runopts`), plus the
    notebook's ``-d`` and ``--raise-error``; ``-i`` needs ``-d`` (a cell has no stdin)."""
    p = Parser("run", "Create and run a new container from an image (relative host paths in "
                      "-v and --env-file are taken from the notebook's directory)")
    p.add_argument("-d", "--detach", action="store_true", help="run in the background")
    runopts.add_container_flags(p)
    p.add_argument("--raise-error", action="store_true",
                   help="raise if the container exits non-zero (as %%%%script does)")
    p.add_argument("image")
    p.add_argument("command", nargs=argparse.REMAINDER)
    return p


def build() -> Parser:
    p = Parser("build", "Build an image from a Dockerfile")
    p.add_argument("-t", "--tag", action="append", default=[])
    p.add_argument("-f", "--file")
    _many(p, "--build-arg")
    _many(p, "--label")
    p.add_argument("--target")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--pull", action="store_true")
    p.add_argument("--platform")
    p.add_argument("--network")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--rm", action=argparse.BooleanOptionalAction, default=True)
    _force_rm(p)
    p.add_argument("path")
    return p


def dockerfile() -> Parser:
    p = Parser("dockerfile", "Build the cell, a Dockerfile, into an image")
    p.prog = "%%dockerfile"
    p.add_argument("-t", "--tag", action="append", default=[])
    p.add_argument("--context", default=None, help="build context directory (default: none)")
    _many(p, "--build-arg")
    _many(p, "--label")
    p.add_argument("--target")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--pull", action="store_true")
    p.add_argument("--platform")
    p.add_argument("-q", "--quiet", action="store_true")
    _force_rm(p)
    return p


def _force_rm(p: Parser) -> None:
    """A notebook keeps no litter: a failed step's container is removed unless asked not to."""
    p.add_argument("--force-rm", action=argparse.BooleanOptionalAction, default=True,
                   help="remove intermediate containers even after a failed step (default)")


def _image_transfer(verb: str, what: str) -> Parser:
    p = Parser(verb, what)
    p.add_argument("-a", "--all-tags", action="store_true")
    p.add_argument("--platform")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("name")
    return p


def pull() -> Parser:
    return _image_transfer("pull", "Download an image from a registry")


def push() -> Parser:
    return _image_transfer("push", "Upload an image to a registry")


def _listing(verb: str, what: str) -> Parser:
    p = Parser(verb, what)
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    _many(p, "-f", "--filter")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("--format")
    return p


def images() -> Parser:
    p = _listing("images", "List images")
    p.add_argument("repository", nargs="?")
    return p


def ps() -> Parser:
    p = _listing("ps", "List containers")
    p.add_argument("-n", "--last", type=int, default=-1)
    p.add_argument("-l", "--latest", action="store_true")
    p.add_argument("-s", "--size", action="store_true")
    return p


def logs() -> Parser:
    p = Parser("logs", "Fetch the logs of a container")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-t", "--timestamps", action="store_true")
    p.add_argument("-n", "--tail", default="all")
    p.add_argument("--since")
    p.add_argument("--until")
    p.add_argument("container")
    return p


def exec_() -> Parser:
    p = Parser("exec", "Execute a command in a running container")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("-t", "--tty", action="store_true")
    _many(p, "-e", "--env")
    p.add_argument("-u", "--user")
    p.add_argument("-w", "--workdir")
    p.add_argument("--privileged", action="store_true")
    p.add_argument("--raise-error", action="store_true")
    p.add_argument("container")
    p.add_argument("command", nargs=argparse.REMAINDER)
    return p


def _on_containers(verb: str, what: str, *, timeout: bool = False, signal: bool = False) -> Parser:
    p = Parser(verb, what)
    if timeout:
        p.add_argument("-t", "--time", "--timeout", dest="time", type=int)
    if signal:
        p.add_argument("-s", "--signal", default="SIGKILL" if verb == "kill" else None)
    p.add_argument("containers", nargs="+")
    return p


def stop() -> Parser:
    return _on_containers("stop", "Stop one or more running containers", timeout=True, signal=True)


def start() -> Parser:
    p = _on_containers("start", "Start one or more stopped containers")
    p.add_argument("-a", "--attach", action="store_true")
    return p


def restart() -> Parser:
    return _on_containers("restart", "Restart one or more containers", timeout=True, signal=True)


def kill() -> Parser:
    return _on_containers("kill", "Kill one or more running containers", signal=True)


def rm() -> Parser:
    p = _on_containers("rm", "Remove one or more containers")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("-v", "--volumes", action="store_true")
    return p


def rmi() -> Parser:
    p = Parser("rmi", "Remove one or more images")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--no-prune", action="store_true")
    p.add_argument("images", nargs="+")
    return p


def tag() -> Parser:
    p = Parser("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
    p.add_argument("source")
    p.add_argument("target")
    return p


def inspect() -> Parser:
    p = Parser("inspect", "Return low-level information on Docker objects")
    p.add_argument("--type", choices=["container", "image", "network", "volume"])
    p.add_argument("-f", "--format")
    p.add_argument("names", nargs="+")
    return p


def login() -> Parser:
    p = Parser("login", "Log in to a registry")
    p.add_argument("-u", "--username")
    p.add_argument("-p", "--password")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password without echo")
    p.add_argument("--password-from", metavar="NAME",
                   help="take the password from a Python variable or environment variable")
    p.add_argument("server", nargs="?")
    return p


def logout() -> Parser:
    p = Parser("logout", "Log out from a registry")
    p.add_argument("server", nargs="?")
    return p


def save() -> Parser:
    p = Parser("save", "Save one or more images to a tar archive")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("images", nargs="+")
    return p


def load() -> Parser:
    p = Parser("load", "Load an image from a tar archive")
    p.add_argument("-i", "--input", required=True)
    p.add_argument("-q", "--quiet", action="store_true")
    return p


def reproduce() -> Parser:
    p = Parser("reproduce", "Pull or rebuild exactly the images recorded in dockyard.lock.json "
                            "or in the notebook's metadata")
    p.add_argument("--build", action="store_true",
                   help="rebuild from the recorded Dockerfile even when a pushed digest exists")
    p.add_argument("--from", dest="from_notebook", metavar="NOTEBOOK",
                   help="read the record of this .ipynb (default: the kernel's own notebook)")
    p.add_argument("images", nargs="*", help="recorded names (default: all)")
    return p


def _object_group(group: str, *, driver: bool) -> Parser:
    p = Parser(group, f"Manage {group}s")
    sub = p.add_subparsers(dest="action", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    ls = sub.add_parser("ls", prog=f"{group} ls")
    ls.add_argument("-q", "--quiet", action="store_true")
    _many(ls, "-f", "--filter")
    create = sub.add_parser("create", prog=f"{group} create")
    if driver:
        create.add_argument("-d", "--driver")
    _many(create, "--label")
    _many(create, "-o", "--opt")
    create.add_argument("name", nargs="?" if group == "volume" else None)
    for action in ("rm", "inspect"):
        one = sub.add_parser(action, prog=f"{group} {action}")
        one.add_argument("names", nargs="+")
    prune = sub.add_parser("prune", prog=f"{group} prune")
    prune.add_argument("-f", "--force", action="store_true")
    return p


def network() -> Parser:
    p = _object_group("network", driver=True)
    return p


def volume() -> Parser:
    return _object_group("volume", driver=True)


def system() -> Parser:
    p = Parser("system", "Manage Docker")
    sub = p.add_subparsers(dest="action", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    df = sub.add_parser("df", prog="system df")
    df.add_argument("-v", "--verbose", action="store_true")
    prune = sub.add_parser("prune", prog="system prune")
    prune.add_argument("-a", "--all", action="store_true")
    prune.add_argument("-f", "--force", action="store_true")
    prune.add_argument("--volumes", action="store_true")
    sub.add_parser("info", prog="system info")
    return p


def _bare(verb: str, what: str) -> Callable[[], Parser]:
    def make() -> Parser:
        p = Parser(verb, what)
        p.add_argument("-f", "--format")
        return p
    return make


PARSERS: dict[str, Callable[[], Parser]] = {
    "run": run, "build": build, "pull": pull, "push": push, "images": images, "ps": ps,
    "logs": logs, "exec": exec_, "stop": stop, "start": start, "restart": restart, "kill": kill,
    "rm": rm, "rmi": rmi, "tag": tag, "inspect": inspect, "login": login, "logout": logout,
    "save": save, "load": load, "reproduce": reproduce, "network": network, "volume": volume, "system": system,
    "version": _bare("version", "Show the Docker version information"),
    "info": _bare("info", "Display system-wide information"),
}


def parse(verb: str, argv: list[str]) -> argparse.Namespace:
    make = PARSERS.get(verb)
    if make is None:
        raise CommandUsage(f"docker: '{verb}' is not a docker command (known: "
                           f"{', '.join(sorted(PARSERS))})")
    return make().parse_args(argv)
