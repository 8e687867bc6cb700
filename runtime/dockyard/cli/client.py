"""The CLI's connection to a daemon: docker-py, host chosen as ``-H`` → DOCKYARD_HOST → default.

docker-py is imported here, lazily, so that ``dockyard --help`` and ``dockyard daemon`` stay
light.
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
