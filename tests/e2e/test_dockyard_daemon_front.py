"""The front end against dockyard's own daemon (image endpoints): magics, the server proxy,
and starting the bundled daemon on first use."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from jupyter_procs import JupyterServer, start_server, stop_server

from dockyard.testing.daemon import DaemonProcess
from dockyard_jupyter import client as clients
from dockyard_jupyter import launcher


@pytest.fixture
def shell(dockyard_daemon: DaemonProcess, busybox_image: str,
          dockyard_clean_images: Any) -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "dockyard_jupyter")
    ip.user_ns["dockyard_host"] = dockyard_daemon.host
    yield ip
    clients.forget_client(dockyard_daemon.host)


def docker_(ip: InteractiveShell, line: str) -> Any:
    return ip.run_line_magic("docker", "--host $dockyard_host " + line)


def test_image_verbs_on_the_dockyard_daemon(shell: InteractiveShell, busybox_image: str,
                                            tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert any(row[:2] == ["busybox", "latest"] for row in docker_(shell, "images").rows)
    docker_(shell, "tag busybox nb/copy:1")
    assert docker_(shell, "inspect -f '{{.Id}}' nb/copy:1") == [busybox_image]
    docker_(shell, f"save -o {tmp_path}/saved.tar nb/copy:1")
    docker_(shell, "rmi nb/copy:1")
    assert "Untagged: nb/copy:1" in capsys.readouterr().out
    docker_(shell, f"load -i {tmp_path}/saved.tar")
    assert "nb/copy:1" in capsys.readouterr().out
    assert docker_(shell, "version")["Version"]
    assert docker_(shell, "system df").rows[0][0] == "Images"


def test_proxy_to_the_dockyard_daemon(dockyard_daemon: DaemonProcess, busybox_image: str) -> None:
    server: JupyterServer = start_server({"daemon_host": dockyard_daemon.host,
                                          "start_daemon": False})
    try:
        status = server.get("/dockyard/status").json()
        assert status["reachable"] is True and status["host"] == dockyard_daemon.host
        assert server.get("/dockyard/api/v1.41/version").json()["ApiVersion"]
        images = server.get("/dockyard/api/v1.41/images/json").json()
        assert busybox_image in {i["Id"] for i in images}
    finally:
        stop_server(server)


def test_bundled_daemon_starts_on_first_use(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/run/dockyard.sock"
    proc = launcher.ensure_daemon(host, tmp_path / "data")
    try:
        assert proc is not None and launcher.ping(host)
        assert launcher.ensure_daemon(host, tmp_path / "data") is None   # reused, not doubled
        assert proc.poll() is None and proc.pid != 0
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
    assert not launcher.ping(host)
