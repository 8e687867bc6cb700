"""``dockyard pull|push|login|logout|search``: registry verbs over the daemon, as docker spells them.

Credentials come from ``~/.docker/config.json`` (:mod:`dockyard.distribution.credentials`) and
travel to the daemon in ``X-Registry-Auth``; ``login`` checks them through the daemon
(``POST /auth``) and only then stores them. The password is read from stdin
(``--password-stdin``) or a no-echo prompt, and is never printed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import IO, Any

from ..errors import InvalidArgument
from .client import connect, json_messages

Sub = argparse._SubParsersAction
_TRANSIENT = {"Downloading", "Pushing", "Extracting", "Waiting"}


# ---- progress ------------------------------------------------------------------------------


class ProgressView:
    """Draws a JSON-message stream as docker does: one line per id, redrawn in place on a TTY."""

    def __init__(self, out: IO[str], tty: bool | None = None) -> None:
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self.ids: list[str] = []
        self.last: dict[str, str] = {}

    def show(self, message: dict[str, Any]) -> None:
        if "stream" in message:  # plain text (a warning), printed as it is
            self.out.write(str(message["stream"]))
            self.ids.clear()
            return
        text = line(message)
        ident = message.get("id")
        if not ident:
            if text:
                self.out.write(text + "\n")
                self.ids.clear()  # docker starts a new block of lines after a plain one
            return
        if not self.tty:
            status = message.get("status", "")
            if status not in _TRANSIENT and self.last.get(ident) != status:
                self.out.write(text + "\n")
            self.last[ident] = status
            return
        self._redraw(ident, text)

    def _redraw(self, ident: str, text: str) -> None:
        if ident not in self.ids:
            self.ids.append(ident)
            self.out.write(text + "\n")
        else:
            up = len(self.ids) - self.ids.index(ident)
            self.out.write(f"\x1b[{up}A\r\x1b[2K{text}\r\x1b[{up}B")
        self.out.flush()


def line(message: dict[str, Any]) -> str:
    """``id: status progress`` — the text docker prints for one message."""
    parts = [f"{message['id']}: " if message.get("id") else "", message.get("status", "")]
    if message.get("progress"):
        parts.append(" " + message["progress"])
    return "".join(parts)


# ---- pull / push ---------------------------------------------------------------------------


def _auth_for(name: str) -> dict[str, str] | None:
    from ..distribution.credentials import lookup
    from ..distribution.endpoints import auth_key
    from ..oci.reference import parse

    auth = lookup(auth_key(parse(name).domain))
    return None if auth.empty else auth.to_json()


def add_pull(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME[:TAG|@DIGEST]")
    p.add_argument("-a", "--all-tags", action="store_true", help="download all tagged images in the repository")
    p.add_argument("--platform", help="set platform if server is multi-platform capable (os/arch[/variant])")
    p.add_argument("-q", "--quiet", action="store_true", help="suppress verbose output")
    p.set_defaults(func=pull)


def pull(args: argparse.Namespace) -> int:
    from ..oci.reference import parse

    ref = parse(args.name, default_tag=not args.all_tags)
    if args.all_tags and (ref.tag or ref.digest):
        raise InvalidArgument("tag can't be used with --all-tags/-a")
    if not args.all_tags and ":" not in args.name.rpartition("/")[2] and not ref.digest:
        print("Using default tag: latest")
    api = connect(args, timeout=None)
    tag = ref.digest or (None if args.all_tags else ref.tag)
    stream = api.pull(_repo_part(args.name), tag=tag, stream=True, decode=True, all_tags=args.all_tags,
                      platform=args.platform, auth_config=_auth_for(args.name))
    _render(stream, args.quiet)
    print(str(ref))
    return 0


def _repo_part(name: str) -> str:
    """The name without its tag or digest, spelled as typed (the daemon normalises it)."""
    name = name.partition("@")[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    return name[:colon] if colon > slash else name


def _render(stream: Any, quiet: bool) -> None:
    view = ProgressView(sys.stdout)
    for message in json_messages(stream):
        if not quiet and "aux" not in message:
            view.show(message)


def add_push(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME[:TAG]")
    p.add_argument("-a", "--all-tags", action="store_true", help="push all tags of the repository")
    p.add_argument("-q", "--quiet", action="store_true", help="suppress verbose output")
    p.set_defaults(func=push)


def push(args: argparse.Namespace) -> int:
    from ..oci.reference import parse

    ref = parse(args.name, default_tag=False)
    if args.all_tags and ref.tag:
        raise InvalidArgument("tag can't be used with --all-tags/-a")
    if not args.all_tags and ref.tag is None:
        print("Using default tag: latest")
        ref = ref.with_tag("latest")
    api = connect(args, timeout=None)
    stream = api.push(_repo_part(args.name), tag=ref.tag, stream=True, decode=True,
                      auth_config=_auth_for(args.name))
    _render(stream, args.quiet)
    if args.quiet:
        print(ref.familiar())
    return 0


# ---- login / logout ------------------------------------------------------------------------


def server_key(server: str | None) -> str:
    """The config.json key: Docker Hub's v1 URL, else the host[:port] given."""
    from ..distribution.endpoints import HUB_AUTH_KEY

    if not server:
        return HUB_AUTH_KEY
    host = server.split("://", 1)[-1].split("/", 1)[0]
    if host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return HUB_AUTH_KEY
    return host


def add_login(p: argparse.ArgumentParser) -> None:
    p.add_argument("server", nargs="?", metavar="SERVER")
    p.add_argument("-u", "--username", help="username")
    p.add_argument("-p", "--password", help="password (insecure: prefer --password-stdin)")
    p.add_argument("--password-stdin", action="store_true", help="take the password from stdin")
    p.set_defaults(func=login)


def login(args: argparse.Namespace) -> int:
    from ..distribution.credentials import AuthConfig, store

    password = _password(args)
    username = args.username or _prompt("Username: ")
    if not username:
        raise InvalidArgument("Error: Non-null Username Required")
    key = server_key(args.server)
    api = connect(args)
    api.login(username=username, password=password, registry=key, reauth=True)
    store(AuthConfig(username, password, key))
    print("Login Succeeded")
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password is not None and args.password_stdin:
        raise InvalidArgument("--password and --password-stdin are mutually exclusive")
    if args.password_stdin:
        if not args.username:
            raise InvalidArgument("Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    elif args.password is not None:
        print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.", file=sys.stderr)
        password = args.password
    else:
        password = getpass.getpass("Password: ") if sys.stdin.isatty() else ""
    if not password:
        raise InvalidArgument("Error: Password Required")
    return password


def _prompt(text: str) -> str:
    if not sys.stdin.isatty():
        return ""
    return input(text).strip()


def add_logout(p: argparse.ArgumentParser) -> None:
    p.add_argument("server", nargs="?", metavar="SERVER")
    p.set_defaults(func=logout)


def logout(args: argparse.Namespace) -> int:
    from ..distribution.credentials import erase

    key = server_key(args.server)
    if erase(key):
        print(f"Removing login credentials for {key}")
    else:
        print(f"Not logged in to {key}")
    return 0


def add_search(p: argparse.ArgumentParser) -> None:
    p.add_argument("term", metavar="TERM")
    p.add_argument("--limit", type=int, default=25, help="max number of search results (default 25)")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.set_defaults(func=search)


def search(args: argparse.Namespace) -> int:
    results = connect(args).search(args.term, limit=args.limit)
    rows = [("NAME", "DESCRIPTION", "STARS", "OFFICIAL")]
    for r in results:
        description = str(r.get("description") or "")
        if not args.no_trunc and len(description) > 45:
            description = description[:44] + "…"
        rows.append((str(r.get("name", "")), description, str(r.get("star_count", 0)),
                     "[OK]" if r.get("is_official") else ""))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


VERBS = {
    "pull": (add_pull, "Download an image from a registry"),
    "push": (add_push, "Upload an image to a registry"),
    "login": (add_login, "Log in to a registry"),
    "logout": (add_logout, "Log out from a registry"),
    "search": (add_search, "Search a registry for images"),
}


def register(sub: Sub[argparse.ArgumentParser]) -> None:
    for verb, (add, help_text) in VERBS.items():
        add(sub.add_parser(verb, help=help_text))
