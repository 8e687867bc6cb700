"""Batched cell output, layer progress and the JSON stream view."""

from __future__ import annotations

import io

import pytest

from dockyard_jupyter.errors import DaemonError
from dockyard_jupyter.progress import BatchedWriter, JsonStreamView, LayerBoard, pump


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1


def test_first_write_is_immediate_then_coalesced() -> None:
    clock, out = Clock(), CountingStream()
    writer = BatchedWriter(out, interval=0.1, clock=clock)
    writer.write("first\n")
    assert out.getvalue() == "first\n"
    for i in range(50):
        writer.write(f"{i}\r")
        clock.now += 0.001
    assert out.getvalue() == "first\n" and writer.due_in() == pytest.approx(0.05)
    clock.now += 0.06
    writer.write("")
    assert out.getvalue().endswith("49\r") and out.flushes == 2


def test_utf8_split_across_chunks() -> None:
    out = io.StringIO()
    writer = BatchedWriter(out, interval=0)
    data = "héllo ✓\n".encode()
    for i in range(len(data)):
        writer.write_bytes(data[i:i + 1])
    writer.close()
    assert out.getvalue() == "héllo ✓\n"


def test_layer_board_renders_one_line_per_layer() -> None:
    shown: list[str] = []
    clock = Clock()
    board = LayerBoard(shown.append, interval=0.1, clock=clock)
    board.update("aaa", "Downloading", "[=>   ]")
    board.update("bbb", "Waiting")
    board.update("aaa", "Pull complete")
    assert shown == ["aaa: Downloading [=>   ]"]
    board.flush()
    assert shown[-1] == "aaa: Pull complete\nbbb: Waiting"


def test_json_stream_view_and_pump() -> None:
    out, shown = io.StringIO(), []
    view = JsonStreamView(BatchedWriter(out, interval=0), LayerBoard(shown.append, interval=0))
    messages = [{"stream": "Step 1/1 : FROM x\n"}, {"status": "Pulling from lib/x", "id": "1"},
                {"aux": {"ID": "sha256:abc"}}, {"stream": "Successfully built abc\n"}]
    pump(iter(messages), view.handle, view.outputs)
    assert out.getvalue() == "Step 1/1 : FROM x\nSuccessfully built abc\n"
    assert view.image_id == "sha256:abc" and shown == ["1: Pulling from lib/x"]


def test_a_builds_pull_board_comes_after_the_step_text_before_it() -> None:
    """A build pulling its base: the held ``Step 1/2 : FROM`` text is written before the
    pull's board first shows, so a notebook shows them in the stream's order."""
    events: list[str] = []

    class Out(io.StringIO):
        def write(self, text: str) -> int:
            events.append("text " + text)
            return len(text)

    view = JsonStreamView(BatchedWriter(Out(), interval=10), LayerBoard(
        lambda text: events.append("board " + text), interval=0))
    view.handle({"stream": "Sending\n"})
    view.handle({"stream": "Step 1/2 : FROM x\n"})
    view.handle({"status": "Pulling from lib/x", "id": "1"})
    view.handle({"status": "Digest: sha256:abc"})
    view.out.flush()
    assert events == ["text Sending\n", "text Step 1/2 : FROM x\n", "board 1: Pulling from lib/x",
                      "text Digest: sha256:abc\n"]


def test_error_message_raises_after_earlier_output() -> None:
    out = io.StringIO()
    view = JsonStreamView(BatchedWriter(out, interval=10), LayerBoard(lambda _: None))
    with pytest.raises(DaemonError, match="Error response from daemon: boom"):
        pump(iter([{"stream": "Step 1/2\n"}, {"stream": "later\n"}, {"error": "boom"}]),
             view.handle, view.outputs)
    assert out.getvalue() == "Step 1/2\nlater\n"


def test_pump_reraises_a_reader_failure_on_the_cell_thread() -> None:
    def broken():
        yield {"stream": "x"}
        raise ConnectionError("socket closed")

    with pytest.raises(ConnectionError, match="socket closed"):
        pump(broken(), lambda _m: None, [])
