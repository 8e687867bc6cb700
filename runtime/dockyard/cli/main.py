"""The ``dockyard`` command: docker-like verbs over the Engine API, plus ``daemon`` and ``registry``.

Each verb group lives in its own module exposing ``register(subparsers)``; every verb sets
``func(args) -> int``. Client verbs talk to the daemon through docker-py, never to the store.
Errors reach the user as one line on stderr (``dockyard: <message>``) and exit status 1;
usage errors exit 2 as argparse does.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Verb-group modules under dockyard.cli, in the order `dockyard --help` lists them.
VERB_MODULES: tuple[str, ...] = ("daemon", "images", "containers", "networks", "distribution", "system",
                                 "registry", "build", "volumes")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockyard", description="Containers, images and registries, Docker-compatible."
    )
    parser.add_argument(
        "-H", "--host", help="daemon socket to connect to (default: $DOCKYARD_HOST, then the default socket)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in VERB_MODULES:
        importlib.import_module(f"dockyard.cli.{name}").register(sub)
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
