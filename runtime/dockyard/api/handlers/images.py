"""Image endpoints that need no registry and no containers.

Names may contain slashes (``localhost:5000/team/app:1``), so the routes capture ``(.+)`` and
tornado hands the handler the URL-unquoted name.
"""

from __future__ import annotations

from typing import Any

import tornado.web

from ...errors import DockyardError, InvalidArgument, Unavailable
from ..compat import adapt_image_inspect, adapt_image_summaries
from ..streams import (
    BackgroundStream,
    BodyPipe,
    upload_aborted,
    write_bytes_stream,
    write_json_stream,
)
from .base import EngineHandler

MAX_UPLOAD = 1 << 44
"""Uploads are streamed to the engine, never buffered, so their size needs no small cap."""


class ListHandler(EngineHandler):
    async def get(self) -> None:
        images = await self.call(
            self.engine.images_list, all=self.bool_arg("all"), filters=self.filters_arg(),
            digests=self.bool_arg("digests"),
        )
        self.write_json(adapt_image_summaries(images, self.api_version))


class InspectHandler(EngineHandler):
    async def get(self, name: str) -> None:
        image = await self.call(self.engine.image_inspect, name)
        self.write_json(adapt_image_inspect(image, self.api_version))


class HistoryHandler(EngineHandler):
    async def get(self, name: str) -> None:
        self.write_json(await self.call(self.engine.image_history, name))


class TagHandler(EngineHandler):
    async def post(self, name: str) -> None:
        await self.call(self.engine.image_tag, name, self.str_arg("repo") or "", self.str_arg("tag"))
        self.set_status(201)
        self.clear_header("Content-Type")
        self.finish()


class ImageHandler(EngineHandler):
    """``DELETE /images/{name}``."""

    async def delete(self, name: str) -> None:
        result = await self.call(
            self.engine.image_remove, name, force=self.bool_arg("force"),
            noprune=self.bool_arg("noprune"),
        )
        self.write_json(result)


class PruneHandler(EngineHandler):
    async def post(self) -> None:
        self.write_json(await self.call(self.engine.images_prune, self.filters_arg()))


class SaveHandler(EngineHandler):
    """``GET /images/{name}/get``: one image as a ``docker save`` tar."""

    async def get(self, name: str) -> None:
        await self._save([name])

    async def _save(self, names: list[str]) -> None:
        stream = self.pull(await self.call(self.engine.images_save, names))
        await write_bytes_stream(self, stream, "application/x-tar")


class SaveManyHandler(SaveHandler):
    """``GET /images/get?names=a&names=b``."""

    async def get(self) -> None:  # type: ignore[override]
        names = [n for n in self.get_query_arguments("names") if n]
        if not names:
            raise InvalidArgument("no image names given: use ?names=IMAGE")
        await self._save(names)


class UploadHandler(EngineHandler):
    """Base of endpoints whose request body is an archive: streamed to the engine as it comes.

    ``prepare`` starts the engine call in a worker, which reads the body through a
    ``BodyPipe`` while tornado receives it; ``post`` runs once the body is complete and writes
    the engine's messages as a JSON stream.
    """

    stream: BackgroundStream | None = None
    early_error: DockyardError | None = None
    pipe: BodyPipe

    def start(self, reader: Any) -> Any:
        raise NotImplementedError

    async def prepare(self) -> None:
        connection = self.request.connection
        if connection is not None and hasattr(connection, "set_max_body_size"):
            connection.set_max_body_size(MAX_UPLOAD)
        self.pipe = BodyPipe()
        try:
            iterator = await self.call(self.start, self.pipe.reader())
        except DockyardError as exc:
            # Answer only once the body has been read (and dropped): a client still sending
            # would otherwise see a reset connection instead of the error.
            self.early_error = exc
            self.pipe.close_reader()
            return
        self.stream = BackgroundStream(iterator, self.executor)
        self.stream.done.add_done_callback(lambda _f: self.pipe.close_reader())

    async def data_received(self, chunk: bytes) -> None:
        await self.pipe.feed(chunk)

    async def post(self) -> None:
        self.pipe.finish()
        if self.early_error is not None:
            raise self.early_error
        assert self.stream is not None
        await write_json_stream(self, self.stream)

    def on_connection_close(self) -> None:
        self.pipe.abort(upload_aborted())


@tornado.web.stream_request_body
class LoadHandler(UploadHandler):
    """``POST /images/load``: a ``docker save`` archive in, ``Loaded image: …`` messages out."""

    def start(self, reader: Any) -> Any:
        return self.engine.images_load(reader, quiet=self.bool_arg("quiet"))


@tornado.web.stream_request_body
class CreateHandler(UploadHandler):
    """``POST /images/create?fromSrc=-``: ``docker import`` of a rootfs tarball."""

    def start(self, reader: Any) -> Any:
        source = self.str_arg("fromSrc")
        if source is None:
            if self.str_arg("fromImage"):
                raise Unavailable("pulling images from a registry is not supported by this daemon yet")
            raise InvalidArgument("either fromImage or fromSrc must be given")
        if source != "-":
            raise InvalidArgument(f"importing from a URL is not supported: {source}; send the body (fromSrc=-)")
        return self.engine.image_import(
            reader, repo=self.str_arg("repo"), tag=self.str_arg("tag"),
            changes=self.get_query_arguments("changes"), message=self.get_query_argument("message", ""),
            platform=self.str_arg("platform"),
        )
