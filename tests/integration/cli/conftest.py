"""The dockyard CLI's container and network verbs against real daemons.

``engine`` is parametrized by name: ``dockerd`` (a private real dockerd in its own network
namespace, so user-defined bridges never touch the host) always, ``dockyard`` (a dockyard
daemon, also in a network namespace of its own) for the verb groups whose endpoints dockyard
serves — ``cliengines.SERVED``. Both daemons are shared by the session;
every test removes the containers and networks it made.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cliengines import Engine

from dockyard.testing.daemon import IN_NEW_NETNS, NetnsDaemonProcess
from dockyard.testing.dockerd import (
    DOCKERD,
    Dockerd,
    _wait_ready,
    dockerd_command,
    load_busybox,
    stop_dockerd,
)


def _start_private_netns_dockerd() -> Dockerd:
    """dockerd as testing.dockerd starts it, but in a new network namespace (``unshare --net``
    execs dockerd, so the pid is dockerd's and ``stop_dockerd`` works unchanged)."""
    root = Path(tempfile.mkdtemp(prefix="dkc-", dir="/tmp"))
    with open(root / "dockerd.log", "wb") as log:
        proc = subprocess.Popen([*IN_NEW_NETNS, *dockerd_command(root)], stdout=log,
                                stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    daemon = Dockerd(root, proc)
    try:
        _wait_ready(daemon, 30.0)
    except BaseException:
        stop_dockerd(daemon)
        raise
    return daemon


@pytest.fixture(scope="session")
def cli_dockerd() -> Iterator[Dockerd]:
    assert os.path.exists(DOCKERD), "dockerd (Debian docker.io) is needed by the CLI tests"
    daemon = _start_private_netns_dockerd()
    try:
        load_busybox(daemon, "busybox:latest")
        yield daemon
    finally:
        stop_dockerd(daemon)


@pytest.fixture(scope="session")
def cli_dockyard(busybox_archive: Path) -> Iterator[NetnsDaemonProcess]:
    """A dockyard daemon of its own, in a new network namespace like dockerd's: its default
    bridge and NAT rules stay out of the host's network."""
    with NetnsDaemonProcess(log_level="warn") as daemon:
        api = daemon.client().api
        with open(busybox_archive, "rb") as f:
            list(api.load_image(f))
        api.close()
        yield daemon


def _host_for(request: pytest.FixtureRequest, name: str) -> str:
    fixture = "cli_dockerd" if name == "dockerd" else "cli_dockyard"
    return str(request.getfixturevalue(fixture).host)


@pytest.fixture
def engine(request: pytest.FixtureRequest, capfd: pytest.CaptureFixture[str]) -> Iterator[Engine]:
    """The daemon named by the test's parameter, left as the test found it."""
    name = request.param
    eng = Engine(name, _host_for(request, name), capfd)
    api = eng.client()
    try:
        before = _tolerant_state(api)
        yield eng
        _restore(api, before)
    finally:
        api.close()


def _tolerant_state(api: Any) -> tuple[set[str], set[str], set[str]]:
    """What exists now; a group the daemon does not serve yet counts as empty."""
    return (_ids(lambda: api.containers(all=True)), _ids(api.networks),
            _ids(lambda: api.images(all=True)))


def _ids(lister: Callable[[], list[dict[str, Any]]]) -> set[str]:
    import docker.errors

    try:
        return {str(item["Id"]) for item in lister()}
    except docker.errors.APIError:  # a group this daemon does not serve (yet)
        return set()


def _restore(api: Any, before: tuple[set[str], set[str], set[str]]) -> None:
    """Remove what the test added: containers (forced, with volumes), networks, images."""
    after = _tolerant_state(api)
    for cid in after[0] - before[0]:
        _quiet(api.remove_container, cid, force=True, v=True)
    for nid in after[1] - before[1]:
        _quiet(api.remove_network, nid)
    for iid in after[2] - before[2]:
        _quiet(api.remove_image, iid, force=True)


def _quiet(action: Callable[..., object], *args: object, **kwargs: object) -> None:
    import docker.errors

    try:
        action(*args, **kwargs)
    except docker.errors.APIError:
        pass
