"""The container verbs that stream: ``run``, ``create``, ``start -a``, ``attach``, ``exec``, ``logs``.

``run`` follows the docker CLI's order so no output is lost and ``--rm`` cannot race: create
(pulling on "No such image" unless ``--pull never``), attach, register a wait (``next-exit``, or
``removed`` for ``--rm``) and only then start; the exit status is the container's. Failures
before the container runs exit 125 (126/127 for a command that cannot be executed / found), as
docker's do. Without a TTY, Ctrl-C and SIGTERM are forwarded to the container (``--sig-proxy``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from . import runopts, streams
from .client import DaemonError, connect
from .output import fail

Verb = Callable[[argparse.Namespace], int]
RUN_HELP = "Create and run a new container from an image"
CREATE_HELP = "Create a new container"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Top-level ``run`` and ``create`` (``container run``/``create`` are :mod:`.containers`'s):
    registered here so that ``dockyard run`` imports none of the other container verbs."""
    for verb, help_text, add in (("run", RUN_HELP, add_run), ("create", CREATE_HELP, add_create)):
        add(sub.add_parser(verb, help=help_text, add_help=False, description=help_text))  # -h: --hostname


def add_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("-d", "--detach", action="store_true", help="run container in background and print container ID")
    runopts.add_create_flags(p)
    p.set_defaults(func=endpoint_guard(run))


def add_create(p: argparse.ArgumentParser) -> None:
    runopts.add_create_flags(p)
    p.set_defaults(func=endpoint_guard(create))


class ExitWaiter(threading.Thread):
    """``POST /containers/{id}/wait`` on its own thread; ``ready`` once the daemon has it."""

    def __init__(self, api: Any, cid: str, condition: str) -> None:
        super().__init__(daemon=True)
        self.api, self.cid, self.condition = api, cid, condition
        self.ready = threading.Event()
        self.body: dict[str, Any] | None = None
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            url = self.api._url("/containers/{0}/wait", self.cid)
            resp = self.api._post(url, params={"condition": self.condition}, timeout=None, stream=True)
            self.ready.set()  # dockerd flushes the headers once the waiter is registered
            self.body = self.api._result(resp, json=True)
        except Exception as exc:  # noqa: BLE001 - reported by status()
            self.error = exc
        finally:
            self.ready.set()

    def status(self) -> int:
        self.join()
        if self.body is None:  # the wait lost a race with removal: ask once more, then give up
            try:
                self.body = self.api.wait(self.cid)
            except Exception:
                if self.error is not None:
                    raise self.error from None
                raise
        error = (self.body.get("Error") or {}).get("Message")
        if error:
            print(f"dockyard: {error}", file=sys.stderr)
        return int(self.body.get("StatusCode", 0))


def api_error_message(exc: Exception) -> str:
    """The daemon's message; a route it lacks (404 ``page not found``) is named instead."""
    response = getattr(exc, "response", None)
    explanation = str(getattr(exc, "explanation", None) or exc)
    if response is not None and response.status_code == 404 and "page not found" in explanation:
        request = response.request
        return (f"the daemon does not serve {request.method} "
                f"{request.path_url.split('?')[0]} (page not found)")
    return explanation


def endpoint_guard(func: Verb) -> Verb:
    """A route the daemon lacks (404 ``page not found``) becomes one line naming the request."""
    @functools.wraps(func)
    def guarded(args: argparse.Namespace) -> int:
        import docker.errors

        try:
            return func(args)
        except docker.errors.APIError as exc:
            raise DaemonError(api_error_message(exc)) from None
    return guarded


def _status_of_start_error(message: str) -> int:
    """docker's exit status for a container that could not start."""
    lowered = message.lower()
    if any(s in lowered for s in ("executable file not found", "no such file or directory")):
        return 127
    if "permission denied" in lowered or "cannot execute binary file" in lowered:
        return 126
    return 125


# ---- create / run -------------------------------------------------------------------------


def familiar(image: str) -> str:
    last = image.rpartition("/")[2]
    return image if "@" in image or ":" in last else image + ":latest"


def pull(api: Any, image: str, platform: str | None, quiet: bool) -> None:
    from .client import json_messages
    from .distribution import ProgressView

    view = ProgressView(sys.stderr)
    stream = api.pull(image, stream=True, decode=True, platform=platform)
    for message in json_messages(stream):
        if not quiet and "aux" not in message:
            view.show(message)


def create_container(api: Any, args: argparse.Namespace, body: dict[str, Any]) -> str:
    """Create, pulling the image first when it is missing (or always, with ``--pull always``)."""
    import docker.errors

    if args.pull == "always":
        pull(api, args.image, args.platform, args.quiet)
    try:
        result = api.create_container_from_config(body, name=args.name, platform=args.platform)
    except docker.errors.ImageNotFound:
        if args.pull == "never":
            raise
        print(f"Unable to find image '{familiar(args.image)}' locally", file=sys.stderr)
        pull(api, args.image, args.platform, args.quiet)
        result = api.create_container_from_config(body, name=args.name, platform=args.platform)
    for warning in result.get("Warnings") or []:
        print(f"WARNING: {warning}", file=sys.stderr)
    return str(result["Id"])


def create(args: argparse.Namespace) -> int:
    body = runopts.create_body(args, detach=False)  # attached by default, as docker create's
    print(create_container(connect(args, timeout=None), args, body))
    return 0


def _needs_terminal(tty: bool, stdin: bool) -> None:
    """``-it`` needs a terminal on our stdin, as docker checks before doing anything."""
    if tty and stdin and not sys.stdin.isatty():
        from ..errors import InvalidArgument

        raise InvalidArgument("the input device is not a TTY")


def run(args: argparse.Namespace) -> int:
    import docker.errors

    from ..errors import DockyardError

    _needs_terminal(args.tty and not args.detach, args.interactive)
    try:
        api = connect(args, timeout=None)
        body = runopts.create_body(args, detach=args.detach)
        cid = create_container(api, args, body)
    except (docker.errors.APIError, DockyardError) as exc:
        fail(api_error_message(exc))
        return 125
    if args.detach:
        status = _start_or_status(api, cid)
        if not status:
            print(cid)
        return status
    return run_attached(api, cid, args.tty, args.interactive, "removed" if args.rm else "next-exit")


def _start_or_status(api: Any, cid: str) -> int:
    """Start; a failure is printed and mapped to docker's 125/126/127."""
    import docker.errors

    try:
        api.start(cid)
    except docker.errors.APIError as exc:
        message = api_error_message(exc)
        fail(message)
        return _status_of_start_error(message)
    return 0


def run_attached(api: Any, cid: str, tty: bool, stdin: bool, condition: str) -> int:
    """Attach, register the wait, start, stream to the end, return the exit status."""
    params = {"stdin": int(stdin), "stdout": 1, "stderr": 1, "stream": 1}
    sock = api.attach_socket(cid, params=params)
    waiter = ExitWaiter(api, cid, condition)
    waiter.start()
    waiter.ready.wait(2.0)
    status = _start_or_status(api, cid)
    if status:
        with contextlib.suppress(OSError):
            streams.sock_of(sock).close()
        return status
    with _proxy_signals(api, cid, enabled=not tty):
        streams.session(sock, tty, stdin, resize=lambda h, w: api.resize(cid, h, w))
    if stdin and _detached(api, cid, waiter):
        return 0
    return waiter.status()


def _detached(api: Any, cid: str, waiter: ExitWaiter) -> bool:
    """The stream ended but the container lives on: the user typed the detach keys
    (ctrl-p ctrl-q), and docker leaves it running and exits 0."""
    waiter.join(1.0)
    if not waiter.is_alive():
        return False
    try:
        return bool(api.inspect_container(cid)["State"].get("Running"))
    except Exception:  # noqa: BLE001 - gone: not a detach
        return False


@contextlib.contextmanager
def _proxy_signals(api: Any, cid: str, enabled: bool) -> Iterator[None]:
    """Forward SIGINT/SIGTERM/SIGHUP to the container while attached (docker's ``--sig-proxy``)."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return
    def forward(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        threading.Thread(target=lambda: _quiet_kill(api, cid, name), daemon=True).start()
    saved = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _quiet_kill(api: Any, cid: str, name: str) -> None:
    with contextlib.suppress(Exception):
        api.kill(cid, name)


# ---- start / attach / exec ----------------------------------------------------------------


def start(args: argparse.Namespace) -> int:
    api = connect(args, timeout=None)
    if args.attach or args.interactive:
        if len(args.containers) > 1:
            return fail("you cannot start and attach multiple containers at once")
        config = api.inspect_container(args.containers[0])["Config"]
        stdin = bool(args.interactive and config.get("OpenStdin"))
        return run_attached(api, config_id(api, args.containers[0]), bool(config.get("Tty")), stdin,
                            "next-exit")
    return each(args.containers, api.start)


def config_id(api: Any, name: str) -> str:
    return str(api.inspect_container(name)["Id"])


def each(names: list[str], action: Any) -> int:
    """Apply ``action`` to each container, printing its name as given, as docker does; one
    error line per failure, and exit status 1 if any failed."""
    import docker.errors

    status = 0
    for name in names:
        try:
            action(name)
        except docker.errors.APIError as exc:
            status = fail(api_error_message(exc))
        else:
            print(name)
    return status


def attach(args: argparse.Namespace) -> int:
    api = connect(args, timeout=None)
    info = api.inspect_container(args.container)
    if not info["State"].get("Running"):
        return fail("You cannot attach to a stopped container, start it first")
    config = info["Config"]
    stdin = bool(config.get("OpenStdin")) and not args.no_stdin
    params = {"stdin": int(stdin), "stdout": 1, "stderr": 1, "stream": 1}
    sock = api.attach_socket(info["Id"], params=params)
    tty = bool(config.get("Tty"))
    with _proxy_signals(api, info["Id"], enabled=args.sig_proxy and not tty):
        streams.session(sock, tty, stdin, resize=lambda h, w: api.resize(info["Id"], h, w))
    return int(api.wait(info["Id"]).get("StatusCode", 0))


def exec_(args: argparse.Namespace) -> int:
    _needs_terminal(args.tty and not args.detach, args.interactive)
    api = connect(args, timeout=None)
    env = [runopts.env_entry(e) for e in args.env] or None
    exec_id = api.exec_create(args.container, args.command, stdout=not args.detach,
                              stderr=not args.detach, stdin=args.interactive and not args.detach,
                              tty=args.tty, privileged=args.privileged, user=args.user or "",
                              environment=env, workdir=args.workdir)["Id"]
    if args.detach:
        api.exec_start(exec_id, detach=True)
        return 0
    sock = api.exec_start(exec_id, tty=args.tty, socket=True)
    streams.session(sock, args.tty, args.interactive, resize=lambda h, w: api.exec_resize(exec_id, h, w))
    return _exec_status(api, exec_id)


def _exec_status(api: Any, exec_id: str) -> int:
    """The exec's exit code (the daemon may record it just after the stream ends)."""
    for _ in range(100):
        info = api.exec_inspect(exec_id)
        if info.get("ExitCode") is not None and not info.get("Running"):
            return int(info["ExitCode"])
        time.sleep(0.01)
    return 0


# ---- logs -------------------------------------------------------------------------------------

def timestamp(value: str, now: float | None = None) -> str:
    """docker's ``GetTimestamp``: a Go duration (``10m``) before now, an RFC 3339 time, or a
    unix timestamp, as the ``seconds[.nanoseconds]`` string the API takes."""
    from ..errors import DockyardError, InvalidArgument
    from ..store.timefmt import filter_time

    if re.fullmatch(r"\d+(\.\d+)?", value):
        return value
    try:
        return f"{filter_time(value, now):.9f}"
    except DockyardError:
        raise InvalidArgument(f'invalid value for "since": failed to parse value as time or duration: "{value}"') from None


def logs(args: argparse.Namespace) -> int:
    api = connect(args, timeout=None)
    info = api.inspect_container(args.container)
    params: dict[str, Any] = {"stdout": 1, "stderr": 1, "follow": int(args.follow),
                              "timestamps": int(args.timestamps), "tail": args.tail}
    if args.since:
        params["since"] = timestamp(args.since)
    if args.until:
        params["until"] = timestamp(args.until)
    resp = api._get(api._url("/containers/{0}/logs", info["Id"]), params=params, stream=True)
    api._raise_for_status(resp)
    read = getattr(resp.raw, "read1", resp.raw.read)
    chunks = streams.raw_chunks if info["Config"].get("Tty") else streams.frames
    try:
        for stream, data in chunks(read):
            streams.write_out(stream, data)
    except KeyboardInterrupt:  # logs -f ends quietly on Ctrl-C, as docker's does
        return 0
    finally:
        resp.close()
    return 0
