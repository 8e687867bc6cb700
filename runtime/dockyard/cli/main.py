"""The ``dockyard`` command: docker-like verbs over the Engine API, plus ``daemon`` and ``registry``.

Each verb group lives in its own module exposing ``register(subparsers)``; every verb sets
``func(args) -> int``. Client verbs talk to the daemon through docker-py, never to the store.
Errors reach the user as one line on stderr (``dockyard: <message>``) and exit status 1;
usage errors exit 2 as argparse does.

The top-level parser knows each command only by the name and help ``COMMANDS`` declares: a verb
module (and what it imports) is loaded when argparse dispatches to one of its commands, so
``dockyard --help`` and ``dockyard version`` do not pay for ``run``'s or ``build``'s imports.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

# What `dockyard --help` lists, in order: (verb module under dockyard.cli, command, help).
# tests/unit/cli/test_cli_lazy_parser.py keeps it in step with the modules' register().
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("daemon", "daemon", "Run the dockyard daemon (the Docker Engine API server)"),
    ("images", "images", "List images"),
    ("images", "tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    ("images", "rmi", "Remove one or more images"),
    ("images", "save", "Save one or more images to a tar archive (streamed to STDOUT by default)"),
    ("images", "load", "Load an image from a tar archive or STDIN"),
    ("images", "import", "Import the contents from a tarball to create a filesystem image"),
    ("images", "history", "Show the history of an image"),
    ("images", "image", "Manage images"),
    ("running", "run", "Create and run a new container from an image"),
    ("running", "create", "Create a new container"),
    ("containers", "start", "Start one or more stopped containers"),
    ("containers", "stop", "Stop one or more running containers"),
    ("containers", "restart", "Restart one or more containers"),
    ("containers", "kill", "Kill one or more running containers"),
    ("containers", "rm", "Remove one or more containers"),
    ("containers", "logs", "Fetch the logs of a container"),
    ("containers", "exec", "Execute a command in a running container"),
    ("containers", "attach", "Attach local standard input, output, and error streams to a running container"),
    ("containers", "wait", "Block until one or more containers stop, then print their exit codes"),
    ("containers", "top", "Display the running processes of a container"),
    ("containers", "port", "List port mappings or a specific mapping for the container"),
    ("containers", "rename", "Rename a container"),
    ("containers", "pause", "Pause all processes within one or more containers"),
    ("containers", "unpause", "Unpause all processes within one or more containers"),
    ("containers", "stats", "Display a live stream of container(s) resource usage statistics"),
    ("containers", "cp", "Copy files/folders between a container and the local filesystem"),
    ("containers", "diff", "Inspect changes to files or directories on a container's filesystem"),
    ("containers", "commit", "Create a new image from a container's changes"),
    ("containers", "export", "Export a container's filesystem as a tar archive"),
    ("containers", "ps", "List containers"),
    ("containers", "inspect", "Return low-level information on Docker objects"),
    ("containers", "container", "Manage containers"),
    ("networks", "network", "Manage networks"),
    ("distribution", "pull", "Download an image from a registry"),
    ("distribution", "push", "Upload an image to a registry"),
    ("distribution", "login", "Log in to a registry"),
    ("distribution", "logout", "Log out from a registry"),
    ("distribution", "search", "Search a registry for images"),
    ("system", "version", "Show the dockyard version information"),
    ("system", "info", "Display system-wide information"),
    ("system", "system", "Manage dockyard"),
    ("registry", "registry", "run the bundled OCI registry"),
    ("build", "build", "Build an image from a Dockerfile"),
    ("build", "builder", "Manage builds"),
    ("volumes", "volume", "Manage volumes"),
)

# Verb-group modules, in the order `dockyard --help` lists their commands.
VERB_MODULES: tuple[str, ...] = tuple(dict.fromkeys(module for module, _, _ in COMMANDS))


if TYPE_CHECKING:
    _SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    _SubParsers = argparse._SubParsersAction


class _Unbuilt:
    """The parser of a command this run does not use: whatever ``register()`` calls on it does
    nothing and returns it (building all 48 of the container verbs' parsers costs ``run`` ~30 ms)."""

    def __getattr__(self, name: str) -> Callable[..., _Unbuilt]:
        if name.startswith("__"):  # functools.wraps and copy look for these: there are none
            raise AttributeError(name)
        return self._ignore

    def _ignore(self, *_args: Any, **_kwargs: Any) -> _Unbuilt:
        return self


class LazyCommands(_SubParsers):
    """Subcommands declared by name and help; a dispatch to one imports its module, whose
    ``register(self)`` then builds that command's parser in place of the placeholder (and only
    that one: the module's other commands get :class:`_Unbuilt` stand-ins)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.module_of: dict[str, str] = {}
        self.built: set[str] = set()
        self._loading = False
        self._only: str | None = None

    def declare(self, module: str, name: str, help_text: str) -> None:
        self.add_parser(name, help=help_text)
        self.module_of[name] = module

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if not self._loading:
            return super().add_parser(name, **kwargs)
        if self._only not in (None, name):
            return cast(argparse.ArgumentParser, _Unbuilt())
        # register() of a module being loaded: the listing already holds its help, replace the map
        kwargs.pop("help", None)
        aliases = kwargs.pop("aliases", ())
        kwargs.setdefault("prog", f"{self._prog_prefix} {name}")
        parser: argparse.ArgumentParser = self._parser_class(**kwargs)
        for key in (name, *aliases):
            self._name_parser_map[key] = parser
        self.built.add(name)
        return parser

    def load(self, module: str, only: str | None = None) -> None:
        """Import ``dockyard.cli.<module>`` and build its parsers: ``only``'s, or all of them."""
        self._loading, self._only = True, only
        try:
            importlib.import_module(f"dockyard.cli.{module}").register(self)
        finally:
            self._loading, self._only = False, None

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        name = values[0]
        if name in self.module_of and name not in self.built:
            self.load(self.module_of[name], only=name)
        super().__call__(parser, namespace, values, option_string)


def build_parser(load_all: bool = False) -> argparse.ArgumentParser:
    """The ``dockyard`` parser; ``load_all`` builds every verb's parser now rather than on use."""
    parser = argparse.ArgumentParser(
        prog="dockyard", description="Containers, images and registries, Docker-compatible."
    )
    parser.add_argument(
        "-H", "--host", help="daemon socket to connect to (default: $DOCKYARD_HOST, then the default socket)"
    )
    sub = cast(LazyCommands, parser.add_subparsers(dest="command", metavar="COMMAND", action=LazyCommands))
    for module, name, help_text in COMMANDS:
        sub.declare(module, name, help_text)
    if load_all:
        for module in VERB_MODULES:
            sub.load(module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    from .output import run_verb

    return run_verb(func, args)


if __name__ == "__main__":
    sys.exit(main())
