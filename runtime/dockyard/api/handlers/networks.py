"""Network endpoints (``/networks…``): thin wrappers over ``engine.networks``."""

from __future__ import annotations

import tornado.web

from ..compat import network_check_duplicate
from .base import EngineHandler
from .execs import json_body


class ListHandler(EngineHandler):
    """GET /networks"""

    async def get(self) -> None:
        self.write_json(await self.call(self.engine.networks.list_networks, self.filters_arg()))


class CreateHandler(EngineHandler):
    """POST /networks/create"""

    async def post(self) -> None:
        body = json_body(self)
        self.write_json(await self.call(self.engine.networks.create, body,
                                        network_check_duplicate(body, self.api_version)), status=201)


class PruneHandler(EngineHandler):
    """POST /networks/prune"""

    async def post(self) -> None:
        self.write_json(await self.call(self.engine.networks.prune, self.filters_arg()))


class NetworkHandler(EngineHandler):
    """GET / DELETE /networks/{id}"""

    async def get(self, name: str) -> None:
        self.write_json(await self.call(self.engine.networks.inspect, name))

    async def delete(self, name: str) -> None:
        await self.call(self.engine.networks.remove, name)
        self.set_status(204)
        self.finish()


class ConnectHandler(EngineHandler):
    """POST /networks/{id}/connect  {"Container": …, "EndpointConfig": {…}}"""

    async def post(self, name: str) -> None:
        body = json_body(self)
        await self.call(self.engine.networks.connect, name, str(body.get("Container") or ""),
                        body.get("EndpointConfig") or {})
        self.set_status(200)
        self.finish()


class DisconnectHandler(EngineHandler):
    """POST /networks/{id}/disconnect  {"Container": …, "Force": bool}"""

    async def post(self, name: str) -> None:
        body = json_body(self)
        await self.call(self.engine.networks.disconnect, name, str(body.get("Container") or ""),
                        bool(body.get("Force")))
        self.set_status(200)
        self.finish()


ROUTES: list[tuple[str, type[tornado.web.RequestHandler]]] = [
    (r"/networks", ListHandler),
    (r"/networks/create", CreateHandler),
    (r"/networks/prune", PruneHandler),
    (r"/networks/([^/]+)/connect", ConnectHandler),
    (r"/networks/([^/]+)/disconnect", DisconnectHandler),
    (r"/networks/([^/]+)", NetworkHandler),
]
