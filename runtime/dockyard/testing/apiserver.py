"""An Engine API application served in a background thread by the daemon's own HTTP layer
(:mod:`dockyard.api.wire`), for tests that want the API without a whole daemon process."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

from ..api.wire import Server


class ThreadedServer:
    """``app`` served on ``sockets`` (bound and listening) until :meth:`close`."""

    def __init__(self, app: Any, sockets: list[socket.socket]) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = Server(app)
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.server.listen(sockets))
            self.loop.call_soon(ready.set)
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, name="api-server", daemon=True)
        self.thread.start()
        if not ready.wait(10):
            raise RuntimeError("the API server did not start")

    def close(self) -> None:
        async def stop() -> None:
            self.server.stop()
            await self.server.close_all_connections()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
