"""``load`` of a 256 MiB ``docker save`` archive: dockyard's daemon against a private dockerd.

Both sides get the same request from the same client — ``POST /images/load`` with the archive
as body over a keep-alive unix-socket connection — so the figure is the daemon's work: read,
hash, store and unpack. The image is removed (untimed) before every run, so each load is a
real one, not "layers already exist".
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from .harness import (
    Context,
    Daemon,
    Result,
    Stats,
    attempt,
    dockyard_daemon,
    measure,
    private_dockerd,
)
from .inputs import load_archive

REF = "bench-load:latest"

DaemonFactory = Callable[[Context], AbstractContextManager[Daemon]]


def post_load(daemon: Daemon, archive: Path) -> None:
    """``POST /images/load``; an error in the JSON stream fails the run."""
    conn = daemon.connect()
    try:
        with open(archive, "rb") as body:
            out = conn.call("POST", "/images/load?quiet=1", body=body, headers={
                "Content-Type": "application/x-tar", "Content-Length": str(archive.stat().st_size)})
    finally:
        conn.close()
    for line in _json_lines(out):
        if "errorDetail" in line or "error" in line:
            raise RuntimeError(f"{daemon.label} load: {line}")


def _json_lines(data: bytes) -> Iterator[dict[str, object]]:
    for raw in data.splitlines():
        if raw.strip():
            yield json.loads(raw)


def remove_image(daemon: Daemon, ref: str) -> None:
    """``DELETE /images/{ref}?force=1``; an image already gone is fine."""
    conn = daemon.connect()
    try:
        conn.request("DELETE", f"/images/{ref}?force=1")
        conn.getresponse().read()
    finally:
        conn.close()


def timed_load(ctx: Context, start: DaemonFactory, archive: Path) -> Stats:
    with start(ctx) as daemon:
        post_load(daemon, archive)
        _inspect(daemon, REF)  # the side really loads, before it is timed
        return measure(lambda: post_load(daemon, archive), ctx.repeats,
                       setup=lambda: _fresh(daemon))


def _fresh(daemon: Daemon) -> None:
    """Untimed: the image gone, and dirty pages flushed so a run pays only its own write-back."""
    remove_image(daemon, REF)
    os.sync()


def _inspect(daemon: Daemon, ref: str) -> None:
    conn = daemon.connect()
    try:
        conn.call("GET", f"/images/{ref}/json")
    finally:
        conn.close()


def bench(ctx: Context) -> list[Result]:
    archive = load_archive(ctx)
    size = archive.stat().st_size
    print(f"  load {size / 1e6:.0f} MB archive", file=sys.stderr)
    mine = attempt(lambda: timed_load(ctx, dockyard_daemon, archive))
    peer = attempt(lambda: timed_load(ctx, private_dockerd, archive))
    return [Result(f"load {size // (1 << 20)} MiB archive", mine, {"dockerd": peer}, "", size)]
