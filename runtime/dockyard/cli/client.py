"""The CLI's connection to a daemon, host chosen as ``-H`` → DOCKYARD_HOST → default:
:func:`connect_light` for the verbs users type most (:mod:`.engineapi`, no docker-py: ``ps``,
``images``, ``run``…), :func:`connect` (docker-py's ``APIClient``) for the others.

docker-py is imported here, lazily, so that ``dockyard --help``, ``dockyard daemon`` and the
light verbs never load it.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..errors import DockyardError, Unavailable
from ..hosts import client_host


class DaemonError(DockyardError):
    """An error the daemon reported (its message, verbatim)."""


Verb = Callable[[argparse.Namespace], int]


def connect(args: argparse.Namespace, timeout: int | None = 60) -> Any:
    """A docker-py ``APIClient`` for the selected daemon, API version negotiated."""
    import docker
    import docker.errors

    host = client_host(getattr(args, "host", None))
    try:
        return docker.APIClient(base_url=host, version="auto", timeout=timeout)
    except docker.errors.DockerException:
        raise _unavailable(host) from None


def connect_light(args: argparse.Namespace, timeout: int | None = 60) -> Any:
    """An :class:`.engineapi.EngineAPI` for the selected daemon, API version negotiated — or,
    for a host it does not speak, docker-py's ``APIClient`` (the same method names)."""
    from .engineapi import EngineAPI, connector

    host = client_host(getattr(args, "host", None))
    connect_to = connector(host, timeout)
    if connect_to is None:
        return connect(args, timeout)
    try:
        return EngineAPI(connect_to)
    except Exception:  # noqa: BLE001 - as docker-py's negotiation: any failure is "cannot connect"
        raise _unavailable(host) from None


def _unavailable(host: str) -> Unavailable:
    return Unavailable(f"Cannot connect to the dockyard daemon at {host}. Is the dockyard daemon running?")


def api_error_message(exc: Exception) -> str:
    """The daemon's message; a route it lacks (404 ``page not found``) is named instead."""
    explanation = str(getattr(exc, "explanation", None) or exc)
    if getattr(exc, "status_code", None) == 404 and "page not found" in explanation:
        method, path = _request_of(exc)
        return f"the daemon does not serve {method} {path.split('?')[0]} (page not found)"
    return explanation


def _request_of(exc: Exception) -> tuple[str, str]:
    """(method, path) of the request a docker-py or :mod:`.engineapi` error answered."""
    response = getattr(exc, "response", None)
    if response is not None:
        return response.request.method, response.request.path_url
    return getattr(exc, "method", "?"), getattr(exc, "path", "?")


def is_api_error(exc: BaseException) -> bool:
    """An error status from the daemon, through docker-py or :mod:`.engineapi` (docker-py is not
    imported to ask: an error of its cannot exist if nothing loaded it)."""
    from .engineapi import APIError

    docker_errors = sys.modules.get("docker.errors")
    return isinstance(exc, APIError) or (docker_errors is not None and isinstance(exc, docker_errors.APIError))


# The 404 messages docker-py takes for an image that is not there (its ImageNotFound).
_IMAGE_NOT_FOUND = ("no such image", "not found: does not exist or no pull access", "repository does not exist",
                    "was found but does not match the specified platform")


def is_image_not_found(exc: BaseException) -> bool:
    explanation = str(getattr(exc, "explanation", None) or "").lower()
    return (is_api_error(exc) and getattr(exc, "status_code", None) == 404
            and any(fragment in explanation for fragment in _IMAGE_NOT_FOUND))


def endpoint_guard(func: Verb) -> Verb:
    """A route the daemon lacks (404 ``page not found``) becomes one line naming the request."""
    @functools.wraps(func)
    def guarded(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except Exception as exc:
            if is_api_error(exc):
                raise DaemonError(api_error_message(exc)) from None
            raise
    return guarded


def json_messages(chunks: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Decode a JSON-message stream; an ``errorDetail`` message becomes a ``DaemonError``."""
    for item in chunks:
        messages = [item] if isinstance(item, dict) else _split(item)
        for message in messages:
            if "errorDetail" in message or "error" in message:
                detail = message.get("errorDetail") or {}
                raise DaemonError(detail.get("message") or str(message.get("error")))
            yield message


def _split(raw: bytes | str) -> list[dict[str, Any]]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    return [json.loads(line) for line in text.splitlines() if line.strip()]
