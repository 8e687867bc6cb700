"""What flows in and out of a container besides its stdio: stats, files (archive, export),
changes and commits."""

from __future__ import annotations

import asyncio

import tornado.web

from ...containers import archive, commit, stats
from ...errors import InvalidArgument
from ..streams import BodyPipe, upload_aborted, write_bytes_stream, write_json_stream
from .base import EngineHandler
from .execs import json_body

MAX_UPLOAD = 1 << 40  # docker cp streams: no practical limit, the pipe bounds memory


class StatsHandler(EngineHandler):
    """GET /containers/{id}/stats?stream=&one-shot="""

    async def get(self, name: str) -> None:
        stream = self.bool_arg("stream") if self.get_query_argument("stream", None) is not None else True
        one_shot = self.bool_arg("one-shot")
        if stream and one_shot:
            raise InvalidArgument("cannot have stream=true and one-shot=true")
        samples = await self.call(stats.container_stats, self.engine.containers, name, stream, one_shot)
        await write_json_stream(self, self.pull(samples))


@tornado.web.stream_request_body
class ArchiveHandler(EngineHandler):
    """HEAD/GET/PUT /containers/{id}/archive?path= — ``docker cp`` both ways."""

    upload: asyncio.Future[None] | None = None
    pipe: BodyPipe | None = None

    async def prepare(self) -> None:
        if self.request.method != "PUT":
            return
        connection = self.request.connection
        if connection is not None and hasattr(connection, "set_max_body_size"):
            connection.set_max_body_size(MAX_UPLOAD)
        self.pipe = pipe = BodyPipe()
        self.upload = asyncio.ensure_future(self.call(
            archive.put, self.engine.containers, self.path_args[0], self.str_arg("path"),
            pipe.reader(), self.bool_arg("noOverwriteDirNonDir"), self.bool_arg("copyUIDGID")))
        self.upload.add_done_callback(lambda _f: pipe.close_reader())

    async def data_received(self, chunk: bytes) -> None:
        if self.pipe is not None:
            await self.pipe.feed(chunk)

    def on_connection_close(self) -> None:
        if self.pipe is not None:
            self.pipe.abort(upload_aborted())

    async def head(self, name: str) -> None:
        stat = await self.call(archive.stat, self.engine.containers, name, self.str_arg("path"))
        self.set_header("X-Docker-Container-Path-Stat", archive.stat_header(stat))
        self.set_header("Content-Type", "application/x-tar")
        self.finish()

    async def get(self, name: str) -> None:
        stat, chunks = await self.call(archive.get, self.engine.containers, name, self.str_arg("path"))
        self.set_header("X-Docker-Container-Path-Stat", archive.stat_header(stat))
        await write_bytes_stream(self, self.pull(chunks), "application/x-tar")

    async def put(self, name: str) -> None:
        assert self.pipe is not None and self.upload is not None
        self.pipe.finish()
        await self.upload
        self.set_status(200)
        self.finish()


class ExportHandler(EngineHandler):
    """GET /containers/{id}/export"""

    async def get(self, name: str) -> None:
        chunks = await self.call(archive.export, self.engine.containers, name)
        await write_bytes_stream(self, self.pull(chunks), "application/x-tar")


class ChangesHandler(EngineHandler):
    """GET /containers/{id}/changes — ``docker diff``."""

    async def get(self, name: str) -> None:
        self.write_json(await self.call(commit.changes, self.engine.containers, name))


class CommitHandler(EngineHandler):
    """POST /commit?container=&repo=&tag=&comment=&author=&changes=&pause= (body: a Config)."""

    async def post(self) -> None:
        config = json_body(self) if self.request.body.strip() not in (b"", b"null") else None
        pause = self.bool_arg("pause") if self.get_query_argument("pause", "") else True
        image_id = await self.call(
            commit.commit, self.engine, self.get_query_argument("container", ""),
            repo=self.str_arg("repo"), tag=self.str_arg("tag"),
            comment=self.get_query_argument("comment", ""), author=self.get_query_argument("author", ""),
            change_list=self.get_query_arguments("changes"), pause=pause, config=config)
        self.write_json({"Id": image_id}, status=201)
