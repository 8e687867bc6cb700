"""The CLI's light Engine API client: ``http.client`` over the daemon's unix socket (or a plain
``tcp://`` address), for the verbs that send one request and print its JSON answer — ``version``,
``info``, ``ps``, ``images``, ``system df``.

Why not docker-py, which the streaming verbs use: importing it (requests, urllib3,
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
import socket
from typing import Any
from urllib.parse import urlencode, urlsplit

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


def connection(host: str, timeout: float | None) -> http.client.HTTPConnection | None:
    """A connection to ``unix:///abs/path`` or ``tcp://host:port`` (``http://``); None for a
    host this client leaves to docker-py."""
    parts = urlsplit(host.strip())
    if parts.query or parts.fragment or parts.password:
        return None
    if parts.scheme == "unix" and not parts.netloc and parts.path.startswith("/"):
        return _UnixConnection(parts.path, timeout)
    if parts.scheme in ("tcp", "http") and parts.hostname and parts.port and parts.path in ("", "/"):
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
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


class EngineAPI:
    """The daemon at one host over one kept-alive connection: ``api_version`` is the server's,
    as docker-py's ``version="auto"`` takes it."""

    def __init__(self, conn: http.client.HTTPConnection) -> None:
        self.conn = conn
        self.api_version = ""
        self.api_version = str(self.get("/version", versioned=False)["ApiVersion"])

    def get(self, path: str, params: dict[str, Any] | None = None, versioned: bool = True) -> Any:
        """``GET path`` (under ``/v<api_version>`` unless not ``versioned``): its JSON answer."""
        query = {k: v for k, v in (params or {}).items() if v is not None}  # as requests drops None
        target = (f"/v{self.api_version}" if versioned else "") + path
        if query:
            target += "?" + urlencode(query)
        self.conn.request("GET", target)
        response = self.conn.getresponse()
        body = response.read()
        if response.status >= 400:
            raise APIError(response.status, _explanation(body), "GET", target)
        return json.loads(body)

    def version(self) -> dict[str, Any]:
        return dict(self.get("/version"))

    def info(self) -> dict[str, Any]:
        return dict(self.get("/info"))

    def df(self) -> dict[str, Any]:
        return dict(self.get("/system/df"))

    def containers(self, all: bool = False, limit: int = -1, size: bool = False,
                   filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, "all": int(all), "size": int(size), "trunc_cmd": 0}
        if filters:
            params["filters"] = filters_param(filters)
        return list(self.get("/containers/json", params))

    def images(self, all: bool = False,
               filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"only_ids": 0, "all": int(all)}
        if filters:
            params["filters"] = filters_param(filters)
        return list(self.get("/images/json", params))

    def close(self) -> None:
        self.conn.close()


def _explanation(body: bytes) -> str:
    """docker-py's: the JSON ``message``, else the body's text stripped."""
    try:
        return str(json.loads(body)["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode(errors="replace").strip()
