"""Volume endpoints (``/volumes…``): thin wrappers over ``engine.volumes``."""

from __future__ import annotations

import tornado.web

from ...filters import check_keys
from .base import EngineHandler
from .execs import json_body


class ListHandler(EngineHandler):
    """GET /volumes"""

    async def get(self) -> None:
        self.write_json(await self.call(self.engine.volumes.list_volumes, self.filters_arg()))


class CreateHandler(EngineHandler):
    """POST /volumes/create"""

    async def post(self) -> None:
        self.write_json(await self.call(self.engine.volumes.create, json_body(self)), status=201)


class PruneHandler(EngineHandler):
    """POST /volumes/prune — before API 1.42 every unused volume goes, not only anonymous ones,
    and ``all`` is no filter there (dockerd 20.10: ``Invalid filter 'all'``)."""

    async def post(self) -> None:
        filters = self.filters_arg()
        if self.version_below("1.42"):
            check_keys(filters, ("label", "label!"))
            filters["all"] = ["true"]
        self.write_json(await self.call(self.engine.volumes.prune, filters))


class VolumeHandler(EngineHandler):
    """GET / DELETE /volumes/{name}"""

    async def get(self, name: str) -> None:
        self.write_json(await self.call(self.engine.volumes.inspect, name))

    async def delete(self, name: str) -> None:
        await self.call(self.engine.volumes.remove, name, self.bool_arg("force"))
        self.set_status(204)
        self.finish()


ROUTES: list[tuple[str, type[tornado.web.RequestHandler]]] = [
    (r"/volumes", ListHandler),
    (r"/volumes/create", CreateHandler),
    (r"/volumes/prune", PruneHandler),
    (r"/volumes/([^/]+)", VolumeHandler),
]
