"""``dockyard registry serve|gc``: run the bundled OCI registry, or collect its garbage."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument

_SERVE_FLAGS: list[tuple[str, dict[str, Any]]] = [
    ("--root", {"type": Path, "help": "storage directory (default: <data root>/registry)"}),
    ("--addr", {"help": "HOST:PORT to listen on (default 127.0.0.1:5000; port 0 picks one)"}),
    ("--tls-cert", {"type": Path, "help": "PEM certificate: serve HTTPS"}),
    ("--tls-key", {"type": Path, "help": "PEM private key of --tls-cert"}),
    ("--htpasswd", {"type": Path, "help": "htpasswd file with bcrypt entries (Basic auth)"}),
    ("--token-auth", {"action": "store_const", "const": True,
                      "help": "Docker token auth with the bundled /token endpoint"}),
    ("--token-realm", {"help": "token realm URL to advertise (implies --token-auth)"}),
    ("--token-key", {"type": Path, "help": "PEM EC P-256 (ES256) or RSA (RS256) key signing tokens (implies --token-auth); "
                     "a public key only verifies (external token server); default: a fresh key"}),
    ("--token-service", {"help": "service name in tokens (default dockyard-registry)"}),
    ("--token-issuer", {"help": "issuer in tokens (default dockyard-registry)"}),
    ("--token-expiry", {"type": int, "help": "token lifetime in seconds (default 300)"}),
    ("--public", {"action": "append", "metavar": "PATTERN",
                  "help": "repositories (glob) anyone may pull; repeatable"}),
    ("--acl", {"action": "append", "metavar": "ACCOUNT:REPOSITORY:ACTIONS",
               "help": "grant actions (pull,push,delete or *) to matching accounts; repeatable"}),
    ("--max-blob-size", {"metavar": "SIZE", "help": "refuse blobs larger than this (bytes, or 512m, 2g …; default: no limit)"}),
    ("--read-only", {"action": "store_const", "const": True, "help": "refuse every write"}),
]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("registry", help="run the bundled OCI registry")
    verbs = parser.add_subparsers(dest="registry_command", metavar="COMMAND", required=True)
    serve = verbs.add_parser("serve", help="serve the OCI Distribution API")
    serve.add_argument("--config", type=Path, help="YAML (or .toml) file with the same settings as the flags")
    for flag, options in _SERVE_FLAGS:
        serve.add_argument(flag, **options)
    serve.set_defaults(func=run_serve)
    gc = verbs.add_parser("gc", help="remove blobs no manifest references")
    gc.add_argument("--root", type=Path, help="storage directory (default: <data root>/registry)")
    gc.add_argument("--config", type=Path, help="YAML file giving root")
    gc.add_argument("--dry-run", action="store_true", help="only report what would be removed")
    gc.add_argument("-m", "--delete-untagged", action="store_true",
                    help="also delete manifests no tag reaches (and then their blobs)")
    gc.add_argument("--grace", type=float, default=3600.0,
                    help="keep unreferenced blobs younger than this many seconds (default 3600)")
    gc.set_defaults(func=run_gc)


def _config(args: argparse.Namespace, names: list[str]) -> Any:
    from ..registry import config

    values = config.load_file(args.config) if args.config else {}
    for name in names:
        if getattr(args, name, None) is not None:
            values[name] = getattr(args, name)
    return config.build(values)


def run_serve(args: argparse.Namespace) -> int:
    from ..registry.app import serve

    names = [flag.lstrip("-").replace("-", "_") for flag, _ in _SERVE_FLAGS]
    serve(_config(args, names))
    return 0


def run_gc(args: argparse.Namespace) -> int:
    from ..registry.gc import collect
    from ..registry.storage import Storage

    config = _config(args, ["root"])
    if not config.root.is_dir():
        raise InvalidArgument(f"registry root {config.root} does not exist")
    result = collect(Storage(config.root), grace=args.grace, dry_run=args.dry_run,
                     delete_untagged=args.delete_untagged)
    verb = "would remove" if args.dry_run else "removed"
    for manifest in result.untagged:
        print(f"{verb} manifest {manifest}")
    for digest in result.removed:
        print(f"{verb} {digest}")
    summary = "would be removed" if args.dry_run else "removed"
    print(f"{len(result.untagged)} untagged manifest(s) and {len(result.removed)} blob(s) {summary}, {result.freed_bytes} bytes; {result.marked} marked; "
          f"{result.kept_recent} recent kept; {result.stale_uploads} stale upload(s)")
    return 0
