"""Which daemon the front end talks to, and the one funnel that turns docker-py's errors into
the front end's (one line each).

Host selection: ``--host`` on the magic, then ``DOCKYARD_HOST``, then configuration
(``c.DockerMagics.host``), then the bundled daemon's socket (``launcher.bundled_host``: the
usual one, or one inside ``$DOCKYARD_DATA_ROOT``), which is started on first use when nothing
answers there.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import docker
import docker.errors
import requests.exceptions

from . import launcher
from .errors import DaemonError, DaemonUnreachable

_clients: dict[str, docker.DockerClient] = {}
_lock = threading.Lock()


def resolve_host(explicit: str | None = None, configured: str | None = None) -> str:
    return explicit or os.environ.get("DOCKYARD_HOST") or configured or launcher.bundled_host()


def get_client(host: str) -> docker.DockerClient:
    """One client per host per kernel: version negotiation and login state are kept."""
    with _lock:
        client = _clients.get(host)
        if client is None:
            client = _clients[host] = _connect(host)
        return client


def forget_client(host: str) -> None:
    with _lock:
        client = _clients.pop(host, None)
    if client is not None:
        client.close()


def _connect(host: str) -> docker.DockerClient:
    if host == launcher.bundled_host():
        launcher.ensure_daemon(host)
    try:
        return docker.DockerClient(base_url=host, version="auto", timeout=60)
    except docker.errors.DockerException as exc:
        raise DaemonUnreachable(host, _root_cause(exc)) from None


_CAUSES = (("FileNotFoundError", "no such socket"), ("ConnectionRefused", "connection refused"),
           ("PermissionError", "permission denied"), ("timed out", "timed out"),
           ("Name or service not known", "unknown host"))


def _root_cause(exc: BaseException) -> str:
    """A few words for the usual transport failures instead of urllib3's nested reprs."""
    text = repr(exc) + repr(exc.__context__)
    for needle, words in _CAUSES:
        if needle in text:
            return words
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


@contextmanager
def daemon_errors(host: str) -> Iterator[None]:
    """Translate docker-py and transport failures at one edge."""
    try:
        yield
    except docker.errors.APIError as exc:
        status = exc.status_code or 500
        raise DaemonError(str(exc.explanation or exc), status) from None
    except (requests.exceptions.ConnectionError, ConnectionError, FileNotFoundError) as exc:
        forget_client(host)
        raise DaemonUnreachable(host, _root_cause(exc)) from None
    except docker.errors.DockerException as exc:
        raise DaemonError(str(exc)) from None
