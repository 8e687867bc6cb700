"""One function per ``%docker`` verb: parsed flags in, one docker-py call (or a few) out.

Each returns what the cell shows: a docker-style table, an object with a rich repr, an exit
code, or None after printing docker's own one-line confirmation.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import io
import json
import os
import re
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors

from dockyard.cli import runopts

from . import reprs, runner
from .errors import CommandUsage, ContainerExitError, Interrupted
from .lockfile import LockFile, base_references, pin
from .progress import BatchedWriter, JsonStreamView, LayerBoard, pump
from .translate import build_kwargs, parse_filters, parse_key_values, parse_volume, split_repo_tag

Verb = Callable[["Context", argparse.Namespace], Any]
VERBS: dict[str, Verb] = {}


@dataclass
class Context:
    client: docker.DockerClient
    host: str
    cwd: Path
    user_ns: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    lock: LockFile | None = None

    @property
    def api(self) -> docker.APIClient:
        return self.client.api


def verb(name: str) -> Callable[[Verb], Verb]:
    def register(func: Verb) -> Verb:
        VERBS[name] = func
        return func
    return register


class Lines(list[str]):
    """``-q`` output: IDs one per line."""

    def __repr__(self) -> str:
        return "\n".join(self)


class JsonResult(list[Any]):
    """``inspect`` output: docker prints a JSON array."""

    def __repr__(self) -> str:
        return json.dumps(list(self), indent=4)


def show_board() -> Callable[[str], None]:
    """Layer progress in one updating display (plain text in a terminal)."""
    from IPython.display import display

    handle: Any = None

    def show(text: str) -> None:
        nonlocal handle
        if handle is None:
            handle = display({"text/plain": text}, raw=True, display_id=True)  # type: ignore[no-untyped-call]
        else:
            handle.update({"text/plain": text}, raw=True)
    return show


def stream_json(ctx: Context, what: str, start: Callable[[], Iterable[dict[str, Any]]],
                quiet: bool = False) -> JsonStreamView:
    """Start a streamed request and show it; an interrupt closes its connection (the daemon
    then cancels the work) and ends the cell with one line."""
    responses: list[Any] = []

    def keep(response: Any, *_args: Any, **_kw: Any) -> None:
        responses.append(response)

    ctx.api.hooks["response"].append(keep)
    try:
        messages = start()
    finally:
        ctx.api.hooks["response"].remove(keep)
    out = BatchedWriter(io.StringIO() if quiet else sys.stdout)
    view = JsonStreamView(out, LayerBoard((lambda _t: None) if quiet else show_board()))
    try:
        pump(messages, view.handle, view.outputs)
    except KeyboardInterrupt:
        for response in responses:
            _hang_up(ctx.api, response)
        raise Interrupted(f"{what} interrupted") from None
    out.close()
    return view


def _hang_up(api: docker.APIClient, response: Any) -> None:
    """Shut the socket down rather than close the response: the reader thread holds the
    response's buffer lock while blocked in recv, so close() would wait for the next byte."""
    try:
        raw = api._get_raw_response_socket(response)
        getattr(raw, "_sock", raw).shutdown(socket.SHUT_RDWR)
    except (AttributeError, OSError, docker.errors.APIError):
        threading.Thread(target=response.close, daemon=True).start()


# -- containers ------------------------------------------------------------------------------

@verb("run")
def run(ctx: Context, ns: argparse.Namespace) -> Any:
    """The docker CLI's create body (dockyard's one flag table, ``dockyard.cli.runopts``), with
    host paths taken from the notebook's directory; then attach and start, or start alone."""
    if ns.interactive and not ns.detach:
        raise CommandUsage("%docker run: -i is not supported in a notebook (no terminal stdin)")
    container = _create(ctx, ns, run_body(ns, ctx.cwd))
    _record_run(ctx, ns.image, str(container.attrs["Image"]))
    if ns.detach:
        container.start()
        with contextlib.suppress(docker.errors.NotFound):  # --rm: it may be gone already
            container.reload()
        return container
    outcome = runner.run_attached(ctx.api, container.id, remove=ns.rm)
    ctx.exit_code = outcome.exit_code
    return _report_exit(container.name or container.short_id, outcome, ns.raise_error)


def run_body(ns: argparse.Namespace, cwd: Path) -> dict[str, Any]:
    """The create body for ``%docker run`` flags; host paths (``-v``, ``--env-file``) are taken
    from the notebook's directory ``cwd``."""
    ns.volume = [parse_volume(v, cwd) for v in ns.volume]
    return runopts.create_body(ns, detach=ns.detach, cwd=cwd)


def _create(ctx: Context, ns: argparse.Namespace, body: dict[str, Any]) -> Any:
    """``POST /containers/create``, pulling the image first with ``--pull always`` or when it
    is missing (unless ``--pull never``); the daemon's warnings are shown as docker shows them."""
    if ns.pull == "always":
        _pull(ctx, ns.image, ns.platform, ns.quiet)
    try:
        created = ctx.api.create_container_from_config(body, name=ns.name, platform=ns.platform)
    except docker.errors.ImageNotFound:
        if ns.pull == "never":
            raise
        print(f"Unable to find image '{ns.image}' locally", file=sys.stderr)
        _pull(ctx, ns.image, ns.platform, ns.quiet)
        created = ctx.api.create_container_from_config(body, name=ns.name, platform=ns.platform)
    for warning in created.get("Warnings") or []:
        print(f"WARNING: {warning}", file=sys.stderr)
    return ctx.client.containers.get(created["Id"])


def _record_run(ctx: Context, reference: str, image_id: str) -> None:
    """Written only when the record changes: running the same image again (the common loop in
    a notebook) costs no file write and fsync."""
    if ctx.lock is None:
        return
    before = json.dumps(ctx.lock.data, sort_keys=True)
    ctx.lock.record_run(reference, image_id)
    if json.dumps(ctx.lock.data, sort_keys=True) != before:
        ctx.lock.save()


def _report_exit(name: str, outcome: runner.Outcome, raise_error: bool) -> int | None:
    """Like ``!cmd``: success shows nothing (the code is in ``_exit_code``); failure is said."""
    if outcome.interrupted:
        print(f"Container {name} stopped: interrupted (exit status {outcome.exit_code})",
              file=sys.stderr)
    elif outcome.exit_code != 0:
        if raise_error:
            raise ContainerExitError(name, outcome.exit_code)
        print(f"Container {name} exited with status {outcome.exit_code}", file=sys.stderr)
    return outcome.exit_code if outcome.exit_code or outcome.interrupted else None


@verb("exec")
def exec_(ctx: Context, ns: argparse.Namespace) -> Any:
    if not ns.command:
        raise CommandUsage("%docker exec: requires at least 2 arguments")
    kw = {"environment": ns.env or None, "user": ns.user or "", "workdir": ns.workdir,
          "privileged": ns.privileged, "tty": ns.tty}
    if ns.detach:
        exec_id = ctx.api.exec_create(ns.container, ns.command, **kw)["Id"]
        ctx.api.exec_start(exec_id, detach=True)
        return None
    code = ctx.exit_code = runner.exec_attached(ctx.api, ns.container, ns.command, **kw)
    return _report_exit(ns.container, runner.Outcome(code), ns.raise_error)


@verb("logs")
def logs(ctx: Context, ns: argparse.Namespace) -> None:
    tail: Any = ns.tail if ns.tail == "all" else int(ns.tail)
    kw = {"timestamps": ns.timestamps, "tail": tail, "since": _time_arg(ns.since),
          "until": _time_arg(ns.until)}
    if not ns.follow:
        raw = ctx.api.logs(ns.container, stream=False, **{k: v for k, v in kw.items() if v})
        sys.stdout.write(raw.decode("utf-8", "replace"))
        return
    frames = ctx.api.logs(ns.container, stream=True, follow=True,
                          **{k: v for k, v in kw.items() if v})
    try:
        runner.stream_to_cell((chunk, None) for chunk in frames)
    except KeyboardInterrupt:          # the usual way to stop following, as in a terminal
        frames.close()


def _time_arg(text: str | None) -> Any:
    if not text:
        return None
    return int(text) if text.isdigit() else text


@verb("ps")
def ps(ctx: Context, ns: argparse.Namespace) -> Any:
    limit = 1 if ns.latest else ns.last
    containers = ctx.client.containers.list(all=ns.all, filters=parse_filters(ns.filter),
                                            limit=limit)
    if ns.quiet:
        return Lines(reprs.short_id(c.id, ns.no_trunc) for c in containers)
    return reprs.container_table(containers, ns.no_trunc)


def _each(names: list[str], action: Callable[[str], Any]) -> None:
    """Apply to every name, print it as docker does, report failures together at the end."""
    failures = []
    for name in names:
        try:
            action(name)
            print(name)
        except docker.errors.APIError as exc:
            failures.append(f"Error response from daemon: {exc.explanation or exc}")
    if failures:
        raise CommandUsage("; ".join(failures))


@verb("stop")
def stop(ctx: Context, ns: argparse.Namespace) -> None:
    _each(ns.containers, lambda c: ctx.api.stop(c, timeout=ns.time))


@verb("start")
def start(ctx: Context, ns: argparse.Namespace) -> None:
    _each(ns.containers, ctx.api.start)


@verb("restart")
def restart(ctx: Context, ns: argparse.Namespace) -> None:
    _each(ns.containers, lambda c: ctx.api.restart(c, timeout=ns.time or 10))


@verb("kill")
def kill(ctx: Context, ns: argparse.Namespace) -> None:
    _each(ns.containers, lambda c: ctx.api.kill(c, signal=ns.signal))


@verb("rm")
def rm(ctx: Context, ns: argparse.Namespace) -> None:
    _each(ns.containers, lambda c: ctx.api.remove_container(c, force=ns.force, v=ns.volumes))


# -- images ----------------------------------------------------------------------------------

@verb("images")
def images(ctx: Context, ns: argparse.Namespace) -> Any:
    found = ctx.client.images.list(name=ns.repository, all=ns.all,
                                   filters=parse_filters(ns.filter))
    if ns.quiet:
        return Lines(dict.fromkeys(reprs.short_id(i.id, ns.no_trunc) for i in found))
    return reprs.image_table(found, ns.no_trunc)


def _pull(ctx: Context, name: str, platform: str | None = None, quiet: bool = False,
          all_tags: bool = False) -> Any:
    repo, tag = split_repo_tag(name)
    if tag is None and "@" not in repo and not all_tags:
        tag = "latest"
    stream_json(ctx, "pull", lambda: ctx.api.pull(
        repo, tag, stream=True, decode=True, platform=platform, all_tags=all_tags), quiet)
    return None if all_tags else ctx.client.images.get(f"{repo}:{tag}" if tag else repo)


@verb("pull")
def pull(ctx: Context, ns: argparse.Namespace) -> Any:
    return _pull(ctx, ns.name, ns.platform, ns.quiet, ns.all_tags)


@verb("push")
def push(ctx: Context, ns: argparse.Namespace) -> None:
    repo, tag = split_repo_tag(ns.name)
    view = stream_json(ctx, "push", lambda: ctx.api.push(
        repo, None if ns.all_tags else tag, stream=True, decode=True), ns.quiet)
    if ctx.lock is None:
        return
    for aux in view.aux:
        if "Digest" in aux and "Tag" in aux:
            reference = f"{repo}:{aux['Tag']}"
            ctx.lock.record_push(reference, str(aux["Digest"]),
                                 str(ctx.client.images.get(reference).id))
    ctx.lock.save()


@verb("build")
def build(ctx: Context, ns: argparse.Namespace) -> Any:
    context = (ctx.cwd / os.path.expanduser(ns.path)).resolve()
    if not context.is_dir():
        raise CommandUsage(f"unable to prepare context: path \"{ns.path}\" not found")
    dockerfile = str((ctx.cwd / ns.file).resolve()) if ns.file else None
    text = Path(dockerfile or context / "Dockerfile").read_text(errors="replace")
    return build_image(ctx, str(context), dockerfile, ns, text, os.path.relpath(context, ctx.cwd))


def build_image(ctx: Context, context: str, dockerfile: str | None,
                ns: argparse.Namespace, text: str, record_context: str | None = None) -> Any:
    """Classic builder, JSON stream shown step by step; extra ``-t`` tags applied after."""
    image_id = stream_json(ctx, "build", lambda: ctx.api.build(
        path=context, dockerfile=dockerfile, **build_kwargs(ns)), ns.quiet).image_id
    if image_id is None:
        raise CommandUsage("build finished without reporting an image ID")
    for extra in ns.tag[1:]:
        repo, tag = split_repo_tag(extra)
        ctx.api.tag(image_id, repo, tag)
    image = ctx.client.images.get(image_id)
    if ctx.lock is not None:
        _record_build(ctx, ctx.lock, ns, text, record_context, image_id)
    if ns.quiet:
        print(image_id)
    return image


def _record_build(ctx: Context, lock: LockFile, ns: argparse.Namespace, text: str,
                  context: str | None, image_id: str) -> None:
    entry = {
        "dockerfile": text, "build_args": build_kwargs(ns).get("buildargs") or {},
        "target": ns.target, "platform": ns.platform, "context": context,
        "base_images": {ref: pin(ctx.client, ref) for ref in base_references(text)},
        "image_id": image_id,
    }
    for name in ns.tag or [image_id]:
        lock.record_build(name, dict(entry))
    lock.save()


def build_from_text(ctx: Context, text: str, ns: argparse.Namespace) -> Any:
    """``%%dockerfile``: the cell is the Dockerfile; the context is ``--context`` or empty."""
    with tempfile.TemporaryDirectory(prefix="dockerfile-") as tmp:
        dockerfile = Path(tmp) / "Dockerfile"
        dockerfile.write_text(text)
        if ns.context is None:
            return build_image(ctx, tmp, "Dockerfile", ns, text)
        context = (ctx.cwd / os.path.expanduser(ns.context)).resolve()
        if not context.is_dir():
            raise CommandUsage(f"unable to prepare context: path \"{ns.context}\" not found")
        return build_image(ctx, str(context), str(dockerfile), ns, text,
                           os.path.relpath(context, ctx.cwd))


@verb("rmi")
def rmi(ctx: Context, ns: argparse.Namespace) -> None:
    for name in ns.images:
        for entry in ctx.api.remove_image(name, force=ns.force, noprune=ns.no_prune) or []:
            for key, value in entry.items():
                print(f"{key}: {value}")


@verb("tag")
def tag(ctx: Context, ns: argparse.Namespace) -> None:
    repo, version = split_repo_tag(ns.target)
    ctx.api.tag(ns.source, repo, version or "latest")


@verb("save")
def save(ctx: Context, ns: argparse.Namespace) -> None:
    """All images in one archive; written to a temp file and renamed, never half-written."""
    target = (ctx.cwd / os.path.expanduser(ns.output)).resolve()
    response = ctx.api._get(ctx.api._url("/images/get"), params={"names": ns.images},
                            stream=True)
    ctx.api._raise_for_status(response)
    fd, tmp = tempfile.mkstemp(prefix=".save-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in response.iter_content(1 << 20):
                out.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


@verb("load")
def load(ctx: Context, ns: argparse.Namespace) -> None:
    source = (ctx.cwd / os.path.expanduser(ns.input)).resolve()
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise CommandUsage(f"open {ns.input}: {exc.strerror}") from None
    stream_json(ctx, "load", lambda: ctx.api.load_image(data, quiet=ns.quiet), ns.quiet)


# -- objects, registries, system ---------------------------------------------------------------

_LOOKUPS = ("containers", "images", "networks", "volumes")


@verb("inspect")
def inspect(ctx: Context, ns: argparse.Namespace) -> Any:
    kinds = (f"{ns.type}s",) if ns.type else _LOOKUPS
    found = JsonResult(_inspect_one(ctx, name, kinds) for name in ns.names)
    if ns.format:
        return Lines(format_template(ns.format, attrs) for attrs in found)
    return found


def _inspect_one(ctx: Context, name: str, kinds: tuple[str, ...]) -> dict[str, Any]:
    for kind in kinds:
        try:
            return dict(getattr(ctx.client, kind).get(name).attrs)
        except docker.errors.NotFound:
            continue
    raise docker.errors.NotFound(f"No such object: {name}")


_FIELD = re.compile(r"\{\{\s*(json\s+)?\.([\w.]*)\s*\}\}")


def format_template(template: str, attrs: dict[str, Any]) -> str:
    """The common subset of Go templates: ``{{.Path.To.Field}}`` and ``{{json .Field}}``."""
    def field(match: re.Match[str]) -> str:
        value: Any = attrs
        for part in filter(None, match.group(2).split(".")):
            value = value.get(part) if isinstance(value, dict) else None
        return json.dumps(value) if match.group(1) else ("" if value is None else str(value))

    rendered = _FIELD.sub(field, template)
    if "{{" in rendered:
        raise CommandUsage(f"template: unsupported expression in {template!r} (only "
                           "{{.Field}} and {{json .Field}}; use Python on the result instead)")
    return rendered


@verb("login")
def login(ctx: Context, ns: argparse.Namespace) -> None:
    """The password never appears in the cell: a no-echo prompt or a named variable."""
    if ns.password:
        raise CommandUsage("%docker login: refusing -p/--password: it would be saved in the "
                           "notebook; omit it to be prompted, or use --password-from NAME")
    username = ns.username or input("Username: ")
    password = _password_from(ctx, ns.password_from) if ns.password_from \
        else getpass.getpass("Password: ")
    ctx.client.login(username=username, password=password, registry=ns.server, reauth=True)
    print("Login Succeeded")


def _password_from(ctx: Context, name: str) -> str:
    value = ctx.user_ns.get(name, os.environ.get(name))
    if not isinstance(value, str) or not value:
        raise CommandUsage(f"%docker login: no password in variable or environment {name!r}")
    return value


@verb("logout")
def logout(ctx: Context, ns: argparse.Namespace) -> None:
    server = ns.server or "https://index.docker.io/v1/"
    auths = getattr(ctx.api._auth_configs, "auths", {})
    if auths.pop(server, None) is None:
        print(f"Not logged in to {server}")
    else:
        print(f"Removing login credentials for {server}")


def _objects(ctx: Context, ns: argparse.Namespace, kind: str) -> Any:
    collection = getattr(ctx.client, f"{kind}s")
    if ns.action == "ls":
        items = collection.list(filters=parse_filters(ns.filter))
        if ns.quiet:
            return Lines(getattr(i, "id", None) or i.name for i in items)
        return _object_table(kind, items)
    if ns.action == "create":
        opts = parse_key_values(ns.opt, "--opt")
        labels = parse_key_values(ns.label, "--label")
        kw = {"driver": ns.driver, "labels": labels or None,
              ("options" if kind == "network" else "driver_opts"): opts or None,
              "check_duplicate": kind == "network"}  # a taken name refused, as by the docker CLI
        created = collection.create(ns.name, **{k: v for k, v in kw.items() if v})
        print(created.id if kind == "network" else created.name)
        return None
    if ns.action == "inspect":
        return JsonResult(collection.get(n).attrs for n in ns.names)
    if ns.action == "rm":
        _each(ns.names, lambda n: collection.get(n).remove())
        return None
    return _confirm_prune(ns.force, f"all unused {kind}s", collection.prune)


def _object_table(kind: str, items: list[Any]) -> reprs.Table:
    if kind == "network":
        rows = [[n.short_id, n.name, n.attrs.get("Driver", ""), n.attrs.get("Scope", "")]
                for n in items]
        return reprs.Table(items, ["NETWORK ID", "NAME", "DRIVER", "SCOPE"], rows)
    rows = [[v.attrs.get("Driver", ""), v.name] for v in items]
    return reprs.Table(items, ["DRIVER", "VOLUME NAME"], rows)


def _confirm_prune(force: bool, what: str, prune: Callable[[], Any]) -> Any:
    if not force:
        answer = input(f"WARNING! This will remove {what}.\nAre you sure you want to "
                       "continue? [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            return None
    report = prune()
    reclaimed = report.get("SpaceReclaimed", 0) if isinstance(report, dict) else 0
    print(f"Total reclaimed space: {reprs.human_size(reclaimed or 0)}")
    return None


@verb("network")
def network(ctx: Context, ns: argparse.Namespace) -> Any:
    return _objects(ctx, ns, "network")


@verb("volume")
def volume(ctx: Context, ns: argparse.Namespace) -> Any:
    return _objects(ctx, ns, "volume")


@verb("system")
def system(ctx: Context, ns: argparse.Namespace) -> Any:
    if ns.action == "df":
        return disk_usage(ctx.client.df())
    if ns.action == "info":
        return info(ctx, ns)

    def prune_all() -> dict[str, int]:
        total = ctx.client.containers.prune().get("SpaceReclaimed") or 0
        ctx.client.networks.prune()
        dangling = {} if ns.all else {"dangling": True}
        total += ctx.client.images.prune(filters=dangling).get("SpaceReclaimed") or 0
        if ns.volumes:
            total += ctx.client.volumes.prune().get("SpaceReclaimed") or 0
        return {"SpaceReclaimed": total}
    return _confirm_prune(ns.force, "all stopped containers, unused networks and "
                          f"{'all unused' if ns.all else 'dangling'} images", prune_all)


def disk_usage(df: dict[str, Any]) -> reprs.Table:
    images_ = df.get("Images") or []
    containers = df.get("Containers") or []
    volumes = df.get("Volumes") or []
    rows = [
        ["Images", str(len(images_)), str(sum(1 for i in images_ if i.get("Containers", 0) > 0)),
         reprs.human_size(df.get("LayersSize") or 0)],
        ["Containers", str(len(containers)),
         str(sum(1 for c in containers if c.get("State") == "running")),
         reprs.human_size(sum(c.get("SizeRw") or 0 for c in containers))],
        ["Local Volumes", str(len(volumes)),
         str(sum(1 for v in volumes if (v.get("UsageData") or {}).get("RefCount", 0) > 0)),
         reprs.human_size(sum((v.get("UsageData") or {}).get("Size", 0) or 0 for v in volumes))],
    ]
    return reprs.Table([df], ["TYPE", "TOTAL", "ACTIVE", "SIZE"], rows)


class Mapping(dict[str, Any]):
    """``version``/``info``: a dict that prints as docker's ``Key: value`` lines."""

    def __repr__(self) -> str:
        return "\n".join(f"{k}: {v}" for k, v in self.items() if not isinstance(v, (dict, list)))


@verb("version")
def version(ctx: Context, ns: argparse.Namespace) -> Any:
    data = ctx.client.version()
    return Lines([format_template(ns.format, data)]) if ns.format else Mapping(data)


@verb("info")
def info(ctx: Context, ns: argparse.Namespace) -> Any:
    data = ctx.client.info()
    fmt = getattr(ns, "format", None)
    return Lines([format_template(fmt, data)]) if fmt else Mapping(data)


@verb("reproduce")
def reproduce(ctx: Context, ns: argparse.Namespace) -> Any:
    """Its own module (the lock's and the notebook's records), which builds on this one's pull
    and build: imported when called, so this table is whole once this module is imported."""
    from .reproduce import reproduce as run
    return run(ctx, ns)
