"""``--pid``, ``--ipc`` and ``--uts`` side by side: the same docker CLI commands against a
private real dockerd and against dockyard print the same output, errors and exit codes (the
containers' ids, which differ, read as their names)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dockyard.testing.dockerd import Dockerd

pytestmark = pytest.mark.slow

Probe = Callable[..., subprocess.CompletedProcess[str]]
DONORS = {"ns-private": ["--ipc", "private"], "ns-share": ["--ipc", "shareable"],
          "ns-host": ["--ipc", "host"]}


def _cli(host: str) -> Probe:
    env = dict(os.environ, DOCKER_HOST=host)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], env=env, capture_output=True, text=True,
                              timeout=60, check=False)
    return run


@pytest.fixture(scope="module")
def both(dockerd: Dockerd, dockyard_daemon: Any, busybox_archive: Any) -> Iterator[dict[str, Any]]:
    """name → (cli, {id: name}), each with the donors running and "ns-stopped" created."""
    out: dict[str, Any] = {}
    for name, host, client in (("dockerd", dockerd.host, dockerd.client()),
                               ("dockyard", dockyard_daemon.host, dockyard_daemon.client())):
        if not client.images.list(name="busybox"):
            client.images.load(busybox_archive.read_bytes())
        client.close()
        cli = _cli(host)
        ids = {}
        for donor, flags in DONORS.items():
            done = cli("run", "-d", "--name", donor, "--network", "none", *flags, "busybox", "sleep", "1000")
            assert done.returncode == 0, done.stderr
            ids[done.stdout.strip()] = donor
        assert cli("exec", "ns-share", "sh", "-c", "echo shared > /dev/shm/note").returncode == 0
        done = cli("create", "--name", "ns-stopped", "--ipc", "shareable", "busybox", "true")
        ids[done.stdout.strip()] = "ns-stopped"
        out[name] = (cli, ids)
    yield out
    for cli, _ids in out.values():
        cli("rm", "-f", *DONORS, "ns-stopped")


@pytest.mark.parametrize("args", [
    ["--pid", "host", "busybox", "sh", "-c", "readlink /proc/self/ns/pid; cat /proc/1/comm"],
    ["--pid", "container:ns-private", "busybox", "cat", "/proc/1/cmdline"],
    ["--pid", "container:ns-stopped", "busybox", "true"],
    ["--pid", "container:nosuch", "busybox", "true"],
    ["--ipc", "host", "busybox", "sh", "-c", ("readlink /proc/self/ns/ipc; df -k /dev/shm | tail -1; "
                                              "grep -c ' /dev/mqueue ' /proc/self/mountinfo")],
    ["--ipc", "none", "--shm-size", "1m", "busybox", "ls", "/dev"],
    ["--ipc", "shareable", "--shm-size", "1m", "busybox", "df", "-k", "/dev/shm"],
    ["--ipc", "container:ns-share", "busybox", "sh", "-c", "cat /dev/shm/note; df -k /dev/shm"],
    ["--ipc", "container:ns-host", "busybox", "sh", "-c", "readlink /proc/self/ns/ipc; df -k /dev/shm"],
    ["--ipc", "container:ns-private", "busybox", "true"],
    ["--ipc", "container:ns-stopped", "busybox", "true"],
    ["--ipc", "container:nosuch", "busybox", "true"],
    ["--uts", "host", "busybox", "sh", "-c", "hostname; readlink /proc/self/ns/uts"],
    ["--uts", "host", "--hostname", "foo", "busybox", "true"],
])
def test_run_matches_dockerd(both: dict[str, Any], args: list[str]) -> None:
    said = {}
    for name, (cli, ids) in both.items():
        done = cli("run", "--rm", "--network", "none", *args)
        text = f"{done.returncode}\n{done.stdout}\n{done.stderr}"
        for cid, donor in ids.items():
            text = text.replace(cid, donor)
        said[name] = text
    assert said["dockyard"] == said["dockerd"]
