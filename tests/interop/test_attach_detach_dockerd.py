"""An attach to a container with a tty ends when the client types the detach keys, as a
private dockerd 20.10 ends it: the daemon watches the input (``ctrl-p,ctrl-q``, or the
``detachKeys`` asked for), holds back a sequence's start until it knows, closes the stream,
leaves the container running and logs a ``detach`` event. Clients that do not watch the keys
themselves (dockyard's CLI, docker-py's ``attach_socket``) rely on it."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def _attach_and_type(client: Any, typed: bytes, keys: str | None) -> tuple[bool, bytes, bool, list[str]]:
    """Attach to a fresh ``-dit`` shell, type ``typed``: whether the daemon closed the stream,
    what the shell echoed, whether the container still runs, and the attach's events. The
    reading ends when the stream closes, or when the echo of a last ``echo typed-end`` shows
    all the input went through (3 s at the most otherwise)."""
    api = client.api
    cid = api.create_container("busybox", "sh", tty=True, stdin_open=True,
                               host_config=api.create_host_config(network_mode="none"))["Id"]
    api.start(cid)
    since = time.time()
    params = {"stdin": 1, "stdout": 1, "stream": 1, **({"detachKeys": keys} if keys else {})}
    sock = api.attach_socket(cid, params=params)
    raw: socket.socket = getattr(sock, "_sock", sock)
    raw.settimeout(5)
    try:
        raw.sendall(typed)
        seen, closed = b"", False
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                chunk = raw.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                closed = True
                break
            seen += chunk
            if b"typed-end" in seen:
                break
    finally:
        sock.close()
    running = bool(api.inspect_container(cid)["State"]["Running"])
    events = [e["Action"] for e in api.events(since=since, until=time.time() + 0.5, decode=True,
                                                filters={"container": cid})]
    api.remove_container(cid, force=True)
    return closed, seen.replace(b"\r", b""), running, events


@pytest.mark.parametrize(("typed", "keys"), [
    (b"\x10\x11", None),                      # ctrl-p ctrl-q
    (b"echo a\n\x10echo b\necho typed-end\n", None),  # a ctrl-p alone is passed on after all
    (b"\x01a", "ctrl-a,a"),                   # keys of the client's choosing
    (b"\x10\x11echo typed-end\n", "ctrl-a,a"),  # then ctrl-p ctrl-q is plain input
])
def test_the_detach_keys_end_an_attach_as_dockerd(both: dict[str, Any], typed: bytes,
                                                  keys: str | None) -> None:
    answers = {side: _attach_and_type(client, typed, keys) for side, (_cli, client) in both.items()}
    ours, theirs = answers["dockyard"], answers["dockerd"]
    assert (ours[0], ours[2], ours[3]) == (theirs[0], theirs[2], theirs[3])
    assert theirs[2]  # the container runs on either way
    if theirs[0]:
        assert theirs[3][-1] == "detach"
