"""Stream framing, upload streaming and backpressure.

A stub engine stands in only for faults the real store cannot produce on demand: an error
after the stream has started, an endless save, a consumer that reveals when it sees bytes.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
import requests

from dockyard.api.streams import BodyPipe
from dockyard.errors import InvalidArgument


class StubEngine:
    def __init__(self) -> None:
        self.first_bytes = threading.Event()
        self.save_closed = threading.Event()
        self.received = 0

    def images_load(self, stream: BinaryIO, quiet: bool = False) -> Iterator[dict[str, Any]]:
        while block := stream.read(4096):
            self.received += len(block)
            self.first_bytes.set()
        yield {"stream": f"read {self.received} bytes\n"}
        raise InvalidArgument("boom after the first message")

    def images_save(self, names: list[str]) -> Iterator[bytes]:
        try:
            if names == ["broken"]:
                yield b"x" * 1000
                raise InvalidArgument("disk fell off")
            while True:
                yield b"\0" * (1 << 20)
        finally:
            self.save_closed.set()


def test_error_after_first_message_is_written_in_the_stream(serve) -> None:
    api = serve(StubEngine())
    r = api.post("/images/load", data=b"a" * 5000)
    assert r.status_code == 200
    messages = [json.loads(line) for line in r.text.splitlines()]
    assert messages[0] == {"stream": "read 5000 bytes\n"}
    assert messages[-1] == {"errorDetail": {"message": "boom after the first message"},
                            "error": "boom after the first message"}


def test_binary_stream_error_cuts_the_connection(serve) -> None:
    api = serve(StubEngine())
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _ = api.get("/images/broken/get").content


def test_client_disconnect_closes_the_engine_iterator(serve) -> None:
    engine = StubEngine()
    api = serve(engine)
    r = requests.get(api.url + "/images/endless/get", stream=True, timeout=10)
    next(r.iter_content(65536))
    r.close()
    assert engine.save_closed.wait(10), "the save generator was never closed"


def test_upload_reaches_the_engine_before_the_body_ends(serve) -> None:
    engine = StubEngine()
    api = serve(engine)

    def body() -> Iterator[bytes]:
        yield b"x" * 65536
        # a server that buffered the whole body would never let the engine see these bytes
        assert engine.first_bytes.wait(10)
        yield b"y" * 65536

    r = api.post("/images/load", data=body())
    assert r.status_code == 200
    assert engine.received == 131072


def _peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def test_a_256_mib_upload_is_never_buffered(serve) -> None:
    engine = StubEngine()
    api = serve(engine)
    block = os.urandom(1 << 20)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS counter
    before = _peak_rss_kib()
    r = api.post("/images/load", data=(block for _ in range(256)))
    assert r.status_code == 200 and engine.received == 256 << 20
    assert _peak_rss_kib() - before < 64 * 1024


def test_body_pipe_blocks_when_full_and_drops_after_reader_leaves() -> None:
    pipe = BodyPipe(limit=10)
    assert pipe.try_put(b"0123456789")
    assert not pipe.try_put(b"more")
    done = threading.Event()
    threading.Thread(target=lambda: (pipe.put(b"abc"), done.set()), daemon=True).start()
    time.sleep(0.05)
    assert not done.is_set()
    reader = pipe.reader()
    assert reader.read(4) == b"0123"
    assert done.wait(5)
    pipe.finish()
    assert reader.read() == b"456789abc"
    pipe.close_reader()
    assert pipe.try_put(b"ignored")


def test_body_pipe_abort_raises_in_the_reader() -> None:
    pipe = BodyPipe()
    pipe.try_put(b"partial")
    pipe.abort(InvalidArgument("unexpected EOF"))
    with pytest.raises(InvalidArgument):
        pipe.reader().read()


def test_disconnect_mid_upload_raises_in_the_engine_reader(serve) -> None:
    import socket
    from urllib.parse import urlsplit

    seen: list[BaseException] = []
    finished = threading.Event()

    class Recorder:
        def images_load(self, stream: BinaryIO, quiet: bool = False) -> Iterator[dict[str, Any]]:
            try:
                while stream.read(4096):
                    pass
            except InvalidArgument as exc:
                seen.append(exc)
                raise
            finally:
                finished.set()
            yield {"stream": "never\n"}

    api = serve(Recorder())
    where = urlsplit(api.url)
    with socket.create_connection((where.hostname, where.port)) as sock:
        sock.sendall(b"POST /images/load HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"z" * 5000)
        time.sleep(0.1)
    assert finished.wait(10)
    assert seen and "unexpected EOF" in str(seen[0])
