"""login / push / pull through the magics: a private dockerd and a real distribution registry
with htpasswd auth. The password never reaches the cell's output or the input history."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from jupyter_client.manager import KernelManager

from dockyard.testing.dockerd import Dockerd
from dockyard.testing.registry import DistributionProcess
from dockyard_jupyter import client as clients

pytestmark = [pytest.mark.interop, pytest.mark.slow]
PASSWORD = "s3cret-Pa55-never-printed"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistributionProcess]:
    auth = tmp_path_factory.mktemp("htpasswd") / "htpasswd"
    auth.write_bytes(b"alice:" + bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)))
    with DistributionProcess(htpasswd=auth) as reg:  # stopped, and its root removed
        yield reg


@pytest.fixture
def shell(real_dockerd: Dockerd, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("DOCKYARD_HOST", real_dockerd.host)
    clients.forget_client(real_dockerd.host)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "dockyard_jupyter")
    yield ip
    clients.forget_client(real_dockerd.host)


def test_login_push_pull_with_progress(shell: InteractiveShell, registry: DistributionProcess,
                                       real_dockerd: Dockerd,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    ref = f"{registry.host}/nb/busybox:1"
    shell.user_ns["REGISTRY_PASSWORD"] = PASSWORD
    shell.run_cell(f"%docker login -u alice --password-from REGISTRY_PASSWORD {registry.host}",
                   store_history=True)
    shell.run_line_magic("docker", f"tag busybox {ref}")
    shell.run_line_magic("docker", f"push {ref}")
    pushed = capsys.readouterr().out
    assert "Login Succeeded" in pushed and "Pushed" in pushed
    shell.run_line_magic("docker", f"rmi {ref}")
    image = shell.run_line_magic("docker", f"pull {ref}")
    pulled = capsys.readouterr().out
    assert ref in image.tags and "Status: Downloaded newer image" in pulled
    history = "\n".join(shell.history_manager.input_hist_raw)
    assert PASSWORD not in pulled + pushed + history
    shell.run_line_magic("docker", f"logout {registry.host}")
    assert f"Removing login credentials for {registry.host}" in capsys.readouterr().out
    shell.run_line_magic("docker", f"rmi {ref}")


def test_wrong_password_is_one_line(shell: InteractiveShell,
                                    registry: DistributionProcess) -> None:
    shell.user_ns["WRONG"] = "nope"
    with pytest.raises(UsageError, match="Error response from daemon: .*401 Unauthorized") as info:
        shell.run_line_magic("docker", f"login -u alice --password-from WRONG {registry.host}")
    assert "\n" not in str(info.value)


def test_kernel_asks_for_the_password_without_echo(real_dockerd: Dockerd,
                                                   registry: DistributionProcess,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKYARD_HOST", real_dockerd.host)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        kc.execute_interactive("%load_ext dockyard_jupyter", timeout=60)
        msg_id = kc.execute(f"%docker login -u alice {registry.host}", allow_stdin=True)
        request = kc.get_stdin_msg(timeout=30)
        assert request["msg_type"] == "input_request"
        assert request["content"]["password"] is True      # the front end hides what is typed
        kc.input(PASSWORD)
        out = _stdout_until_idle(kc, msg_id)
        assert "Login Succeeded" in out and PASSWORD not in out
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _stdout_until_idle(kc: Any, msg_id: str, timeout: float = 30.0) -> str:
    text, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            text += msg["content"]["text"]
        if msg["msg_type"] == "error":
            text += "\n".join(msg["content"]["traceback"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return text
    raise AssertionError("kernel never went idle")


def test_run_pulls_a_missing_image(shell: InteractiveShell, registry: DistributionProcess,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    ref = f"{registry.host}/nb/auto:1"
    shell.user_ns["REGISTRY_PASSWORD"] = PASSWORD
    shell.run_line_magic("docker", f"login -u alice --password-from REGISTRY_PASSWORD "
                                   f"{registry.host}")
    shell.run_line_magic("docker", f"tag busybox {ref}")
    shell.run_line_magic("docker", f"push {ref}")
    shell.run_line_magic("docker", f"rmi {ref}")
    capsys.readouterr()
    shell.run_line_magic("docker", f"run --rm --network none {ref} echo pulled-and-ran")
    captured = capsys.readouterr()
    assert f"Unable to find image '{ref}' locally" in captured.err
    assert captured.out.endswith("pulled-and-ran\n")
    with pytest.raises(UsageError, match="No such image|not found"):
        shell.run_line_magic("docker", f"run --rm --pull never {registry.host}/nb/none:1 true")
    shell.run_line_magic("docker", f"rmi {ref}")
