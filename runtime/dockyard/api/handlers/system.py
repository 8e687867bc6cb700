"""System endpoints: ``/_ping``, ``/version``, ``/info``, ``/system/df``."""

from __future__ import annotations

from ... import API_VERSION
from ..compat import adapt_disk_usage, complete_version
from .base import EngineHandler


class PingHandler(EngineHandler):
    """Clients negotiate their API version from these headers (docker CLI, docker-py)."""

    def _ping_headers(self) -> None:
        self.set_header("API-Version", API_VERSION)
        self.set_header("Builder-Version", "1")
        self.set_header("Docker-Experimental", "false")
        self.set_header("OSType", "linux")
        self.set_header("Cache-Control", "no-cache, no-store, must-revalidate")
        self.set_header("Pragma", "no-cache")
        self.set_header("Content-Type", "text/plain; charset=utf-8")

    def get(self) -> None:
        self._ping_headers()
        self.finish("OK")

    def head(self) -> None:
        self._ping_headers()
        self.set_header("Content-Length", "0")
        self.finish()


class VersionHandler(EngineHandler):
    async def get(self) -> None:
        self.write_json(complete_version(await self.call(self.engine.version)))


class InfoHandler(EngineHandler):
    async def get(self) -> None:
        self.write_json(await self.call(self.engine.info))


class SystemDfHandler(EngineHandler):
    async def get(self) -> None:
        usage = await self.call(self.engine.system_df)
        self.write_json(adapt_disk_usage(usage, self.api_version))
