"""The daemon's data root as a shared mount, beside a private dockerd 20.10.

Each daemon's data root is on a tmpfs this test mounts, made private or shared:

- on a private one, dockerd binds its data root onto itself and makes that mount shared while
  it runs (``setupDaemonRootPropagation``), and a clean stop unmounts it; dockyard does the same
  (``linux.daemonroot``). On a shared one neither mounts anything.
- a bind of a directory in the data root (``rslave`` by dockerd's daemon-root rule) is a slave
  inside the container (``master:N`` in its mountinfo) either way — on the private tmpfs,
  dockyard fell back to a private one before.
- dockyard killed and started again adopts the bind it left (not a second one on top), and
  then its clean stop removes it (dockerd forgets it then: ``linux.daemonroot``'s docstring).
"""

from __future__ import annotations

import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import DaemonProcess
from dockyard.testing.dockerd import (
    load_busybox,
    skip_unless_root,
    start_dockerd,
    stop_dockerd,
    unmount_under,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def scratch() -> Iterator[Callable[[str], Path]]:
    """Makes tmpfs mounts of our own, under a watched temporary name: ``scratch("private")``
    → a new one, given that propagation."""
    skip_unless_root()
    top = Path(tempfile.mkdtemp(prefix="dytest-rootprop-"))

    def make(propagation: str) -> Path:
        fs = top / propagation
        fs.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "dy-rootprop", str(fs)], check=True)
        subprocess.run(["mount", f"--make-{propagation}", str(fs)], check=True)
        return fs

    try:
        yield make
    finally:
        unmount_under(top)
        subprocess.run(["rm", "-rf", str(top)], check=False)


def _own_mount(path: Path) -> list[str]:
    """The propagation of each mount whose mount point is ``path`` (findmnt's words)."""
    found = subprocess.run(["findmnt", "-n", "-o", "PROPAGATION", "--mountpoint", str(path)],
                           check=False, capture_output=True, text=True)
    return found.stdout.split()


def _bind_in_container(client: Any, source: Path) -> tuple[list[str], str]:
    """What a container with ``-v SOURCE:/m`` sees of ``/m``: the kinds of the optional fields
    of its mountinfo line (``master:3`` → ``master``), and the propagation inspected."""
    container = client.containers.create("busybox", ["sh", "-c", "grep ' /m ' /proc/self/mountinfo"],
                                         volumes=[f"{source}:/m"], network_mode="none")
    try:
        container.start()
        assert container.wait()["StatusCode"] == 0
        line = container.logs(stdout=True, stderr=False).decode()
        optional = line.partition(" - ")[0].split()[6:]
        return ([field.partition(":")[0] for field in optional],
                container.attrs["Mounts"][0]["Propagation"])
    finally:
        container.remove(force=True)


def _seen_running(client: Any, data_root: Path) -> dict[str, Any]:
    """The data root's own mount and a bind of a directory in it, seen through ``client``."""
    source = data_root / "dytest-src"
    source.mkdir()
    try:
        return {"running": _own_mount(data_root), "bind": _bind_in_container(client, source)}
    finally:
        client.close()


def _dockerd_side(fs: Path) -> dict[str, Any]:
    (fs / "dockerd").mkdir()
    daemon = start_dockerd(root=fs / "dockerd")
    try:
        load_busybox(daemon)
        seen = _seen_running(daemon.client(), fs / "dockerd" / "data")
        daemon.process.send_signal(signal.SIGTERM)
        daemon.process.wait(30)
        seen["stopped"] = _own_mount(fs / "dockerd" / "data")
        return seen
    finally:
        stop_dockerd(daemon)


def _dockyard_side(fs: Path, archive: Path) -> dict[str, Any]:
    with DaemonProcess(fs / "dockyard") as daemon:
        seen = _seen_running(daemon.load(archive).client(), fs / "dockyard")
        assert daemon.stop() == 0
        seen["stopped"] = _own_mount(fs / "dockyard")
        return seen


def test_data_root_shared_while_running_as_dockerd(scratch: Callable[[str], Path],
                                                  busybox_archive: Path) -> None:
    answers = {}
    for propagation in ("private", "shared"):
        fs = scratch(propagation)
        answers[propagation] = {"dockerd": _dockerd_side(fs),
                                "dockyard": _dockyard_side(fs, busybox_archive)}
    for propagation, seen in answers.items():
        assert seen["dockyard"] == seen["dockerd"], propagation
    assert answers["private"]["dockerd"]["running"] == ["shared"]
    assert answers["shared"]["dockerd"]["running"] == []
    for seen in answers.values():
        assert seen["dockerd"]["bind"] == (["master"], "rslave")
        assert seen["dockerd"]["stopped"] == []


def test_a_killed_daemon_s_bind_is_adopted_then_removed(scratch: Callable[[str], Path]) -> None:
    data_root = scratch("private") / "dockyard"
    with DaemonProcess(data_root) as daemon:
        assert _own_mount(data_root) == ["shared"]
        daemon.stop(sig=signal.SIGKILL)
        assert _own_mount(data_root) == ["shared"]
        daemon.start()
        assert _own_mount(data_root) == ["shared"]
        assert (data_root / "unmount-on-shutdown").exists()
        assert daemon.stop() == 0
        assert _own_mount(data_root) == []
        assert not (data_root / "unmount-on-shutdown").exists()


def test_a_stop_keeps_the_bind_while_a_container_outlives_it(scratch: Callable[[str], Path],
                                                            busybox_archive: Path) -> None:
    """The container's network namespace is pinned below the data root: a lazy detach would
    take it from the next daemon, which re-adopts the container."""
    data_root = scratch("private") / "dockyard"
    with DaemonProcess(data_root) as daemon:
        daemon.load(busybox_archive)
        client = daemon.client()
        cid = client.containers.run("busybox", ["sleep", "300"], detach=True).id
        client.close()
        assert daemon.stop() == 0
        assert _own_mount(data_root) == ["shared"]
        assert (data_root / "netns" / cid).is_file()
        daemon.start()
        client = daemon.client()
        try:
            assert client.containers.get(cid).status == "running"
            client.containers.get(cid).remove(force=True)
        finally:
            client.close()
        assert daemon.stop() == 0
        assert _own_mount(data_root) == []
