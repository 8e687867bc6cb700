"""A daemon stopping shuts its engine-call pool down (``daemon._drain``) while hijacked streams
(attach, exec) still run; a handler's engine call from then on is dockerd's 503 in
``{"message"}`` form — before, ``run_in_executor`` raised "cannot schedule new futures after
shutdown", logged as a traceback (and an exec's stream, which waits for the exit code after its
output, ended on it)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from tornado.netutil import bind_sockets

from dockyard.api.app import make_app
from dockyard.api.handlers.base import SHUTTING_DOWN
from dockyard.testing.apiserver import ThreadedServer


def test_an_engine_call_after_the_pool_is_shut_down_is_a_503(engine: Any) -> None:
    pool = ThreadPoolExecutor(max_workers=1)
    pool.shutdown()
    sockets = bind_sockets(0, "127.0.0.1")
    served = ThreadedServer(make_app(engine, pool), sockets)
    try:
        url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
        answer = requests.get(url + "/info", timeout=30)
    finally:
        served.close()
    assert answer.status_code == 503
    assert answer.json() == {"message": SHUTTING_DOWN}
