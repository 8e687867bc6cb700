"""Image verbs, as docker spells them: ``images``, ``inspect``, ``tag``, ``rmi``, ``save``,
``load``, ``import``, ``history`` and the ``image`` group (``ls``, ``inspect``, ``rm``,
``prune``, ``tag``, ``save``, ``load``, ``import``, ``history``).

Each verb parses its flags, makes one or two docker-py calls, and prints docker's output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import InvalidArgument
from . import formatting as fmt
from .client import connect, json_messages
from .output import fail

Sub = argparse._SubParsersAction
Verb = Callable[[argparse.ArgumentParser], None]

IMAGES_TABLE = "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGES_TABLE_DIGESTS = "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGES_HEADERS = {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "Digest": "DIGEST",
                  "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
                  "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE",
                  "UniqueSize": "UNIQUE SIZE", "VirtualSize": "SIZE"}
HISTORY_TABLE = "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                   "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}


# ---- images / image ls ------------------------------------------------------------------------


def add_ls(p: argparse.ArgumentParser) -> None:
    p.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    p.add_argument("-a", "--all", action="store_true", help="show all images (default hides intermediate images)")
    p.add_argument("--digests", action="store_true", help="show digests")
    p.add_argument("-f", "--filter", action="append", default=[], help="filter output (e.g. dangling=true)")
    p.add_argument("--format", help="format output with a Go template, 'table', or 'json'")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
    p.set_defaults(func=ls)


def parse_filters(values: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"bad format of filter (expected name=value): {item}")
        filters.setdefault(key.strip().lower(), []).append(value)
    return filters


def ls(args: argparse.Namespace) -> int:
    filters = parse_filters(args.filter)
    if args.reference:
        filters.setdefault("reference", []).append(args.reference)
    images = connect(args).images(all=args.all, filters=filters or None)
    rows = [row for image in images for row in image_rows(image, args.digests, args.no_trunc)]
    if args.quiet:
        template = "{{.ID}}"
    else:
        template = args.format or ("table " + (IMAGES_TABLE_DIGESTS if args.digests else IMAGES_TABLE))
    sys.stdout.write(fmt.format_rows(template, rows, IMAGES_HEADERS, IMAGES_TABLE))
    return 0


def split_tag(ref: str) -> tuple[str, str]:
    name, sep, tag = ref.rpartition(":")
    if sep and "/" not in tag:
        return name, tag
    return ref, ""


def image_rows(image: dict[str, Any], digests: bool, no_trunc: bool) -> list[dict[str, str]]:
    """docker's rows for one image: one per repository:tag, or one ``<none>`` row."""
    tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
    by_repo: dict[str, list[str]] = {}
    for ref in image.get("RepoDigests") or []:
        repo, _, digest = ref.partition("@")
        if digest and repo != "<none>":
            by_repo.setdefault(repo, []).append(digest)
    pairs: list[tuple[str, str, str]] = []
    for repo, tag in sorted(split_tag(t) for t in tags):
        repo_digests = by_repo.get(repo, []) if digests else []
        pairs.extend((repo, tag, d) for d in repo_digests or ["<none>"])
    tagged = {split_tag(t)[0] for t in tags}
    for repo, repo_digests in sorted(by_repo.items()):
        if repo not in tagged:
            pairs.extend((repo, "<none>", d) for d in (repo_digests if digests else ["<none>"]))
    if not pairs:
        pairs = [("<none>", "<none>", "<none>")]
    return [image_context(image, repo, tag, digest, no_trunc) for repo, tag, digest in pairs]


def image_context(image: dict[str, Any], repo: str, tag: str, digest: str, no_trunc: bool) -> dict[str, str]:
    size = fmt.human_size(image.get("Size", 0))
    created = image.get("Created", 0)
    return {
        "Containers": _na(image.get("Containers", -1)), "CreatedAt": fmt.go_time(created),
        "CreatedSince": fmt.since(created), "Digest": digest,
        "ID": image["Id"] if no_trunc else fmt.short_id(image["Id"]), "Repository": repo,
        "SharedSize": _na_size(image.get("SharedSize", -1)), "Size": size, "Tag": tag,
        "UniqueSize": _na_size(_unique(image)), "VirtualSize": fmt.human_size(image.get("Size", 0), 4),
    }


def _na(value: int) -> str:
    return "N/A" if value == -1 else str(value)


def _na_size(value: int) -> str:
    return "N/A" if value == -1 else fmt.human_size(value, 4)  # go-units HumanSize


def _unique(image: dict[str, Any]) -> int:
    shared = image.get("SharedSize", -1)
    return -1 if shared == -1 else int(image.get("Size", 0)) - int(shared)


# ---- inspect / tag / rmi / history ----------------------------------------------------------


def add_inspect(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-f", "--format", help="format output with a Go template or 'json'")
    p.add_argument("--type", choices=["image"], help="only images are inspectable so far")
    p.set_defaults(func=inspect)


def inspect(args: argparse.Namespace) -> int:
    import docker.errors

    api = connect(args)
    found: list[dict[str, Any]] = []
    errors: list[str] = []
    for name in args.images:
        try:
            found.append(api.inspect_image(name))
        except docker.errors.NotFound as exc:
            errors.append(str(exc.explanation or f"No such image: {name}"))
    if args.format and args.format != "json":
        template, _ = fmt.expand_format(args.format, "")
        for image in found:
            print(fmt.render(template, image))
    else:
        print(json.dumps(found, indent=4, ensure_ascii=False))
    for message in errors:
        fail(message)
    return 1 if errors else 0


def add_tag(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    p.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    p.set_defaults(func=tag)


def tag(args: argparse.Namespace) -> int:
    repo, version = split_tag(args.target)
    connect(args).tag(args.source, repo, version or None)
    return 0


def add_rmi(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-f", "--force", action="store_true", help="force removal of the image")
    p.add_argument("--no-prune", action="store_true", help="do not delete untagged parents")
    p.set_defaults(func=rmi)


def rmi(args: argparse.Namespace) -> int:
    import docker.errors

    api = connect(args)
    status = 0
    for name in args.images:
        try:
            for item in api.remove_image(name, force=args.force, noprune=args.no_prune) or []:
                for key, value in item.items():
                    print(f"{key}: {value}")
        except docker.errors.APIError as exc:
            status = fail(str(exc.explanation or exc))
    return status


def add_history(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--format", help="format output with a Go template, 'table', or 'json'")
    p.add_argument("-H", "--human", type=_bool, nargs="?", const=True, default=True, metavar="BOOL",
                   help="print sizes and dates in human readable format (default true)")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
    p.set_defaults(func=history)


def _bool(text: str) -> bool:
    if text.lower() in {"1", "t", "true"}:
        return True
    if text.lower() in {"0", "f", "false"}:
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


def history(args: argparse.Namespace) -> int:
    entries = connect(args).history(args.image)
    rows = [history_context(e, args.human, not args.no_trunc) for e in entries]
    table = HISTORY_TABLE if args.human else HISTORY_TABLE.replace(".CreatedSince", ".CreatedAt")
    template = "{{.ID}}" if args.quiet else (args.format or "table " + table)
    sys.stdout.write(fmt.format_rows(template, rows, HISTORY_HEADERS, table))
    return 0


def history_context(entry: dict[str, Any], human: bool, trunc: bool) -> dict[str, str]:
    """docker's history row (keys in Go's sorted order, as ``{{json .}}`` prints them)."""
    created = entry.get("Created", 0)
    created_by = str(entry.get("CreatedBy", "")).replace("\t", " ")
    image_id = str(entry.get("Id", "<missing>"))
    size = int(entry.get("Size", 0))
    return {
        "Comment": str(entry.get("Comment", "")), "CreatedAt": fmt.rfc3339(created),
        "CreatedBy": fmt.ellipsis(created_by, 45) if trunc else created_by,
        "CreatedSince": fmt.since(created) if human else fmt.rfc3339(created),
        "ID": fmt.short_id(image_id) if trunc and image_id != "<missing>" else image_id,
        "Size": fmt.human_size(size) if human else str(size),
    }


# ---- save / load / import / prune -------------------------------------------------------------


def add_save(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-o", "--output", type=Path, help="write to a file, instead of STDOUT")
    p.set_defaults(func=save)


def save(args: argparse.Namespace) -> int:
    if args.output is None and sys.stdout.isatty():
        raise InvalidArgument("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    chunks = save_stream(connect(args, timeout=None), args.images)
    if args.output is None:
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return 0
    write_atomically(args.output, chunks)
    return 0


def save_stream(api: Any, names: list[str]) -> Iterator[bytes]:
    if len(names) == 1:
        return iter(api.get_image(names[0], chunk_size=1 << 20))
    response = api._get(api._url("/images/get"), params={"names": names}, stream=True)
    api._raise_for_status(response)
    return iter(response.iter_content(1 << 20))


def write_atomically(path: Path, chunks: Iterator[bytes]) -> None:
    """A failed save leaves no half-written archive behind."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as out:
            out.writelines(chunks)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def add_load(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--input", type=Path, help="read from tar archive file, instead of STDIN")
    p.add_argument("-q", "--quiet", action="store_true", help="suppress the load output")
    p.set_defaults(func=load)


def load(args: argparse.Namespace) -> int:
    if args.input is None:
        if sys.stdin.isatty():
            raise InvalidArgument("requested load from stdin, but stdin is empty")
        return _load(args, sys.stdin.buffer)
    with open(args.input, "rb") as f:
        return _load(args, f)


def _load(args: argparse.Namespace, source: BinaryIO) -> int:
    api = connect(args, timeout=None)
    body = source if source.seekable() else _chunks(source)
    for message in json_messages(api.load_image(body, quiet=args.quiet or None)):
        if "stream" in message:
            sys.stdout.write(message["stream"])
        elif message.get("status") and not args.quiet:
            print(message["status"])
    return 0


def _chunks(source: BinaryIO) -> Iterator[bytes]:
    while block := source.read(1 << 20):
        yield block


def add_import(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="file|-")
    p.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    p.add_argument("-c", "--change", action="append", default=[], help="apply a Dockerfile instruction")
    p.add_argument("-m", "--message", default="", help="set a commit message for the imported image")
    p.add_argument("--platform", help="set platform if the server is multi-platform capable")
    p.set_defaults(func=import_)


def import_(args: argparse.Namespace) -> int:
    if args.file != "-" and "://" in args.file:
        raise InvalidArgument("importing from a URL is not supported; download the file first")
    repo, version = split_tag(args.reference) if args.reference else ("", "")
    params: dict[str, Any] = {"fromSrc": "-", "repo": repo or None, "tag": version or None,
                              "message": args.message or None, "changes": args.change or None,
                              "platform": args.platform}
    api = connect(args, timeout=None)
    if args.file == "-":
        return _import(api, params, _chunks(sys.stdin.buffer))
    with open(args.file, "rb") as f:
        return _import(api, params, f)


def _import(api: Any, params: dict[str, Any], body: Any) -> int:
    params = {k: v for k, v in params.items() if v is not None}
    response = api._post(api._url("/images/create"), params=params, data=body,
                         headers={"Content-Type": "application/tar"}, stream=True)
    api._raise_for_status(response)
    from .distribution import ProgressView  # pull's view: a warning's stream line, the ID

    view = ProgressView(sys.stdout)
    for message in json_messages(api._stream_helper(response, decode=True)):
        view.show(message)
    return 0


def add_prune(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="remove all unused images, not just dangling ones")
    p.add_argument("--filter", action="append", default=[], help="provide filter values (e.g. until=<timestamp>)")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.set_defaults(func=prune)


PRUNE_WARNING = "WARNING! This will remove all dangling images."
PRUNE_ALL_WARNING = "WARNING! This will remove all images without at least one container associated to them."


def prune(args: argparse.Namespace) -> int:
    if not args.force and not confirm(PRUNE_ALL_WARNING if args.all else PRUNE_WARNING):
        return 0
    filters = parse_filters(args.filter)
    filters["dangling"] = ["false" if args.all else "true"]
    report = connect(args).prune_images(filters=filters)
    deleted = report.get("ImagesDeleted") or []
    if deleted:
        print("Deleted Images:")
        for item in deleted:
            for key, value in item.items():
                print(f"{key.lower()}: {value}")
        print()
    print(f"Total reclaimed space: {fmt.human_size(report.get('SpaceReclaimed', 0), 4)}")
    return 0


def confirm(warning: str) -> bool:
    sys.stdout.write(f"{warning}\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in {"y", "yes"}


# ---- registration ----------------------------------------------------------------------------

IMAGE_VERBS: dict[str, tuple[Verb, str, tuple[str, ...]]] = {
    "ls": (add_ls, "List images", ("list",)),
    "inspect": (add_inspect, "Display detailed information on one or more images", ()),
    "rm": (add_rmi, "Remove one or more images", ("remove",)),
    "prune": (add_prune, "Remove unused images", ()),
    "tag": (add_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", ()),
    "save": (add_save, "Save one or more images to a tar archive (streamed to STDOUT by default)", ()),
    "load": (add_load, "Load an image from a tar archive or STDIN", ()),
    "import": (add_import, "Import the contents from a tarball to create a filesystem image", ()),
    "history": (add_history, "Show the history of an image", ()),
}

# The top-level `inspect` (any object kind) is dockyard.cli.containers'.
TOP_LEVEL = {"images": "ls", "tag": "tag", "rmi": "rm", "save": "save",
             "load": "load", "import": "import", "history": "history"}


def register(sub: Sub[argparse.ArgumentParser]) -> None:
    for verb, target in TOP_LEVEL.items():
        add, help_text, _ = IMAGE_VERBS[target]
        add(sub.add_parser(verb, help=help_text))
    group = sub.add_parser("image", help="Manage images")
    image_sub = group.add_subparsers(dest="image_command", metavar="COMMAND")
    for verb, (add, help_text, aliases) in IMAGE_VERBS.items():
        add(image_sub.add_parser(verb, help=help_text, aliases=list(aliases)))
    group.set_defaults(func=lambda _args: _usage(group))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
