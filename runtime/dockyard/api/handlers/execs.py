"""Exec endpoints: create, start (hijacked or detached), inspect, resize."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from ...errors import DockyardError, InvalidArgument, Unavailable
from ...goterm import detach_sequence
from ..hijack import DEFAULT_DETACH_KEYS, STDERR, STDOUT, frame, hijack, relay
from .base import EngineHandler


def json_body(handler: EngineHandler) -> dict[str, Any]:
    """The request's JSON object (an empty body is ``{}``), or dockerd's 400."""
    try:
        body = json.loads(handler.request.body or b"{}")
    except ValueError as exc:
        raise InvalidArgument(f"invalid JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidArgument("invalid JSON body: expected an object")
    return body


def check_detach_keys(keys: str | None, words: str) -> None:
    """dockerd refuses detach keys it cannot read before anything starts: ``words`` is its
    wording ("detach" for a container's attach; an exec's create checks its own, after the
    container, in ``containers/execs.py``)."""
    if keys:
        try:
            detach_sequence(keys)
        except ValueError:
            raise InvalidArgument(f"Invalid {words} keys ({keys}) provided") from None


class CreateHandler(EngineHandler):
    """POST /containers/{id}/exec"""

    async def post(self, name: str) -> None:
        body = json_body(self)
        exec_id = await self.call(self.engine.execs.create, name, body)
        self.write_json({"Id": exec_id}, status=201)


class StartHandler(EngineHandler):
    """POST /exec/{id}/start — the process's stdio over the hijacked connection."""

    async def post(self, exec_id: str) -> None:
        body = json_body(self)
        execs = self.engine.execs
        detach = bool(body.get("Detach"))
        tty = bool(body.get("Tty", await self.call(execs.tty_of, exec_id)))
        kwargs = {"detach": detach, "tty": tty, "console_size": body.get("ConsoleSize")}
        if detach:
            (await self.call(execs.start, exec_id, **kwargs)).close()
            self.set_status(200)
            self.finish()
            return
        await self.call(execs.check_startable, exec_id)  # 404/409 as HTTP errors, before the switch
        # The switch goes out before the process starts (as dockerd does it): a client reading
        # the 101 head must not get output in the same read, or docker-py would lose it.
        stream = await hijack(self, tty=tty)
        async with stream:
            try:
                session = await self.call(execs.start, exec_id, **kwargs)
            except DockyardError as exc:
                data = (str(exc) + "\r\n").encode()
                await stream.write(data if tty else frame(STDOUT, data))
                return
            try:
                if await self._relay(stream, session):
                    execs.detached(session)  # ctrl-p ctrl-q: the process keeps running
                    return
                with contextlib.suppress(Unavailable):  # the daemon stops: ends the exec too
                    await self.call(execs.wait, exec_id)
            finally:
                session.close()

    @staticmethod
    async def _relay(stream: Any, session: Any) -> bool:
        """True if the client detached (only a tty with stdin watches for the detach keys)."""
        if session.tty:
            outputs = [(session.console, STDOUT)] if session.console is not None else []
            stdin = session.console if session.instance.config.get("AttachStdin") else None
            keys = detach_sequence(session.instance.config.get("DetachKeys") or DEFAULT_DETACH_KEYS)
            return await relay(stream, stdin, outputs, tty=True, detach_keys=keys)
        outputs = [(fd, sid) for fd, sid in ((session.stdout, STDOUT), (session.stderr, STDERR))
                   if fd is not None]
        return await relay(stream, session.stdin, outputs, tty=False, input_done=session.close_stdin)


class InspectHandler(EngineHandler):
    """GET /exec/{id}/json"""

    async def get(self, exec_id: str) -> None:
        self.write_json(await self.call(self.engine.execs.inspect, exec_id))


class ResizeHandler(EngineHandler):
    """POST /exec/{id}/resize?h=&w="""

    async def post(self, exec_id: str) -> None:
        try:
            height, width = int(self.get_query_argument("h", "0")), int(self.get_query_argument("w", "0"))
        except ValueError:
            raise InvalidArgument("invalid resize parameters: h and w must be integers") from None
        await self.call(self.engine.execs.resize, exec_id, height, width)
        self.set_status(200)
        self.finish()
