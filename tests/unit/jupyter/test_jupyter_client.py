"""Daemon selection and the error funnel."""

from __future__ import annotations

import pytest
import requests.exceptions

from dockyard import config
from dockyard_jupyter.client import daemon_errors, resolve_host
from dockyard_jupyter.errors import DaemonUnreachable


def test_host_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKYARD_HOST", raising=False)
    assert resolve_host() == config.default_host()
    assert resolve_host(configured="tcp://conf:2375") == "tcp://conf:2375"
    monkeypatch.setenv("DOCKYARD_HOST", "unix:///env.sock")
    assert resolve_host(configured="tcp://conf:2375") == "unix:///env.sock"
    assert resolve_host("unix:///flag.sock", "tcp://conf:2375") == "unix:///flag.sock"


def test_transport_failure_becomes_one_clear_line() -> None:
    with pytest.raises(DaemonUnreachable) as info, daemon_errors("unix:///x.sock"):
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as exc:
            raise requests.exceptions.ConnectionError(exc) from exc
    assert str(info.value) == ("Cannot connect to the dockyard daemon at unix:///x.sock. "
                               "Is the daemon running? (connection refused)")
