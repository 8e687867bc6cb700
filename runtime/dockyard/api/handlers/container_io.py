"""What flows in and out of a container besides its stdio: stats, files (archive, export),
changes and commits."""

from __future__ import annotations

from ...containers import stats
from ...errors import InvalidArgument
from ..streams import write_json_stream
from .base import EngineHandler


class StatsHandler(EngineHandler):
    """GET /containers/{id}/stats?stream=&one-shot="""

    async def get(self, name: str) -> None:
        stream = self.bool_arg("stream") if self.get_query_argument("stream", None) is not None else True
        one_shot = self.bool_arg("one-shot")
        if stream and one_shot:
            raise InvalidArgument("cannot have stream=true and one-shot=true")
        samples = await self.call(stats.container_stats, self.engine.containers, name, stream, one_shot)
        await write_json_stream(self, self.pull(samples))
