"""Two routes the JupyterLab panel needs that the Engine API alone cannot give a browser:

- ``GET /dockyard/registries``: the daemon's registries (``/info`` IndexConfigs) and which ones
  the Jupyter user is logged in to, from ``~/.docker/config.json`` — server names and user
  names only, never a secret.
- ``GET /dockyard/events``: the daemon's ``/events``, with the response head passed on at
  once: the daemon sends nothing more until something happens, and the panel must know the
  stream is open to say its lists are live.
- ``POST /dockyard/build?path=DIR/Dockerfile&t=NAME``: builds a Dockerfile from the notebook
  tree. The context (the Dockerfile's folder, minus ``.dockerignore``) is packed here on the
  server, where the files are, and streamed to the daemon's ``/build``; the daemon's progress
  streams back unchanged.
- ``GET /dockyard/lock?path=DIR/NOTEBOOK.ipynb``: what that notebook's kernel recorded in the
  ``dockyard.lock.json`` beside it (its own entries, secrets nulled: see ``lockfile``), which
  the panel merges into the notebook's ``metadata.dockyard``. A read of the notebook tree, so
  it asks Jupyter's authorizer for ``contents`` read; 404 when there is no lock.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import urlencode

from jupyter_server.auth.decorator import authorized
from tornado import httputil, web
from tornado.httpclient import HTTPClientError

from dockyard.distribution import credentials
from dockyard.errors import DockyardError, InvalidArgument, NotFound

from .. import lockfile
from .handlers import DockyardHandler, ProxyHandler

CHUNK = 256 * 1024


def logins(config: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Registries with stored credentials: inline ``auths`` (user name decoded) and helpers."""
    found: dict[str, dict[str, str]] = {}
    for server, entry in (config.get("auths") or {}).items():
        found[server] = {"username": _username(entry)}
    for server in config.get("credHelpers") or {}:
        found.setdefault(server, {"username": ""})
    return found


def _username(entry: Any) -> str:
    if not isinstance(entry, dict):
        return ""
    if entry.get("username"):
        return str(entry["username"])
    try:
        user = base64.b64decode(str(entry.get("auth", ""))).decode().split(":", 1)[0]
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return "" if user == credentials.TOKEN_USER else user


class RegistriesHandler(DockyardHandler):
    @web.authenticated
    async def get(self) -> None:
        try:
            info = await self.proxy.get_json("/info")
        except HTTPClientError as exc:
            if exc.code != 599:                 # the daemon answered: its status and words
                raise web.HTTPError(exc.code, daemon_message(exc)) from None
            raise self._unreachable(exc.message) from None
        except OSError as exc:
            raise self._unreachable(exc.strerror or str(exc)) from None
        body: dict[str, Any] = {
            "registries": (info.get("RegistryConfig") or {}).get("IndexConfigs") or {}}
        try:
            body["logins"] = logins(credentials.load_config())
        except InvalidArgument as exc:       # a broken config.json: say so, list registries
            body.update(logins={}, error=str(exc))
        self.finish(body)

    def _unreachable(self, reason: str | None) -> web.HTTPError:
        return web.HTTPError(502, f"dockyard daemon at {self.proxy.host} is unreachable: "
                                  f"{reason}")


def daemon_message(exc: HTTPClientError) -> str:
    """The Engine API's ``{"message": …}`` of an error response, else tornado's summary."""
    try:
        return str(json.loads(exc.response.body)["message"])  # type: ignore[union-attr]
    except (AttributeError, KeyError, TypeError, ValueError):
        return str(exc)


class EventsHandler(ProxyHandler):
    def _target(self) -> str:
        return "/events" + (f"?{self.request.query}" if self.request.query else "")

    def _on_headers(self, code: int, reason: str, headers: httputil.HTTPHeaders) -> None:
        super()._on_headers(code, reason, headers)
        self.flush()


def inside_root(root: str, path: str) -> Path:
    """``path`` (relative to the notebook root) resolved; anything outside the root, symlinks
    included, is refused."""
    base = Path(root).resolve()
    target = (base / path.lstrip("/")).resolve()
    if base != target and base not in target.parents:
        raise InvalidArgument(f"{path} is outside the notebook directory")
    return target


def context_dir(root: str, path: str) -> tuple[Path, str]:
    """``path`` (a Dockerfile, relative to the notebook root) → its folder and file name."""
    dockerfile = inside_root(root, path)
    if not dockerfile.is_file():
        raise NotFound(f"no such Dockerfile: {path}")
    return dockerfile.parent, dockerfile.name


def pack_context(folder: Path, dockerfile: str) -> IO[bytes]:
    """The build context as docker-py packs it (``.dockerignore`` honoured), in a temp file."""
    from docker.utils import build as docker_build

    ignore = folder / ".dockerignore"
    exclude: list[str] = []
    if ignore.is_file():
        exclude = [line.strip() for line in ignore.read_text().splitlines()
                   if line.strip() and not line.lstrip().startswith("#")]
    archive: IO[bytes] = docker_build.tar(str(folder), exclude=exclude,
                                          dockerfile=(dockerfile, None))
    return archive


class BuildHandler(ProxyHandler):
    """The daemon's ``/build``, with a context packed from the notebook tree."""

    async def _send(self, producer: Any) -> Any:
        root = self.settings.get("server_root_dir") or os.getcwd()
        folder, name = context_dir(root, self.get_query_argument("path"))
        archive = pack_context(folder, name)
        size = archive.seek(0, os.SEEK_END)
        archive.seek(0)
        query = {"dockerfile": name, "rm": "1", "forcerm": "1"}   # no failed-step leftovers
        if tag := self.get_query_argument("t", "").strip():
            query["t"] = tag
        headers = httputil.HTTPHeaders({"Content-Type": "application/x-tar",
                                        "Content-Length": str(size)})

        async def body(write: Any) -> None:
            with archive:
                while chunk := archive.read(CHUNK):
                    await write(chunk)

        return await self.proxy.request("POST", f"/build?{urlencode(query)}", headers, body,
                                        self._on_headers, self._on_chunk)


def notebook_lock(root: str, path: str) -> dict[str, Any]:
    """The lock beside notebook ``path``, cut down to that notebook's own entries."""
    if not path.endswith(".ipynb"):
        raise InvalidArgument(f"{path} is not a notebook (.ipynb)")
    notebook = inside_root(root, path)
    lock = lockfile.LockFile.load(notebook.parent)
    if not lock.path.is_file():
        raise NotFound(f"no {lockfile.LOCK_NAME} beside {path}")
    present = {p.name for p in notebook.parent.glob("*.ipynb")}
    return lockfile.for_notebook(lock.data, PurePosixPath(path).name, present)


class LockHandler(DockyardHandler):
    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        root = self.settings.get("server_root_dir") or os.getcwd()
        self.set_header("Cache-Control", "no-store")
        try:
            record = notebook_lock(root, self.get_query_argument("path"))
        except DockyardError as exc:       # expected (no lock is the usual case): no traceback
            raise web.HTTPError(exc.status, str(exc)) from None
        self.finish(record)


def route_table() -> list[tuple[str, type[Any]]]:
    return [
        (r"/dockyard/registries", RegistriesHandler),
        (r"/dockyard/build", BuildHandler),
        (r"/dockyard/events", EventsHandler),
        (r"/dockyard/lock", LockHandler),
    ]
