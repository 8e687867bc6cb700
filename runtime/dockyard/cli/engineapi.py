"""The CLI's light Engine API client: ``http.client`` over the daemon's unix socket (or a plain
``tcp://`` address), for the verbs users type most — ``version``, ``info``, ``ps``, ``images``,
``system df``, and ``run``, ``create``, ``start`` (an attach is an upgraded connection handed to
:mod:`.streams`; a missing image is pulled by the ``pull`` verb's docker-py).

Why not docker-py, which the other verbs use: importing it (requests, urllib3,
charset_normalizer, …) costs a CLI start ~180 ms, several times what these verbs then take, and
for them it is nothing but a transport. :class:`EngineAPI` speaks as docker-py's ``APIClient``
does, method for method — the API version negotiated by an unversioned ``GET /version``, then
``/v<version>/`` paths and the same query strings — and fails in the same words: a daemon that
does not answer the negotiation is :class:`~dockyard.errors.Unavailable`, an error status an
:class:`APIError` whose text is the daemon's message. A host it does not speak (``ssh://``,
``https://``, a relative unix path) gets docker-py's client, whose methods have the same names.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from ..errors import DockyardError


class APIError(DockyardError):
    """An error status from the daemon; the text is its ``message``, as docker-py's
    ``explanation``."""

    def __init__(self, status_code: int, explanation: str, method: str, path: str) -> None:
        super().__init__(explanation or f"{status_code} error from the daemon")
        self.status_code = status_code
        self.explanation = explanation
        self.method, self.path = method, path


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def connector(host: str, timeout: float | None) -> Callable[[], http.client.HTTPConnection] | None:
    """What makes a connection to ``unix:///abs/path`` or ``tcp://host:port`` (``http://``);
    None for a host this client leaves to docker-py."""
    parts = urlsplit(host.strip())
    if parts.query or parts.fragment or parts.password:
        return None
    path, hostname, port = parts.path, parts.hostname, parts.port
    if parts.scheme == "unix" and not parts.netloc and path.startswith("/"):
        return lambda: _UnixConnection(path, timeout)
    if parts.scheme in ("tcp", "http") and hostname and port and path in ("", "/"):
        return lambda: http.client.HTTPConnection(hostname, port, timeout=timeout)
    return None


def filters_param(filters: dict[str, Any]) -> str:
    """docker-py's ``convert_filters``: each value a list of strings, booleans as Go's."""
    result = {}
    for key, value in filters.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, list):
            value = [value]
        result[key] = [item if isinstance(item, str) else str(item) for item in value]
    return json.dumps(result)


class NullResource(ValueError):
    """docker-py's refusal of an empty container name, before any request (the funnel prints
    ``NullResource: Resource ID was not provided`` as it did)."""


def general_config() -> dict[str, Any]:
    """``config.json`` as docker-py's ``load_general_config`` finds it ($DOCKER_CONFIG, then
    ~/.docker, then the legacy ~/.dockercfg): its ``HttpHeaders`` go with every request, its
    ``detachKeys`` with an attach."""
    home = os.path.expanduser("~")
    paths = [os.path.join(os.environ["DOCKER_CONFIG"], "config.json")] if os.environ.get("DOCKER_CONFIG") else []
    for path in [*paths, os.path.join(home, ".docker", "config.json"), os.path.join(home, ".dockercfg")]:
        if os.path.exists(path):
            try:
                with open(path) as f:
                    loaded = json.load(f)
            except (OSError, ValueError):
                return {}
            return loaded if isinstance(loaded, dict) else {}
    return {}


class EngineAPI:
    """The daemon at one host: ``api_version`` is the server's, as docker-py's ``version="auto"``
    takes it. Kept-alive connections are reused one request at a time, from any thread (a
    signal's kill, a resize); a wait and an attach hold connections of their own."""

    def __init__(self, connect: Callable[[], http.client.HTTPConnection]) -> None:
        self._connect = connect
        self._idle = [connect()]
        config = general_config()
        self.headers: dict[str, str] = dict(config.get("HttpHeaders") or {})
        self.detach_keys: str | None = config.get("detachKeys")
        self.api_version = ""
        self.api_version = str(self.call("GET", "/version", versioned=False)["ApiVersion"])

    def target(self, path: str, *args: str, params: dict[str, Any] | None = None, versioned: bool = True) -> str:
        """docker-py's ``_url``: ``args`` quoted into ``path``, under ``/v<api_version>``; the query
        without its None values, as requests drops them."""
        if any(not arg for arg in args):
            raise NullResource("Resource ID was not provided")
        target = (f"/v{self.api_version}" if versioned else "") + path.format(*(quote(a, safe="/:") for a in args))
        query = {k: v for k, v in (params or {}).items() if v is not None}
        return target + ("?" + urlencode(query) if query else "")

    def open(self, method: str, target: str, body: bytes | None = None, headers: dict[str, str] | None = None,
             conn: http.client.HTTPConnection | None = None) -> http.client.HTTPResponse:
        """Send a request on ``conn`` (a new connection if None) and read its status and headers;
        an error status is an :class:`APIError`."""
        conn = conn or self._connect()
        conn.request(method, target, body=body, headers={**(headers or {}), **self.headers})
        response = conn.getresponse()
        if response.status >= 400:
            raise APIError(response.status, _explanation(response.read()), method, target)
        return response

    def call(self, method: str, path: str, *args: str, params: dict[str, Any] | None = None,
             body: dict[str, Any] | None = None, versioned: bool = True) -> Any:
        """One request on a kept-alive connection: its JSON answer (None for an empty body). A
        ``body`` is sent as JSON without its None values, as docker-py's ``_post_json``."""
        target = self.target(path, *args, params=params, versioned=versioned)
        data = headers = None
        if body is not None:
            data = json.dumps({k: v for k, v in body.items() if v is not None}).encode()
            headers = {"Content-Type": "application/json"}
        conn = self._idle.pop() if self._idle else self._connect()
        try:
            answer = self.open(method, target, data, headers, conn).read()
        except BaseException:
            conn.close()
            raise
        self._idle.append(conn)
        return json.loads(answer) if answer else None

    def version(self) -> dict[str, Any]:
        return dict(self.call("GET", "/version"))

    def info(self) -> dict[str, Any]:
        return dict(self.call("GET", "/info"))

    def df(self) -> dict[str, Any]:
        return dict(self.call("GET", "/system/df"))

    def containers(self, all: bool = False, limit: int = -1, size: bool = False,
                   filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, "all": int(all), "size": int(size), "trunc_cmd": 0}
        if filters:
            params["filters"] = filters_param(filters)
        return list(self.call("GET", "/containers/json", params=params))

    def images(self, all: bool = False,
               filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"only_ids": 0, "all": int(all)}
        if filters:
            params["filters"] = filters_param(filters)
        return list(self.call("GET", "/images/json", params=params))

    def inspect_container(self, container: str) -> dict[str, Any]:
        return dict(self.call("GET", "/containers/{0}/json", container))

    def create_container_from_config(self, config: dict[str, Any], name: str | None = None,
                                     platform: str | None = None) -> dict[str, Any]:
        params = {"name": name, **({"platform": platform} if platform else {})}
        return dict(self.call("POST", "/containers/create", params=params, body=config))

    def start(self, container: str) -> None:
        self.call("POST", "/containers/{0}/start", container)

    def kill(self, container: str, signal: str | int | None = None) -> None:
        params = {} if signal is None else {"signal": signal if isinstance(signal, str) else int(signal)}
        self.call("POST", "/containers/{0}/kill", container, params=params)

    def resize(self, container: str, height: int, width: int) -> None:
        self.call("POST", "/containers/{0}/resize", container, params={"h": height, "w": width})

    def wait(self, container: str, condition: str | None = None) -> dict[str, Any]:
        return dict(self.call("POST", "/containers/{0}/wait", container, params={"condition": condition}))

    def open_wait(self, container: str, condition: str) -> http.client.HTTPResponse:
        """``POST /containers/{id}/wait`` on a connection of its own, returned once the daemon has
        sent the headers — it has registered the waiter — the body still to read."""
        return self.open("POST", self.target("/containers/{0}/wait", container, params={"condition": condition}))

    def attach_socket(self, container: str, params: dict[str, Any]) -> socket.socket:
        """The attach's connection, upgraded: the socket itself (docker-py's hands out the same)."""
        if "detachKeys" not in params and self.detach_keys:
            params = {**params, "detachKeys": self.detach_keys}
        conn = self._connect()
        self.open("POST", self.target("/containers/{0}/attach", container, params=params),
                  headers={"Connection": "Upgrade", "Upgrade": "tcp"}, conn=conn)
        sock, conn.sock = conn.sock, None  # the connection lets go of it: the session owns it
        assert sock is not None
        return sock

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


def _explanation(body: bytes) -> str:
    """docker-py's: the JSON ``message``, else the body's text stripped."""
    try:
        return str(json.loads(body)["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode(errors="replace").strip()
