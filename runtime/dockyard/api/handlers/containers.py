"""Container endpoints: parse, call ``engine.containers``, write. Streams (attach, logs, wait,
events) bridge the manager's callbacks (monitor thread) to the loop with
``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import socket
import struct
import termios
import time
from collections.abc import Callable
from typing import Any

from tornado.iostream import StreamClosedError

from ... import gojson
from ...containers import trace
from ...containers.create import cgroup_v1_host
from ...containers.events import matches as event_matches
from ...containers.logs import (
    LogOptions,
    LogReader,
    check_readable,
    extra_attrs,
    log_files,
    parse_time,
)
from ...distribution.manifests import parse_platform
from ...errors import DockyardError, InvalidArgument
from ...gostrconv import atoi as go_atoi
from ...goterm import detach_sequence
from ..compat import (
    adapt_container_inspect,
    adapt_container_summaries,
    ignore_kernel_memory,
    migrate_mac_address,
    old_cgroupns_default,
    refuse_endpoints,
    refuse_old_subpath,
)
from ..hijack import (
    DEFAULT_DETACH_KEYS,
    STDERR,
    STDOUT,
    DetachScanner,
    content_type,
    frame,
    hijack,
    refuse,
)
from .base import EngineHandler, NotFoundHandler
from .execs import check_detach_keys

_STREAM_IDS = {"stdout": STDOUT, "stderr": STDERR}


class ContainersHandler(EngineHandler):
    trace_id = ""

    @property
    def containers(self) -> Any:
        return self.engine.containers

    def prepare(self) -> None:
        """With tracing on: when the request arrived (tornado's wall-clock stamp, moved to the
        monotonic clock) and when the handler began."""
        if trace.PATH is not None:
            waited = time.time() - self.request._start_time
            self.arrived = time.monotonic_ns() - int(waited * 1e9)
            if self.path_args:
                self.trace_in(self.path_args[0])

    def trace_in(self, cid: str) -> None:
        self.trace_id = cid
        trace.mark(cid, f"http {self.request.method} {type(self).__name__} in", self.arrived)
        trace.mark(cid, "handler")

    def on_finish(self) -> None:
        if self.trace_id:
            trace.mark(self.trace_id, f"http {type(self).__name__} done")

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        value = self.get_query_argument(name, "")
        if value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise InvalidArgument(f"invalid value for {name}: {value!r}") from None

    def atoi_arg(self, name: str) -> int:
        """A query parameter as dockerd reads one with ``strconv.Atoi(r.Form.Get(name))``: the
        first value, "" when absent; refused in Go's words (400)."""
        try:
            return go_atoi((self.get_query_arguments(name, strip=False) or [""])[0])
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None

    def json_body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            body = json.loads(self.request.body)
        except ValueError as exc:
            raise InvalidArgument(f"invalid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise InvalidArgument("invalid JSON: expected an object")
        return body

    def no_content(self) -> None:
        self.set_status(204)
        self.finish()


class CreateHandler(ContainersHandler):
    async def post(self) -> None:
        body = self.json_body()
        refuse_endpoints(body, self.api_version)
        refuse_old_subpath(body, self.api_version)
        networks = getattr(self.engine, "networks", None)
        warnings = migrate_mac_address(body, self.api_version,
                                       getattr(networks, "default_network", "bridge"))
        old_cgroupns_default(body, self.api_version, cgroup_v1_host())
        ignore_kernel_memory(body, self.api_version)
        platform = None
        if (wanted := self.str_arg("platform")) and not self.version_below("1.41"):
            platform = parse_platform(wanted)  # 1.41 added it; older clients' is not read
        result = await self.call(self.containers.create, body, self.str_arg("name"), platform)
        if trace.PATH is not None:
            self.trace_in(result["Id"])
        result["Warnings"] = [*(result.get("Warnings") or []), *warnings]
        self.write_json(result, 201)


class ListHandler(ContainersHandler):
    async def get(self) -> None:
        result = self.containers.listing(all=self.bool_arg("all"), limit=self.int_arg("limit", -1),
                                      size=self.bool_arg("size"), filters=self.filters_arg())
        self.write_json(adapt_container_summaries(result, self.api_version))


class InspectHandler(ContainersHandler):
    async def get(self, name: str) -> None:
        container = self.containers.inspect(name, self.bool_arg("size"))
        self.write_json(adapt_container_inspect(container, self.api_version))


class StartHandler(ContainersHandler):
    async def post(self, name: str) -> None:
        await self.call(self.containers.start, name)
        self.no_content()


class StopHandler(ContainersHandler):
    async def post(self, name: str) -> None:
        await self.call(self.containers.stop, name, self.int_arg("t"), self.str_arg("signal"))
        self.no_content()


class RestartHandler(ContainersHandler):
    async def post(self, name: str) -> None:
        await self.call(self.containers.restart, name, self.int_arg("t"), self.str_arg("signal"))
        self.no_content()


class KillHandler(ContainersHandler):
    async def post(self, name: str) -> None:
        # as dockerd reads it: untrimmed (" 9" is no signal); a SIGKILL waits for the exit
        await self.call(self.containers.kill, name,
                        self.get_query_argument("signal", None, strip=False))
        self.no_content()


class PauseHandler(ContainersHandler):
    async def post(self, name: str) -> None:
        await self.call(self.containers.pause, name)
        self.no_content()


class UnpauseHandler(ContainersHandler):
    async def post(self, name: str) -> None:
        await self.call(self.containers.unpause, name)
        self.no_content()


class RenameHandler(ContainersHandler):
    async def post(self, name: str) -> None:
        self.containers.rename(name, self.get_query_argument("name", "", strip=False))
        self.no_content()


class RemoveHandler(ContainersHandler):
    async def delete(self, name: str) -> None:
        if self.bool_arg("link"):  # docker rm --link /parent/alias: only the link goes
            await self.call(self.containers.remove_link, name)
        else:
            await self.call(self.containers.remove, name, force=self.bool_arg("force"),
                            volumes=self.bool_arg("v"))
        self.no_content()


class LinkNameRemoveHandler(RemoveHandler):
    """``DELETE /containers/parent/alias``: dockerd's remove route takes a name with "/" (a
    link's, which ``docker rm --link`` sends); any other request there is an unknown path."""

    def prepare(self) -> None:
        if self.request.method != "DELETE":
            NotFoundHandler.prepare(self)  # type: ignore[arg-type]
        else:
            super().prepare()


class PruneHandler(ContainersHandler):
    async def post(self) -> None:
        self.write_json(await self.call(self.containers.prune, self.filters_arg()))


class UpdateHandler(ContainersHandler):
    async def post(self, name: str) -> None:
        self.write_json(await self.call(self.containers.update, name, self.json_body()))


class TopHandler(ContainersHandler):
    async def get(self, name: str) -> None:
        self.write_json(await self.call(self.containers.top, name, self.str_arg("ps_args") or ""))


class ResizeHandler(ContainersHandler):
    """POST /containers/{id}/resize?h=&w=, as dockerd 20.10: h, then w, read as Go's
    strconv.Atoi reads them (400 in its words, before the container is looked up), a
    container not running 409, then 200 with no body nor Content-Type."""

    async def post(self, name: str) -> None:
        height, width = self.atoi_arg("h"), self.atoi_arg("w")
        self.containers.resize(name, height, width)
        self.set_status(200)
        self.clear_header("Content-Type")
        self.finish()


class WaitHandler(ContainersHandler):
    """Headers go out at once (the docker CLI waits for them before it starts the container);
    the body follows at the exit."""

    async def post(self, name: str) -> None:
        future = self.containers.exit_future(name, self.get_query_argument("condition", ""))
        self.set_status(200)
        self.set_header("Content-Type", "application/json")
        if future.done():  # exited already (``run``'s usual case): headers and body in one go
            self.finish(gojson.dumps(future.result()) + "\n")
            return
        try:
            await self.flush()
            trace.mark(self.trace_id, "wait.flushed")
            body = await asyncio.wrap_future(future)
            trace.mark(self.trace_id, "wait.woken")
            self.finish(gojson.dumps(body) + "\n")
        except StreamClosedError:
            future.cancel()


def _bridge(queue: asyncio.Queue[tuple[str, bytes]]) -> Callable[[str, bytes], None]:
    loop = asyncio.get_running_loop()

    def put(kind: str, data: bytes) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (kind, data))
    return put


class AttachHandler(ContainersHandler):
    async def post(self, name: str) -> None:
        keys = self.str_arg("detachKeys")
        try:  # dockerd: the keys before the lookup, and a refusal as raw text on the connection
            check_detach_keys(keys, "detach")
            record = self.containers.to_attach(name)
        except DockyardError as exc:
            await refuse(self, exc)
            return
        tty = bool(record.config.get("Tty"))
        wanted = {s for s in ("stdout", "stderr") if self.bool_arg(s)}
        queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        stream = self.bool_arg("stream")
        unsubscribe = self.containers.listen(record.id, _bridge(queue)) if stream else None
        conn = await hijack(self, tty)
        await _until_read(conn)
        self.containers.attached(record.id)
        # Without stdin the client half-closes at once, so its EOF says nothing: such an
        # attach ends with the container's exit or removal.
        # on a tty, dockerd watches the input for the detach keys: they end the attach alone
        scanner = DetachScanner(detach_sequence(keys or DEFAULT_DETACH_KEYS) if tty else b"")
        pump = asyncio.ensure_future(self._stdin(conn, record, scanner, queue)) \
            if self.bool_arg("stdin") else None
        try:
            if self.bool_arg("logs"):
                reader = LogReader(record.log_path, LogOptions("stdout" in wanted,
                                                               "stderr" in wanted),
                                   log_files(record.host_config))
                for kind, data in reader.initial():
                    await conn.write(data if tty else frame(_STREAM_IDS[kind], data))
            while stream:
                kind, data = await queue.get()
                if kind == "detach":
                    await self.call(self.containers.detached, record.id)
                    break
                if kind == "exit":
                    break
                if kind in wanted:
                    await conn.write(data if tty else frame(_STREAM_IDS[kind], data))
        except StreamClosedError:
            pass
        finally:
            if unsubscribe is not None:
                unsubscribe()
            if pump is not None:
                pump.cancel()
            conn.close()

    async def _stdin(self, conn: Any, record: Any, scanner: DetachScanner,
                     queue: asyncio.Queue[tuple[str, bytes]]) -> None:
        """Client input to the container; its half-close is EOF (with StdinOnce); the detach
        keys end the attach instead (the container goes on)."""
        while data := await conn.read():  # in the pool: a busy shim must not stall the loop
            passed = scanner.feed(data)
            if passed:
                await self.call(self.containers.write_stdin, record.id, passed)
            if scanner.detached:
                queue.put_nowait(("detach", b""))
                return
        if record.config.get("StdinOnce"):
            await self.call(self.containers.close_stdin, record.id)


async def _until_read(conn: Any, timeout: float = 0.1) -> None:
    """Wait (briefly) until the client has read the 101 response: docker-py parses it through a
    buffered file, and output sent in the same burst would vanish into that buffer."""
    sock = getattr(conn, "_sock", None)
    if sock is None or sock.family != socket.AF_UNIX:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        unread = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
        if unread == 0:
            return
        await asyncio.sleep(0.0005)


class LogsHandler(ContainersHandler):
    async def get(self, name: str) -> None:
        record = self.containers.get(name)
        check_readable(record.host_config)
        options = LogOptions(self.bool_arg("stdout"), self.bool_arg("stderr"),
                             parse_time(self.str_arg("since")), parse_time(self.str_arg("until")),
                             _tail(self.get_query_argument("tail", "all")),
                             self.bool_arg("timestamps"), self.bool_arg("details"))
        if options.details:
            options.attrs = extra_attrs(record.config or {}, record.host_config or {})
        if not (options.stdout or options.stderr):
            raise InvalidArgument("Bad parameters: you must choose at least one stream")
        tty = bool(record.config.get("Tty"))
        follow = self.bool_arg("follow") and _seconds_until(options.until_ns) != 0.0
        queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        unsubscribe = self.containers.listen(record.id, _bridge(queue)) if follow else None
        try:
            await self._send(record, options, tty, follow and record.running, queue)
        except StreamClosedError:
            pass
        finally:
            if unsubscribe is not None:
                unsubscribe()

    async def _send(self, record: Any, options: LogOptions, tty: bool, follow: bool,
                    queue: asyncio.Queue[tuple[str, bytes]]) -> None:
        if self.version_below("1.42"):  # dockerd 20.10 names no type for a log stream
            self.clear_header("Content-Type")
        else:
            self.set_header("Content-Type", content_type(self.api_version, tty))
        reader = LogReader(record.log_path, options, log_files(record.host_config))
        if not follow:  # all there is: headers and body go out in one write at the finish
            self._frame(reader.initial(), tty)
            self.finish()
            return
        await self._write(reader.initial(), tty)
        trace.mark(record.id, "logs.initial-sent")
        while follow:
            try:  # with ``until``, following ends at that time too (dockerd's)
                kind, _ = await asyncio.wait_for(queue.get(), _seconds_until(options.until_ns))
            except TimeoutError:
                kind = "exit"
            trace.mark(record.id, f"logs.{kind}")
            while not queue.empty() and kind != "exit":
                kind, _ = queue.get_nowait()
            follow = kind != "exit"
            if follow:
                await self._write(reader.read(), tty)
            else:  # the last lines and the end of the stream in one write
                self._frame(reader.read(), tty)
        self.finish()

    async def _write(self, entries: list[tuple[str, bytes]], tty: bool) -> None:
        self._frame(entries, tty)
        await self.flush()

    def _frame(self, entries: list[tuple[str, bytes]], tty: bool) -> None:
        if entries:
            self.write(b"".join(d if tty else frame(_STREAM_IDS[k], d) for k, d in entries))


def _seconds_until(until_ns: int) -> float | None:
    """How long a follower may wait for ``until`` (None: no ``until``; 0: it has passed)."""
    if not until_ns:
        return None
    return max(until_ns - time.time_ns(), 0) / 1e9


def _tail(text: str) -> int:
    if text in ("", "all"):
        return -1
    try:
        return max(int(text), -1)
    except ValueError:
        return -1


class EventsHandler(ContainersHandler):
    """``GET /events``: history since ``since``, then live until ``until`` or the client goes."""

    async def get(self) -> None:
        since, until = self.str_arg("since"), self.str_arg("until")
        since_ns = parse_time(since) if since else None
        until_ns = parse_time(until) if until else None  # "0" is a time too (1970)
        if since_ns is not None and until_ns is not None and until_ns < since_ns:
            raise InvalidArgument(f"`since` time ({since}) cannot be after `until` time ({until})")
        filters = self.filters_arg()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        bus = self.engine.events
        callback = lambda e: loop.call_soon_threadsafe(queue.put_nowait, e)
        # dockerd replays its buffer when either bound is given: until alone, from its first event
        history = bus.subscribe(callback, since_ns if since_ns is not None or not until else 0)
        self.set_header("Content-Type", "application/json")
        try:
            await self._stream(history, queue, filters, until_ns)
        except StreamClosedError:
            pass
        finally:
            bus.unsubscribe(callback)

    async def _stream(self, history: list[dict[str, Any]], queue: asyncio.Queue[dict[str, Any]],
                      filters: dict[str, list[str]], until_ns: int | None) -> None:
        await self.flush()
        for event in history:  # dockerd's buffer: an until of 0 (1970) bounds none of it
            if until_ns and event["timeNano"] > until_ns:
                self.finish()
                return
            if event_matches(event, filters):
                self.write(gojson.dumps(event) + "\n")
        await self.flush()
        while True:
            timeout = max(0.0, until_ns / 1e9 - time.time()) if until_ns is not None else None
            try:
                event = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                break
            if until_ns is not None and event["timeNano"] > until_ns:
                break
            if event_matches(event, filters):
                self.write(gojson.dumps(event) + "\n")
                await self.flush()
        self.finish()


NAME = "(.+)"
"""A container's name in a route's path: a link's name too (``linker/alias``, with its "/"),
as dockerd's ``{name:.*}`` takes it on every container route."""

ROUTES: list[tuple[str, type[EngineHandler]]] = [
    (r"/containers/create", CreateHandler),
    (r"/containers/json", ListHandler),
    (r"/containers/prune", PruneHandler),
    (rf"/containers/{NAME}/json", InspectHandler),
    (rf"/containers/{NAME}/start", StartHandler),
    (rf"/containers/{NAME}/stop", StopHandler),
    (rf"/containers/{NAME}/restart", RestartHandler),
    (rf"/containers/{NAME}/kill", KillHandler),
    (rf"/containers/{NAME}/wait", WaitHandler),
    (rf"/containers/{NAME}/pause", PauseHandler),
    (rf"/containers/{NAME}/unpause", UnpauseHandler),
    (rf"/containers/{NAME}/rename", RenameHandler),
    (rf"/containers/{NAME}/top", TopHandler),
    (rf"/containers/{NAME}/update", UpdateHandler),
    (rf"/containers/{NAME}/logs", LogsHandler),
    (rf"/containers/{NAME}/attach", AttachHandler),
    (rf"/containers/{NAME}/resize", ResizeHandler),
    (r"/containers/([^/]+)", RemoveHandler),
    (r"/events", EventsHandler),
]
