"""``dockyard daemon``: run the Engine API server, with dockerd's flag names."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import DaemonConfig, default_data_root, default_host


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("daemon", help="Run the dockyard daemon (the Docker Engine API server)")
    parser.add_argument("-H", "--host", dest="hosts", action="append", metavar="HOST",
                        help=f"daemon socket(s) to listen on, repeatable (default {default_host()})")
    parser.add_argument("--data-root", type=Path, default=None,
                        help=f"root directory of persistent state (default {default_data_root()})")
    parser.add_argument("-p", "--pidfile", type=Path, default=None, help="path to write the daemon's pid")
    parser.add_argument("-l", "--log-level", default="info",
                        choices=["debug", "info", "warn", "warning", "error", "fatal"], help="logging level")
    parser.add_argument("--insecure-registry", dest="insecure_registries", action="append", default=[],
                        metavar="REGISTRY", help="registry (host:port or CIDR) reachable over plain HTTP, repeatable")
    parser.add_argument("--registry-mirror", dest="registry_mirrors", action="append", default=[],
                        metavar="URL", help="preferred Docker Hub mirror, repeatable")
    parser.add_argument("-b", "--bridge", default=None, metavar="NAME",
                        help="Linux bridge of the default bridge network (default dockyard0)")
    parser.add_argument("--bip", default=None, metavar="CIDR",
                        help="the default bridge's address and subnet, e.g. 172.30.0.1/16")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..daemon import run_daemon

    config = DaemonConfig(log_level=args.log_level, pidfile=args.pidfile,
                          insecure_registries=list(args.insecure_registries),
                          registry_mirrors=list(args.registry_mirrors), bridge=args.bridge, bip=args.bip)
    if args.data_root is not None:
        config.data_root = args.data_root.resolve()
    if args.hosts:
        config.hosts = list(args.hosts)
    run_daemon(config)
    return 0
