"""The CLI's small Engine API client (``dockyard.cli.engineapi``) against a real daemon: ``run``
and ``version`` on a unix socket work without importing docker-py, and its errors read as
docker-py's did."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.cli.engineapi import Engine, EngineError, ImageMissing, unix_path
from dockyard.cli.running import api_error_message
from dockyard.errors import Unavailable
from dockyard.testing.daemon import DaemonProcess

HEAVY = ("docker", "requests", "urllib3")

PROBE = """
import sys
from dockyard.cli.main import main
status = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print("status", status, "heavy", ",".join(heavy) or "none", file=sys.stderr)
"""


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv], capture_output=True,
                          text=True, check=False, timeout=120)


def test_run_needs_no_docker_py(dockyard_daemon: DaemonProcess, busybox_image: str) -> None:
    out = _cli("-H", dockyard_daemon.host, "run", "--rm", "--network", "none", "busybox",
               "sh", "-c", "echo out; echo err >&2; exit 3")
    assert out.stdout == "out\n"
    assert out.stderr.splitlines() == ["err", "status 3 heavy none"]


def test_version_needs_no_docker_py(dockyard_daemon: DaemonProcess) -> None:
    out = _cli("-H", dockyard_daemon.host, "version", "--format", "{{.Server.ApiVersion}}")
    assert out.stdout.strip() == Engine(dockyard_daemon.host).api_version
    assert out.stderr.splitlines() == ["status 0 heavy none"]


def test_a_missing_image_with_pull_never(dockyard_daemon: DaemonProcess) -> None:
    out = _cli("-H", dockyard_daemon.host, "run", "--rm", "--pull", "never", "nope:missing", "true")
    assert out.stderr.splitlines() == ["dockyard: No such image: nope:missing", "status 125 heavy none"]


def test_errors_as_docker_py_reported_them(dockyard_daemon: DaemonProcess) -> None:
    engine = Engine(dockyard_daemon.host)
    with pytest.raises(ImageMissing) as missing:
        engine.create_container_from_config({"Image": "nope:missing", "Cmd": None})
    assert missing.value.explanation == "No such image: nope:missing" and missing.value.status == 404
    with pytest.raises(EngineError) as route:
        engine.call("POST", engine.url("/containers/{0}/nothing", "x"))
    assert api_error_message(route.value) == (
        f"the daemon does not serve POST /v{engine.api_version}/containers/x/nothing (page not found)")
    with pytest.raises(EngineError) as gone:
        engine.inspect_container("no-such-container")
    assert not isinstance(gone.value, ImageMissing)
    assert str(gone.value) == "No such container: no-such-container"


def test_requests_share_one_kept_alive_connection(dockyard_daemon: DaemonProcess) -> None:
    engine = Engine(dockyard_daemon.host)
    first = engine._idle[0]
    assert engine.version()["ApiVersion"] == engine.api_version
    assert engine.info()["Containers"] >= 0
    assert engine._idle == [first]
    first.sock.shutdown(socket.SHUT_RDWR)  # the daemon dropping an idle connection: the next request opens another
    assert engine.version()["ApiVersion"] == engine.api_version
    engine.close()


def test_an_absent_daemon_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="Is the dockyard daemon running"):
        Engine(f"unix://{tmp_path}/none.sock")


@pytest.mark.parametrize(("host", "path"), [
    ("unix:///run/d.sock", "/run/d.sock"), ("unix:///", None), ("unix://run/d.sock", None),
    ("tcp://127.0.0.1:2375", None), ("ssh://me@box", None), ("/run/d.sock", None)])
def test_only_unix_hosts_skip_docker_py(host: str, path: str | None) -> None:
    assert unix_path(host) == path
