"""The notebook's container views show a healthcheck's status as ``docker ps`` words it: the
%docker ps table, the container widget's rows and the HTML repr (they read inspect's
``State``, whose Status is a bare word)."""

from __future__ import annotations

from typing import Any

import docker.models.containers

from dockyard_jupyter import reprs
from dockyard_jupyter.widgets.containers import container_rows


def _container(state: Any) -> docker.models.containers.Container:
    attrs = {"Id": "c" * 64, "Name": "/web", "Created": "2026-11-29T17:00:00Z", "State": state,
             "Config": {"Image": "busybox"}, "NetworkSettings": {"Ports": {}},
             "Path": "sleep", "Args": ["1000"]}
    return docker.models.containers.Container(attrs=attrs)


def test_status_with_the_health_of_a_running_container() -> None:
    health = {"Status": "healthy", "FailingStreak": 0, "Log": []}
    assert reprs.container_status(_container({"Status": "running", "Health": health})) == \
        "running (healthy)"
    starting = {**health, "Status": "starting"}
    assert reprs.container_status(_container({"Status": "running", "Health": starting})) == \
        "running (health: starting)"
    assert reprs.container_status(_container({"Status": "running"})) == "running"
    stopped = {"Status": "exited", "Health": {**health, "Status": "unhealthy"}}
    assert reprs.container_status(_container(stopped)) == "exited"
    assert reprs.container_status(_container("running")) == "running"  # a listing's summary


def test_the_table_widget_and_repr_carry_it() -> None:
    c = _container({"Status": "running", "Health": {"Status": "unhealthy", "FailingStreak": 3}})
    table = reprs.container_table([c])
    assert table.rows[0][4] == "running (unhealthy)" and "running (unhealthy)" in repr(table)

    class Client:
        class containers:
            @staticmethod
            def list(all: bool = False) -> list[Any]:
                return [c]
    row = container_rows(Client())[0]  # type: ignore[arg-type]
    assert row.cells[2] == "running (unhealthy)"
    assert "running (unhealthy)" in reprs._container_html(c)
