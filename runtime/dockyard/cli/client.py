"""The CLI's connection to a daemon, host chosen as ``-H`` → DOCKYARD_HOST → default:
:func:`connect_light` for the verbs that only read JSON answers (:mod:`.engineapi`, no docker-py),
:func:`connect` (docker-py's ``APIClient``) for the others.

docker-py is imported here, lazily, so that ``dockyard --help``, ``dockyard daemon`` and the
light verbs never load it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import DockyardError, Unavailable
from ..hosts import client_host


class DaemonError(DockyardError):
    """An error the daemon reported (its message, verbatim)."""


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
    from .engineapi import EngineAPI, connection

    host = client_host(getattr(args, "host", None))
    conn = connection(host, timeout)
    if conn is None:
        return connect(args, timeout)
    try:
        return EngineAPI(conn)
    except Exception:  # noqa: BLE001 - as docker-py's negotiation: any failure is "cannot connect"
        conn.close()
        raise _unavailable(host) from None


def _unavailable(host: str) -> Unavailable:
    return Unavailable(f"Cannot connect to the dockyard daemon at {host}. Is the dockyard daemon running?")


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
