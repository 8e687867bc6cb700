"""A stand-in Engine API server that answers docker-py's ``containers.run`` requests at once and
runs nothing: what ``containers.run`` costs against it is docker-py's own floor (requests,
urllib3, one connection pool per URL), the part of every daemon's figure no daemon can cut.

It serves only what ``containers.run("busybox", "true", remove=True)`` asks for — version,
create (a fresh id each time, as a daemon gives: docker-py's pools are per URL), inspect,
start, logs (an empty stream), wait, remove — and dockerd's 404 for anything else.
``python3 -m bench.null_engine <socket path>`` serves until it is terminated.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from typing import Any

_ids = itertools.count(1)
Answer = tuple[int, "dict[str, Any] | bytes | None"]


def answer(method: str, path: str) -> Answer:
    """Status and body for one request (``path`` without its query)."""
    parts = path.strip("/").split("/")
    if parts and parts[0].startswith("v1."):
        parts = parts[1:]
    if parts == ["version"]:
        return 200, {"ApiVersion": "1.47", "MinAPIVersion": "1.24", "Version": "null"}
    if parts == ["containers", "create"] and method == "POST":
        return 201, {"Id": f"{next(_ids):064x}", "Warnings": []}
    if len(parts) == 2 and parts[0] == "containers" and method == "DELETE":
        return 204, None
    if len(parts) == 3 and parts[0] == "containers":
        cid, action = parts[1], parts[2]
        if action == "json":
            return 200, {"Id": cid, "Name": "/null", "Image": "sha256:" + "0" * 64,
                         "State": {"Status": "exited", "Running": False, "ExitCode": 0},
                         "Config": {"Tty": False, "Image": "busybox"},
                         "HostConfig": {"LogConfig": {"Type": "json-file", "Config": {}}}}
        if action == "start" and method == "POST":
            return 204, None
        if action == "logs":
            return 200, b""
        if action == "wait" and method == "POST":
            return 200, {"StatusCode": 0, "Error": None}
    return 404, {"message": "page not found"}


def response(status: int, body: dict[str, Any] | bytes | None) -> bytes:
    if body is None:
        return f"HTTP/1.1 {status} -\r\nContent-Length: 0\r\n\r\n".encode()
    kind = "application/vnd.docker.raw-stream" if isinstance(body, bytes) else "application/json"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return f"HTTP/1.1 {status} -\r\nContent-Type: {kind}\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while request_line := await reader.readline():
            method, target, _version = request_line.decode("latin-1").split(" ", 2)
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            writer.write(response(*answer(method, target.split("?", 1)[0])))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()


async def serve(path: str) -> None:
    if os.path.exists(path):
        os.unlink(path)
    server = await asyncio.start_unix_server(_serve, path)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
