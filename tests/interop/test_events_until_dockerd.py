"""``docker events`` with ``--until`` and no ``--since``, side by side with a private dockerd
20.10: either bound makes dockerd replay its buffer (loadBufferedEvents), so ``--until`` alone
gives the past events up to it, and an until of 0 (1970: time.Unix(0, 0), no zero time) bounds
none of the buffer and ends the stream at once. dockyard replayed nothing without ``since``."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.slow


def test_until_alone_replays_the_past(both: dict[str, tuple[DockerCLI, Any]]) -> None:
    seen = {}
    for side, (cli, _client) in both.items():
        ran = cli("run", "-d", "--pull", "never", "--network", "none", "--name", "dyuntil",
                  "busybox", "sh", "-c", "exit 3")
        assert ran.returncode == 0, ran.stderr
        cid = ran.stdout.strip()
        assert cli("wait", cid).stdout == "3\n"
        cli("rm", cid)
        until = str(int(time.time()) + 1)
        seen[side] = []
        for bounds in (["--until", until], ["--until", "0"], ["--since", "0", "--until", "0"],
                       ["--since", "5", "--until", "0"]):
            events = cli("events", *bounds, "--filter", f"container={cid}", "--format",
                         "{{.Type}} {{.Action}} {{json .Actor.Attributes}}")
            seen[side].append([events.returncode, events.stdout.replace(cid, "ID"), events.stderr])
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][0][1].splitlines() == [
        'container create {"image":"busybox","name":"dyuntil"}',
        'container start {"image":"busybox","name":"dyuntil"}',
        'container die {"exitCode":"3","image":"busybox","name":"dyuntil"}',
        'container destroy {"image":"busybox","name":"dyuntil"}']
