"""A container that survives SIGKILL stopped, restarted, killed and removed with force, side by
side with a private dockerd 20.10.

Made for real, no fault injected: each container has a ``--cgroup-parent`` of its own, frozen
through the v1 freezer behind both daemons' backs, so its process sleeps uninterruptibly and a
SIGKILL stays pending until the parent is thawed. (runc 1.1 thaws a container it finds frozen for
a SIGKILL, but one frozen through its parent it reads as thawed — ``freezer.self_freezing`` 0 —
so dockerd meets a container it cannot kill; freezing the container's own cgroup would not do.)

dockerd 20.10.24's, recorded here: its Kill sends SIGKILL (one kill event), waits 10 s for the
exit, sends SIGKILL again (kill(2) itself, no event), waits 2 s more and fails with "tried to
kill container, but did not receive an exit event": a kill is the 500 ``Cannot kill container:
NAME: …`` (12 s), an rm -f ``Could not kill running container ID, cannot remove - …`` (12 s,
the container kept); a stop (``cannot stop container: NAME: …``) and a restart (``Cannot restart
container NAME: …``) give it 2 s more after their kill (15 s with ``t=1``), and neither emits its
stop event. Thawed, each container exits 137. (dockyard answered a bare 500 "TimeoutError" after
30 s for three of them, and its kill a 204 at once, its rm -f with two kill events.)
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from dockyard.linux import cgroups

pytestmark = pytest.mark.slow

OPS = {"stop": ("POST", "/containers/{0}/stop", {"t": 1}),
       "restart": ("POST", "/containers/{0}/restart", {"t": 1}),
       "kill": ("POST", "/containers/{0}/kill", {}),
       "rm-f": ("DELETE", "/containers/{0}", {"force": 1})}


def _freezer() -> str:
    return cgroups.detected().v1["freezer"]


def _set_state(parent: str, state: str) -> None:
    path = Path(_freezer(), parent, "freezer.state")
    path.write_text(state)
    while path.read_text().strip() != state:  # FREEZING settles into FROZEN
        time.sleep(0.01)


def _process_state(pid: int) -> str:
    with open(f"/proc/{pid}/status") as f:
        return next(line.split()[1] for line in f if line.startswith("State:"))


@contextlib.contextmanager
def _parents(count: int) -> Iterator[list[str]]:
    """Cgroup parents, one an operation; each removed from every hierarchy after."""
    names = [f"dytest-parent-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    try:
        yield names
    finally:
        for name in names:
            for root in os.listdir("/sys/fs/cgroup"):
                path = f"/sys/fs/cgroup/{root}/{name}"
                for _ in range(500):  # a daemon removes the container's own cgroup a moment late
                    try:
                        os.rmdir(path)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.01)


def _held(api: Any, op: str, parent: str) -> dict[str, Any]:
    """Run a container under ``parent``, freeze the parent, do ``op``: its answer, the
    container's state and process meanwhile, then thawed its exit and its events."""
    name = f"dykilltimeout-{op}-{uuid.uuid4().hex[:6]}"
    cid = api.create_container("busybox", ["sleep", "300"], name=name, host_config=api.create_host_config(
        network_mode="none", cgroup_parent=f"/{parent}"))["Id"]
    api.start(cid)
    pid = api.inspect_container(cid)["State"]["Pid"]
    since = time.time()
    _set_state(parent, "FROZEN")
    try:
        method, path, params = OPS[op]
        url = api._url(path, name)
        answer = api._post(url, params=params) if method == "POST" else api._delete(url, params=params)
        held = [_process_state(pid), api.inspect_container(cid)["State"]["Status"]]
    finally:
        _set_state(parent, "THAWED")
    code = api.wait(cid)["StatusCode"]
    events = [(e["Action"], e["Actor"]["Attributes"].get("signal"))
              for e in api.events(since=since, until=time.time() + 0.5, decode=True,
                                  filters={"container": cid})]
    api.remove_container(cid, force=True)
    message = answer.json()["message"] if answer.content else ""
    return {"status": answer.status_code,
            "message": message.replace(cid, "<id>").replace(name, "<name>"),
            "held": held, "exit": code, "events": events}


def test_a_container_that_survives_sigkill_as_dockerd(both: dict[str, Any]) -> None:
    if cgroups.detected().mode != "v1" or "freezer" not in cgroups.detected().v1:
        pytest.skip("a SIGKILL stays pending only in a frozen v1 freezer cgroup")
    jobs = [(side, client.api, op) for side, (_cli, client) in both.items() for op in OPS]
    with _parents(len(jobs)) as parents, ThreadPoolExecutor(len(jobs)) as pool:
        # all at once: each waits out dockerd's 12 to 15 s
        done = [pool.submit(_held, api, op, parent) for (_s, api, op), parent in zip(jobs, parents)]
        answers: dict[str, dict[str, Any]] = {side: {} for side in both}
        for (side, _api, op), future in zip(jobs, done):
            answers[side][op] = future.result()
    assert answers["dockyard"] == answers["dockerd"]
    failed = "tried to kill container, but did not receive an exit event"
    assert answers["dockerd"] == {
        "stop": {"status": 500, "message": f"cannot stop container: <name>: {failed}",
                 "held": ["D", "running"], "exit": 137,
                 "events": [("kill", "15"), ("kill", "9"), ("die", None)]},
        "restart": {"status": 500, "message": f"Cannot restart container <name>: {failed}",
                    "held": ["D", "running"], "exit": 137,
                    "events": [("kill", "15"), ("kill", "9"), ("die", None)]},
        "kill": {"status": 500, "message": f"Cannot kill container: <name>: {failed}",
                 "held": ["D", "running"], "exit": 137, "events": [("kill", "9"), ("die", None)]},
        "rm-f": {"status": 500,
                 "message": f"Could not kill running container <id>, cannot remove - {failed}",
                 "held": ["D", "running"], "exit": 137, "events": [("kill", "9"), ("die", None)]}}
