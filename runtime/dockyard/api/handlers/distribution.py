"""Registry endpoints: pull (``/images/create?fromImage=``), push, ``/auth``, search, and
``/distribution/{name}/json``.

Credentials arrive per request in ``X-Registry-Auth`` (base64url JSON, as the docker CLI and
docker-py send it); the daemon never stores them.
"""

from __future__ import annotations

import json
from typing import Any

import tornado.web

from ... import gojson
from ...errors import DockyardError, InvalidArgument
from ..streams import write_json_stream
from .base import EngineHandler
from .images import CreateHandler as ImportHandler


def registry_auth(handler: tornado.web.RequestHandler) -> Any:
    from ...distribution.credentials import decode_header

    return decode_header(handler.request.headers.get("X-Registry-Auth"))


@tornado.web.stream_request_body
class CreateHandler(ImportHandler):
    """``POST /images/create``: ``fromImage`` pulls from a registry, ``fromSrc`` imports."""

    def start(self, reader: Any) -> Any:
        from ...distribution.service import asks_every_tag

        image, tag = self.str_arg("fromImage"), self.str_arg("tag")
        if image is None:
            return super().start(reader)
        return self.engine.image_pull(image, tag=tag, platform=self.str_arg("platform"),
                                      auth=registry_auth(self), all_tags=asks_every_tag(image, tag))


def push_auth(handler: tornado.web.RequestHandler) -> Any:
    """A push's credentials as dockerd 20.10's postImagesPush reads them: ``X-Registry-Auth``,
    or else the body as JSON credentials (the API's first form) — a body that gives none (empty,
    or a form's, which Go's ParseForm has read) is its 400 in encoding/json's words."""
    from ...distribution.credentials import from_dict

    if handler.request.headers.get("X-Registry-Auth"):
        return registry_auth(handler)
    form = handler.request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
    try:
        value = _first_json_value(b"" if form else handler.request.body)
    except ValueError as exc:
        raise InvalidArgument(f"Bad parameters and missing X-Registry-Auth: {exc}") from None
    return from_dict(value or {})


def _first_json_value(body: bytes) -> Any:
    """Go's ``json.Decoder.Decode`` into an AuthConfig: the first value (what follows is not
    read), ``EOF`` for none, ``unexpected EOF`` for a cut one."""
    text = body.decode("utf-8", "replace").lstrip(" \t\r\n")
    if not text:
        raise ValueError("EOF")
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as exc:
        words = gojson.error(exc)
        raise ValueError("unexpected EOF" if words == "unexpected end of JSON input" else words) from None
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"json: cannot unmarshal {gojson.kind(value)} into Go value of type types.AuthConfig")
    return value


class PushHandler(EngineHandler):
    """``POST /images/{name}/push?tag=``."""

    async def post(self, name: str) -> None:
        auth = push_auth(self)
        iterator = await self.call(self.engine.image_push, name, tag=self.str_arg("tag"), auth=auth)
        await write_json_stream(self, self.pull(iterator))


class AuthHandler(EngineHandler):
    """``POST /auth``: validate credentials against the registry (``docker login``)."""

    async def post(self) -> None:
        from ...distribution.credentials import from_dict

        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError as exc:
            raise InvalidArgument(f"invalid JSON body: {exc}") from None
        if not isinstance(body, dict):
            raise InvalidArgument("invalid JSON body: expected an object")
        result = await self.call(self.engine.registry_login, from_dict(body))
        self.write_json(result)


class SearchHandler(EngineHandler):
    """``GET /images/search?term=&limit=&filters=``: dockerd 20.10's order — ``limit`` read
    first (Go's ``strconv.Atoi``, its 500), then the filters, then the search (whose range
    check of ``limit`` follows the registry's ping, :meth:`DistributionService.search`)."""

    async def get(self) -> None:
        from ...distribution.service import check_search_limit, search_filter
        from ...gostrconv import atoi as go_atoi

        try:
            limit = go_atoi(self.get_query_argument("limit", "", strip=False) or "25")
        except ValueError as exc:
            raise DockyardError(str(exc)) from None
        filters = self.filters_arg()
        search_filter(filters)  # dockerd refuses them before it looks at the term
        term = self.str_arg("term")
        if not term:  # dockerd would search Docker Hub, checking the limit first (no ping)
            check_search_limit(limit)
            raise InvalidArgument("term is required")
        result = await self.call(self.engine.image_search, term, limit, registry_auth(self), filters)
        self.write_json(result)


class InspectHandler(EngineHandler):
    """``GET /distribution/{name}/json``: the registry's descriptor and platforms of ``name``."""

    async def get(self, name: str) -> None:
        result = await self.call(self.engine.distribution_inspect, name, registry_auth(self))
        self.write_json(result)
