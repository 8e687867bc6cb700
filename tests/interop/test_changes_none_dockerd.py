"""``GET /containers/{id}/changes`` of a container with nothing changed, side by side with a
private dockerd 20.10.

dockerd 20.10's, recorded here: the body is ``null`` (Go's nil slice), whether the container
was never started, runs or has stopped; docker-py's ``container.diff()`` is None and ``docker
diff`` prints nothing (exit 0). A change is a list as ever (``[{"Path":"/x","Kind":1}]``,
``A /x``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

NAMES = ("dychg-created", "dychg-running", "dychg-stopped", "dychg-touched")


@pytest.fixture
def made(both: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """On each side: one container never started, one running, one stopped, one that added
    a file."""
    for _cli, client in both.values():
        api = client.api
        api.create_container("busybox", ["sleep", "300"], name="dychg-created")
        api.start(api.create_container("busybox", ["sleep", "300"], name="dychg-running"))
        for name, command in (("dychg-stopped", ["true"]), ("dychg-touched", ["touch", "/x"])):
            made = api.create_container("busybox", command, name=name)
            api.start(made)
            assert api.wait(made)["StatusCode"] == 0
    yield both
    for _cli, client in both.values():
        for name in NAMES:
            client.api.remove_container(name, force=True)


def test_no_changes_is_null_as_dockerd(made: dict[str, Any]) -> None:
    seen = {}
    for side, (cli, client) in made.items():
        api = client.api
        out = {}
        for name in NAMES:
            raw = api._get(api._url("/containers/{0}/changes", name))  # the body as sent
            assert raw.status_code == 200
            shown = cli("diff", name)
            assert shown.returncode == 0, shown.stderr
            out[name] = (raw.json(), client.containers.get(name).diff(), shown.stdout)
        seen[side] = out
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"]["dychg-running"] == (None, None, "")
    assert seen["dockerd"]["dychg-touched"][1:] == ([{"Path": "/x", "Kind": 1}], "A /x\n")
