"""A small Engine API client for the CLI's start-up-bound verbs (``run``, ``create``, ``version``).

docker-py takes about 0.3 s to import (requests, urllib3, charset_normalizer, ssl) — four times
what ``docker run --rm busybox true`` takes in all. Over a ``unix:///`` socket these verbs need
a handful of plain requests, so they speak HTTP/1.1 here: one keep-alive connection per thread at
a time, the attach stream hijacked on a socket of its own. Every other host (tcp: proxies from
the environment; ssh; TLS) and every other verb stay with docker-py (:func:`.client.connect`), as
does ``pull`` (credentials and their helpers), which :meth:`Engine.pull` hands over to it.

Methods keep docker-py's names and arguments, so :mod:`.running` drives either client; an error
status is an :class:`EngineError` carrying the daemon's message as docker-py's ``explanation``.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote_plus, urlencode

from .. import __version__
from ..errors import Unavailable
from .client import DaemonError

MINIMUM_API_VERSION = (1, 24)  # docker-py's floor
# docker-py's ImageNotFound: a 404 whose message has one of these
_IMAGE_MISSING = ("no such image", "not found: does not exist or no pull access",
                  "repository does not exist", "was found but does not match the specified platform")


class EngineError(DaemonError):
    """An error status: ``explanation`` is the daemon's message, as in docker-py's ``APIError``."""

    def __init__(self, status: int, reason: str, method: str, path: str, explanation: str) -> None:
        kind = "Client" if status < 500 else "Server"
        super().__init__(explanation or f"{status} {kind} Error for http+docker://localhost{path}: {reason}")
        self.status, self.method, self.path, self.explanation = status, method, path, explanation


class ImageMissing(EngineError):
    """docker-py's ``ImageNotFound``: create on an image that is not there."""


class Response:
    """A complete response: status, reason, lower-case headers and the body."""

    def __init__(self, status: int, reason: str, headers: dict[str, str], body: bytes) -> None:
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


def unix_path(host: str) -> str | None:
    """The socket path of a ``unix:///…`` host; None for every host docker-py must serve."""
    host = host.strip()
    if not host.startswith("unix:///"):
        return None
    return host[len("unix://"):].rstrip("/") or None


def general_config() -> dict[str, Any]:
    """``config.json`` as docker-py finds it ($DOCKER_CONFIG, ~/.docker, ~/.dockercfg): its
    ``HttpHeaders`` go on every request and its ``detachKeys`` on attach."""
    home = os.path.expanduser("~")
    env = os.environ.get("DOCKER_CONFIG")
    for path in filter(None, [env and os.path.join(env, "config.json"),
                              os.path.join(home, ".docker", "config.json"),
                              os.path.join(home, ".dockercfg")]):
        if os.path.exists(path):
            try:
                with open(path) as f:
                    loaded = json.load(f)
            except (OSError, ValueError):
                return {}
            return loaded if isinstance(loaded, dict) else {}
    return {}


class _Conn:
    """One HTTP/1.1 connection to the socket; ``rfile`` buffers its responses."""

    def __init__(self, path: str, timeout: float | None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self.rfile = self.sock.makefile("rb")
        self.fresh = True

    def close(self) -> None:
        self.rfile.close()
        self.sock.close()


class Engine:
    """The Engine API on a unix socket, API version negotiated (``/_ping``) as docker-py's
    ``version="auto"`` does; a daemon that does not answer is :class:`~dockyard.errors.Unavailable`."""

    def __init__(self, host: str, timeout: float | None = 60) -> None:
        path = unix_path(host)
        if path is None:
            raise ValueError(f"not a unix socket host: {host}")
        self.host, self.path, self.timeout = host, path, timeout
        self.config = general_config()
        self._idle: list[_Conn] = []
        self._docker: Any = None
        self.api_version = self._negotiate()

    def _negotiate(self) -> str:
        try:
            response = self._exchange("GET", "/_ping")
            version = response.headers.get("api-version")
            if response.status < 400 and not version:
                version = str(self._exchange("GET", "/version").json()["ApiVersion"])
        except (OSError, ValueError, KeyError, TypeError):
            version = None
        else:
            if response.status >= 400:
                version = None
        if not version or tuple(map(int, version.split(".")[:2])) < MINIMUM_API_VERSION:
            raise Unavailable(f"Cannot connect to the dockyard daemon at {self.host}. "
                              "Is the dockyard daemon running?")
        return version

    # ---- HTTP ---------------------------------------------------------------------------------

    def url(self, path: str, *ids: str, params: dict[str, Any] | None = None) -> str:
        """``/v<api>/path`` with ``{0}`` … filled by quoted ids and the non-None params."""
        target = f"/v{self.api_version}" + path.format(*(quote_plus(i, safe="/:") for i in ids))
        query = {k: v for k, v in (params or {}).items() if v is not None}
        return f"{target}?{urlencode(query)}" if query else target

    def _request_bytes(self, method: str, target: str, body: bytes | None,
                       headers: dict[str, str] | None) -> bytes:
        lines = [f"{method} {target} HTTP/1.1", "Host: docker", f"User-Agent: dockyard-cli/{__version__}"]
        fields = {**(self.config.get("HttpHeaders") or {}), **(headers or {})}
        if body is not None:
            fields.setdefault("Content-Type", "application/json")
        if body is not None or method == "POST":
            fields["Content-Length"] = str(len(body or b""))
        lines += [f"{k}: {v}" for k, v in fields.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")

    def _exchange(self, method: str, target: str, payload: Any = None,
                  on_headers: Callable[[], None] | None = None) -> Response:
        """One request on an idle connection (a new one if none, or if the daemon closed it)."""
        if isinstance(payload, dict):  # docker-py's _post_json leaves out top-level nulls
            payload = {k: v for k, v in payload.items() if v is not None}
        body = None if payload is None else json.dumps(payload).encode()
        request = self._request_bytes(method, target, body, None)
        while True:
            conn = self._take()
            try:
                conn.sock.sendall(request)
                head = _read_head(conn.rfile)
            except (BrokenPipeError, ConnectionResetError, EOFError) as exc:
                conn.close()
                if conn.fresh:
                    raise ConnectionResetError(str(exc)) from None
                continue  # a kept-alive connection the daemon had closed: once more on a new one
            conn.fresh = False
            break
        status, reason, headers = head
        if on_headers is not None:
            on_headers()
        data, reusable = _read_body(conn.rfile, headers, status, method)
        if reusable:
            self._idle.append(conn)
        else:
            conn.close()
        return Response(status, reason, headers, data)

    def _take(self) -> _Conn:
        try:
            return self._idle.pop()
        except IndexError:
            return _Conn(self.path, self.timeout)

    def call(self, method: str, target: str, payload: Any = None,
             on_headers: Callable[[], None] | None = None) -> Response:
        """A request whose error status becomes an :class:`EngineError`."""
        response = self._exchange(method, target, payload, on_headers)
        if response.status >= 400:
            raise _error(response, method, target)
        return response

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

    # ---- docker-py's names --------------------------------------------------------------------

    def version(self) -> Any:
        return self.call("GET", self.url("/version")).json()

    def info(self) -> Any:
        return self.call("GET", self.url("/info")).json()

    def create_container_from_config(self, config: dict[str, Any], name: str | None = None,
                                     platform: str | None = None) -> Any:
        params = {"name": name, "platform": platform}
        return self.call("POST", self.url("/containers/create", params=params), config).json()

    def start(self, container: str) -> None:
        self.call("POST", self.url("/containers/{0}/start", container))

    def inspect_container(self, container: str) -> Any:
        return self.call("GET", self.url("/containers/{0}/json", container)).json()

    def kill(self, container: str, signal: str | int | None = None) -> None:
        self.call("POST", self.url("/containers/{0}/kill", container, params={"signal": signal}))

    def resize(self, container: str, height: int, width: int) -> None:
        self.call("POST", self.url("/containers/{0}/resize", container, params={"h": height, "w": width}))

    def wait(self, container: str, condition: str | None = None,
             on_registered: Callable[[], None] | None = None) -> Any:
        """``POST /containers/{id}/wait``; ``on_registered`` runs when the headers arrive (the
        daemon flushes them once the waiter is in place)."""
        target = self.url("/containers/{0}/wait", container, params={"condition": condition})
        return self.call("POST", target, on_headers=on_registered).json()

    def attach_socket(self, container: str, params: dict[str, Any] | None = None) -> socket.socket:
        """The attach stream, hijacked: the socket past the response's headers (101 or 200)."""
        params = dict(params or {"stdout": 1, "stderr": 1, "stream": 1})
        if "detachKeys" not in params and "detachKeys" in self.config:
            params["detachKeys"] = self.config["detachKeys"]
        target = self.url("/containers/{0}/attach", container, params=params)
        conn = _Conn(self.path, self.timeout)
        try:
            conn.sock.sendall(self._request_bytes("POST", target, None,
                                                  {"Connection": "Upgrade", "Upgrade": "tcp"}))
            status, reason, headers = _read_head_unbuffered(conn.sock)
            if status >= 400:
                data, _ = _read_body(conn.rfile, headers, status, "POST")
                raise _error(Response(status, reason, headers, data), "POST", target)
        except BaseException:
            conn.close()
            raise
        conn.rfile.close()
        return conn.sock

    def pull(self, repository: str, stream: bool = True, decode: bool = True,
             platform: str | None = None) -> Iterator[Any]:
        """docker-py's pull (it reads credentials and runs their helpers)."""
        if self._docker is None:
            from .client import docker_client

            self._docker = docker_client(self.host, self.timeout)
        result: Iterator[Any] = self._docker.pull(repository, stream=stream, decode=decode,
                                                  platform=platform)
        return result


# ---- the wire ---------------------------------------------------------------------------------


def _parse_head(raw: bytes) -> tuple[int, str, dict[str, str]]:
    status_line, *fields = raw.decode("latin-1").split("\r\n")
    _, status, *reason = status_line.split(" ", 2)
    headers = {}
    for field in fields:
        if ":" in field:
            key, _, value = field.partition(":")
            headers[key.strip().lower()] = value.strip()
    return int(status), (reason[0] if reason else ""), headers


def _read_head(rfile: Any) -> tuple[int, str, dict[str, str]]:
    raw = b""
    while True:
        line = rfile.readline(65537)
        if not line:
            raise EOFError("the daemon closed the connection")
        if line in (b"\r\n", b"\n"):
            return _parse_head(raw.rstrip(b"\r\n"))
        raw += line


def _read_head_unbuffered(sock: socket.socket) -> tuple[int, str, dict[str, str]]:
    """The headers, and not one byte more: what follows is the hijacked stream."""
    raw = b""
    while not raw.endswith(b"\r\n\r\n"):
        peek = sock.recv(4096, socket.MSG_PEEK)
        if not peek:
            raise EOFError("the daemon closed the connection")
        end = (raw[-3:] + peek).find(b"\r\n\r\n")
        take = len(peek) if end < 0 else end + 4 - len(raw[-3:])
        while take:
            chunk = sock.recv(take)
            raw, take = raw + chunk, take - len(chunk)
    return _parse_head(raw[:-4])


def _read_body(rfile: Any, headers: dict[str, str], status: int, method: str) -> tuple[bytes, bool]:
    """The body, and whether the connection can carry another request."""
    keep = headers.get("connection", "").lower() != "close"
    if method == "HEAD" or status in (101, 204, 304) or 100 <= status < 200:
        return b"", keep and status != 101
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts = []
        while size := int(rfile.readline(65537).split(b";")[0].strip() or b"0", 16):
            parts.append(rfile.read(size))
            rfile.readline(65537)
        while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(parts), keep
    if "content-length" in headers:
        return rfile.read(int(headers["content-length"])), keep
    return rfile.read(), False


def _error(response: Response, method: str, target: str) -> EngineError:
    """docker-py's ``create_api_error_from_http_exception``: the message, and which error."""
    try:
        explanation = str(response.json()["message"])
    except (ValueError, KeyError, TypeError):
        explanation = response.body.decode(errors="replace").strip()
    missing = response.status == 404 and any(f in explanation.lower() for f in _IMAGE_MISSING)
    return (ImageMissing if missing else EngineError)(response.status, response.reason, method,
                                                      target.split("?")[0], explanation)
