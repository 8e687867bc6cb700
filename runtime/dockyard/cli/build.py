"""``dockyard build`` and ``dockyard builder prune``: docker's flags, a readable step view.

The context is packed here as the docker CLI packs it: ``.dockerignore`` applied client-side,
owners reset to 0:0 (so the daemon's cache keys do not depend on who ran the build), the
Dockerfile and ``.dockerignore`` always sent. ``-`` reads a context tarball from stdin;
``-f -`` reads the Dockerfile from stdin and adds it to the context under a random name.
Secrets (``--secret id=…,src=…``) travel in the ``X-Dockyard-Secrets`` header, base64-encoded;
they are mounted for ``RUN --mount=type=secret`` only and never stored.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import secrets
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable
from typing import IO, Any

from ..errors import InvalidArgument
from .client import connect, json_messages

Sub = argparse._SubParsersAction


def register(sub: Sub[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("build", help="Build an image from a Dockerfile")
    p.add_argument("context", metavar="PATH | -")
    p.add_argument("-t", "--tag", action="append", default=[], help="name and optionally a tag")
    p.add_argument("-f", "--file", help="name of the Dockerfile (default: PATH/Dockerfile; - = stdin)")
    p.add_argument("--build-arg", action="append", default=[], help="set build-time variables")
    p.add_argument("--label", action="append", default=[], help="set metadata for an image")
    p.add_argument("--no-cache", action="store_true", help="do not use cache when building")
    p.add_argument("--pull", action="store_true", help="always attempt to pull base images")
    p.add_argument("--target", help="set the target build stage to build")
    p.add_argument("--network", default="default", help="networking mode for RUN (none, host)")
    p.add_argument("--cache-from", action="append", default=[], help="images to consider as cache sources")
    p.add_argument("--secret", action="append", default=[], help="secret to expose: id=mysecret,src=/local/secret")
    p.add_argument("--platform", help="set platform if server is multi-platform capable")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image ID")
    p.add_argument("--iidfile", help="write the image ID to the file")
    p.set_defaults(func=build)
    builder = sub.add_parser("builder", help="Manage builds")
    bsub = builder.add_subparsers(dest="builder_verb", required=True)
    prune = bsub.add_parser("prune", help="Remove build cache")
    prune.add_argument("-a", "--all", action="store_true", help="remove all unused build cache")
    prune.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    prune.add_argument("--filter", action="append", default=[],
                       help="provide filter values (e.g. 'until=24h')")
    prune.add_argument("--keep-storage", default="0", help="amount of disk space to keep for cache")
    prune.set_defaults(func=builder_prune)


# ---- the context ---------------------------------------------------------------------------


def _key_values(items: Iterable[str], from_env: bool) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in items:
        key, eq, value = item.partition("=")
        out[key] = value if eq else (os.environ.get(key) if from_env else "")
    return out


def _add(tar: tarfile.TarFile, root: str, rel: str) -> None:
    info = tar.gettarinfo(os.path.join(root, rel), arcname=rel)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if info.isfile():
        with open(os.path.join(root, rel), "rb") as f:
            tar.addfile(info, f)
    else:
        tar.addfile(info)


def pack_context(root: str, dockerfile: str | None, stdin_dockerfile: bytes | None) -> IO[bytes]:
    """The context tar (spooled to a temp file), ``.dockerignore`` applied as docker does."""
    from ..build.dockerignore import DockerIgnore

    if not os.path.isdir(root):
        raise InvalidArgument(f'unable to prepare context: path "{root}" not found')
    ignore = DockerIgnore.for_build(root, os.path.join(root, dockerfile) if dockerfile else None)
    always = {".dockerignore", os.path.normpath(dockerfile or "Dockerfile")}
    out = tempfile.TemporaryFile()  # noqa: SIM115 - returned open, closed by the caller
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        seen = set()
        for rel in ignore.walk(root):
            seen.add(rel)
            _add(tar, root, rel)
        for rel in sorted(always - seen):
            if os.path.isfile(os.path.join(root, rel)):
                _add(tar, root, rel)
        if stdin_dockerfile is not None:
            info = tarfile.TarInfo(dockerfile or "Dockerfile")
            info.size, info.mode, info.mtime = len(stdin_dockerfile), 0o600, int(time.time())
            tar.addfile(info, io.BytesIO(stdin_dockerfile))
    out.seek(0)
    return out


def _context(args: argparse.Namespace) -> tuple[IO[bytes], str]:
    if args.context == "-":
        if args.file == "-":
            raise InvalidArgument("invalid argument: can't use stdin for both build context and "
                                  "dockerfile")
        return sys.stdin.buffer, args.file or "Dockerfile"
    if args.file == "-":
        name = ".dockerfile." + secrets.token_hex(10)
        args.stdin_dockerfile = sys.stdin.buffer.read()
        return pack_context(args.context, name, args.stdin_dockerfile), name
    name = args.file
    if name and os.path.isabs(name):
        name = os.path.relpath(name, args.context)
    return pack_context(args.context, name, None), name or "Dockerfile"


def _secrets(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        fields = dict(f.partition("=")[::2] for f in item.split(","))
        ident = fields.get("id")
        src = fields.get("src") or fields.get("source")
        if not ident:
            raise InvalidArgument(f"invalid secret {item!r}: id is required")
        if src is None and fields.get("env"):
            value = os.environ.get(fields["env"], "").encode()
        else:
            with open(os.path.expanduser(src or ident), "rb") as f:
                value = f.read()
        out[ident] = base64.b64encode(value).decode()
    return out


# ---- build ---------------------------------------------------------------------------------


def build(args: argparse.Namespace) -> int:
    body, dockerfile = _context(args)
    params: dict[str, Any] = {
        "t": args.tag, "dockerfile": dockerfile, "q": args.quiet, "nocache": args.no_cache,
        "pull": args.pull, "target": args.target or None, "networkmode": args.network,
        "buildargs": json.dumps(_key_values(args.build_arg, True)),
        "labels": json.dumps(_key_values(args.label, False)), "rm": True,
        "cachefrom": json.dumps(args.cache_from) if args.cache_from else None,
        "platform": args.platform}
    headers = {"Content-Type": "application/x-tar"}
    if args.secret:
        headers["X-Dockyard-Secrets"] = json.dumps(_secrets(args.secret))
    api = connect(args, timeout=None)
    response = api._post(api._url("/build"), params=params, data=body, headers=headers,
                         stream=True)
    if response.status_code == 400:
        sys.stderr.write(parse_snippet(args, dockerfile))
    api._raise_for_status(response)
    view = StepView(sys.stdout, quiet=args.quiet)
    image_id = view.run(json_messages(api._stream_helper(response, decode=True)))
    if args.iidfile and image_id:
        with open(args.iidfile, "w") as f:
            f.write(image_id)
    return 0


def parse_snippet(args: argparse.Namespace, name: str) -> str:
    """Docker's framed excerpt (line, the offending text marked) for a Dockerfile the daemon
    refused as unparsable, when the file is here to quote; the daemon's message follows."""
    from ..build.dockerfile import parse
    from ..build.errors import DockerfileParseError

    if args.context == "-" or args.file == "-":
        text = getattr(args, "stdin_dockerfile", None)
    else:
        try:
            with open(os.path.join(args.context, name), "rb") as f:
                text = f.read()
        except OSError:
            return ""
    if text is None:  # a context tarball: the Dockerfile is inside it
        return ""
    try:
        parse(text)
    except DockerfileParseError as exc:
        shown = "Dockerfile" if args.file in (None, "", "-") else args.file
        return exc.with_source(text.decode("utf-8", "replace")).snippet(shown)
    return ""


class StepView:
    """Shows ``Step N/M`` as ``[N/M] INSTRUCTION``, cache hits as CACHED, RUN output and a
    base image's pull indented, and each step's time; ``-q`` prints only the image ID."""

    def __init__(self, out: IO[str], quiet: bool = False) -> None:
        self.out = out
        self.quiet = quiet
        self.started = time.monotonic()
        self.step_started = self.started
        self.step = ""
        self.image_id = ""
        self.partial = ""

    def run(self, messages: Iterable[dict[str, Any]]) -> str:
        for message in messages:
            if "aux" in message:
                self.image_id = message["aux"].get("ID", "")
            elif "stream" in message and not self.quiet:
                self.text(message["stream"])
            elif "status" in message and not self.quiet:
                self.pull(message)
        self._end_step()
        if self.quiet:
            self.out.write(self.image_id + "\n")
        return self.image_id

    def pull(self, message: dict[str, Any]) -> None:
        """A base image's pull, inside its FROM step: each layer's stages, no progress bars."""
        from .distribution import _TRANSIENT, line

        if message.get("status") not in _TRANSIENT:
            self.out.write(f"   | {line(message)}\n")
            self.out.flush()

    def text(self, chunk: str) -> None:
        data = self.partial + chunk
        lines = data.split("\n")
        self.partial = lines.pop()
        for line in lines:
            self.line(line)

    def line(self, line: str) -> None:
        if line.startswith("Step "):
            self._end_step()
            number, _, instruction = line[5:].partition(" : ")
            self.step = f"[{number}] {instruction}"
            self.step_started = time.monotonic()
            self.out.write(f"=> {self.step}\n")
        elif line == " ---> Using cache":
            self.out.write("   CACHED\n")
            self.step = ""
        elif line.startswith((" ---> ", "Removing intermediate container")):
            return
        elif line.startswith("Successfully built "):
            self._end_step()
            total = time.monotonic() - self.started
            self.out.write(f"=> built {line.split()[-1]} in {total:.2f}s\n")
        elif line.startswith("Successfully tagged "):
            self.out.write(f"=> tagged {line.split()[-1]}\n")
        else:
            self.out.write(f"   | {line}\n")
        self.out.flush()

    def _end_step(self) -> None:
        if self.partial:
            self.line(self.partial)
            self.partial = ""
        if self.step:
            self.out.write(f"   done in {time.monotonic() - self.step_started:.2f}s\n")
            self.step = ""


def builder_prune(args: argparse.Namespace) -> int:
    from .formatting import human_size
    from .images import parse_filters
    from .runopts import ram_bytes

    filters = parse_filters(args.filter)
    result = connect(args).prune_builds(filters=filters or None, all=args.all,
                                        keep_storage=ram_bytes(args.keep_storage) or None)
    deleted = result.get("CachesDeleted") or []
    if deleted:
        print("Deleted build cache objects:")
        for item in deleted:
            print(item)
        print()
    print(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed') or 0)}")
    return 0
