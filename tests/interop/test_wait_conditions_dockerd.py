"""``POST /containers/{id}/wait`` side by side with a private dockerd 20.10: its body's keys in
ContainerWaitOKBody's order (``Error``, then ``StatusCode``), and the ``condition`` read by
postContainersWait's switch — next-exit and removed, not-running for anything else (a
condition it does not know is no refusal there). A wait whose headers came back is waiting:
the container is started after them."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.slow


def _wait(api: Any, cid: str, condition: str) -> Any:
    """The wait's response, its headers read (the daemon has registered it)."""
    return api._post(api._url("/containers/{0}/wait", cid), params={"condition": condition},
                     stream=True)


def test_wait_bodies_and_conditions_as_dockerd(both: dict[str, tuple[DockerCLI, Any]]) -> None:
    seen = {}
    for side, (cli, client) in both.items():
        api = client.api
        cid = api.create_container("busybox", ["sh", "-c", "exit 7"],
                                   host_config=api.create_host_config(network_mode="none"))["Id"]
        try:
            answers = []
            for condition in ("not-running", "", "bogus", "Not-Running"):
                answer = _wait(api, cid, condition)
                answers.append([condition, answer.status_code, answer.text])
            api.start(cid)
            api.wait(cid)
            for condition in ("bogus", "next-exit"):
                answer = _wait(api, cid, condition)
                if condition == "next-exit":
                    api.start(cid)
                answers.append([condition, answer.status_code, answer.text])
            seen[side] = answers
        finally:
            api.remove_container(cid, force=True)
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][-1] == ["next-exit", 200, '{"Error":null,"StatusCode":7}\n']
