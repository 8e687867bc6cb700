"""Registry endpoints: pull (``/images/create?fromImage=``), push, ``/auth``, search, and
``/distribution/{name}/json``.

Credentials arrive per request in ``X-Registry-Auth`` (base64url JSON, as the docker CLI and
docker-py send it); the daemon never stores them.
"""

from __future__ import annotations

import json
from typing import Any

import tornado.web

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


class PushHandler(EngineHandler):
    """``POST /images/{name}/push?tag=``."""

    async def post(self, name: str) -> None:
        auth = registry_auth(self)
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
