"""The CLI's connection to a daemon: docker-py, host chosen as ``-H`` → DOCKYARD_HOST → default.

docker-py is imported here, lazily, so that ``dockyard --help`` and ``dockyard daemon`` stay
light; ``connect_light`` spares the verbs bound by start-up its import altogether.
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
    return docker_client(client_host(getattr(args, "host", None)), timeout)


def connect_light(args: argparse.Namespace, timeout: int | None = 60) -> Any:
    """For the verbs whose time is mostly start-up (``run``, ``create``, ``version``, ``info``):
    :mod:`.engineapi`'s small client on a unix socket, docker-py on any other host."""
    from .engineapi import Engine, unix_path

    host = client_host(getattr(args, "host", None))
    return docker_client(host, timeout) if unix_path(host) is None else Engine(host, timeout)


def docker_client(host: str, timeout: float | None) -> Any:
    """docker-py's ``APIClient`` for ``host``; a daemon it cannot reach is ``Unavailable``."""
    import docker
    import docker.errors

    try:
        return docker.APIClient(base_url=host, version="auto", timeout=timeout)
    except docker.errors.DockerException:
        raise Unavailable(
            f"Cannot connect to the dockyard daemon at {host}. Is the dockyard daemon running?"
        ) from None


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
