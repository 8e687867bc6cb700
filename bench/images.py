"""``GET /images/json`` with 500 images in the store: dockyard's daemon against dockerd.

Target (issue 2): under 20 ms. One keep-alive connection, many requests: the figure is the
daemon's time to list, not connection set-up.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
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
from .inputs import many_images_archive
from .load import post_load

COUNT = 500
TARGET = "< 20 ms"

DaemonFactory = Callable[[Context], AbstractContextManager[Daemon]]


def timed_list(ctx: Context, start: DaemonFactory, archive: Path) -> Stats:
    with start(ctx) as daemon:
        post_load(daemon, archive)
        conn = daemon.connect()
        try:
            listed = json.loads(conn.call("GET", "/images/json"))
            if len(listed) < COUNT:
                raise RuntimeError(f"{daemon.label} lists {len(listed)} images, expected {COUNT}")
            return measure(lambda: conn.call("GET", "/images/json"), max(30, ctx.repeats * 10),
                           warmup=3)
        finally:
            conn.close()


def bench(ctx: Context) -> list[Result]:
    archive = many_images_archive(ctx, COUNT)
    print(f"  images list with {COUNT} images", file=sys.stderr)
    mine = attempt(lambda: timed_list(ctx, dockyard_daemon, archive))
    peer = attempt(lambda: timed_list(ctx, private_dockerd, archive))
    return [Result(f"images list ({COUNT} images)", mine, {"dockerd": peer}, TARGET)]
