"""A Dockerfile's STOPSIGNAL, a create's ``StopSignal`` and what a stop then sends, side by side
with a private dockerd 20.10 (the classic builder, API 1.41).

dockerd 20.10.24's, recorded here: the classic builder reads STOPSIGNAL with moby's
``signal.ParseSignal`` when it reaches the step, so ``STOPSIGNAL 0``, ``UNUSED`` (not in its
SignalMap), ``SIGRTMIN+16`` end the stream after the step's line with ``Invalid signal: X``;
any other nonzero integer is taken (``65``, ``-1``, ``+9``, ``09``), kept as written. A create
takes the same (``" 9"`` is not trimmed: refused). A stop sends the signal read so (``+9`` and
``09`` are 9, one kill event); one kill(2) refuses (``65``, ``-1``) fails at runc with no kill
event, and dockerd gives the container two seconds, then SIGKILL: exit 137, the stop a 204.
"""

from __future__ import annotations

import io
import json
import re
import time
from typing import Any

import docker
import pytest

pytestmark = pytest.mark.slow

BUILT = ["SIGRTMIN+3", "65", "-1", "+9", "09", "IOT"]
REFUSED = ["UNUSED", "SIGUNUSED", "0", "SIGRTMIN+16"]


def _tag(signal: str) -> str:
    return "dystopsig:" + "".join(c if c.isalnum() else "_" for c in signal.lower())


def _build(api: docker.APIClient, signal: str) -> list[str]:
    """The build's stream as text (its errors marked), the image ids as <id>."""
    dockerfile = f"FROM busybox\nSTOPSIGNAL {signal}\n".encode()
    out = []
    for message in api.build(fileobj=io.BytesIO(dockerfile), tag=_tag(signal), rm=True,
                             decode=True, pull=False):
        if "error" in message:
            out.append("ERROR " + message["error"])
        elif "stream" in message:
            out.append(message["stream"])
    return re.sub(r"\b[0-9a-f]{12}\b", "<id>", "".join(out)).splitlines()


def _stop(api: docker.APIClient, signal: str) -> list[Any]:
    """Run the image, stop it (1 s): the stop's status, the exit code and the kill events'
    signals."""
    name = "dystop-" + _tag(signal).partition(":")[2]
    api.create_container(_tag(signal), ["sleep", "300"], name=name,
                         host_config=api.create_host_config(network_mode="none"))
    api.start(name)
    since = time.time()
    stopped = api._post(api._url("/containers/{0}/stop", name), params={"t": 1})
    state = api.inspect_container(name)
    kills = [e["Actor"]["Attributes"]["signal"]
             for e in api.events(since=since, until=time.time() + 0.5, decode=True,
                                 filters={"event": "kill", "container": name})]
    return [stopped.status_code, state["Config"]["StopSignal"], state["State"]["ExitCode"], kills]


def _create(api: docker.APIClient, signal: str) -> tuple[int, str]:
    body = {"Image": "busybox", "Cmd": ["true"], "StopSignal": signal,
            "HostConfig": {"NetworkMode": "none"}}
    done = api._post_json(api._url("/containers/create"), data=body)
    if done.status_code != 201:
        return done.status_code, json.loads(done.text)["message"]
    cid = done.json()["Id"]
    shown = api.inspect_container(cid)["Config"]["StopSignal"]
    api.remove_container(cid, force=True)
    return 201, shown


def test_stopsignal_built_and_stopped_as_dockerd(both: dict[str, Any]) -> None:
    seen: dict[str, Any] = {}
    for side, (_cli, client) in both.items():
        api = client.api
        try:
            seen[side] = [{s: _build(api, s) for s in REFUSED + BUILT},
                          {s: _stop(api, s) for s in BUILT}]
        finally:
            for s in BUILT:
                for c in api.containers(all=True, filters={"ancestor": _tag(s)}):
                    api.remove_container(c["Id"], force=True)
                if api.images(_tag(s)):
                    api.remove_image(_tag(s), force=True)
    assert seen["dockyard"] == seen["dockerd"]
    built, stopped = seen["dockerd"]
    assert built["UNUSED"][-2:] == ["Step 2/2 : STOPSIGNAL UNUSED", "ERROR Invalid signal: UNUSED"]
    assert built["65"][-1].startswith("Successfully tagged")
    assert stopped == {"SIGRTMIN+3": [204, "SIGRTMIN+3", 137, ["37", "9"]],
                       "65": [204, "65", 137, ["9"]], "-1": [204, "-1", 137, ["9"]],
                       "+9": [204, "+9", 137, ["9"]], "09": [204, "09", 137, ["9"]],
                       "IOT": [204, "IOT", 137, ["6", "9"]]}


@pytest.mark.parametrize("signal", ["65", "+9", "-1", "99", "32", "09", "sigterm", "SIGRTMIN+3",
                                    " 9", "9 ", "0", "UNUSED", "RTMIN+16"])
def test_a_creates_stop_signal_as_dockerd(both: dict[str, Any], signal: str) -> None:
    answers = {side: _create(client.api, signal) for side, (_cli, client) in both.items()}
    assert answers["dockyard"] == answers["dockerd"]
