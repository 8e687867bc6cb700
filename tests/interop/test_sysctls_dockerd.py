"""Kernel parameters side by side: the same docker CLI runs against a private real dockerd
20.10 and against dockyard print the same output, errors and exit codes — the defaults of a
network namespace of the container's own (a port below 1024 binds for any user), of a joined
one and of the host's, ``--sysctl`` over them, and the starts runc or the kernel refuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI
from dockyard.testing.dockerd import Dockerd

pytestmark = pytest.mark.slow

READ = "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range"


@pytest.fixture(scope="module")
def both(dockerd: Dockerd, dockyard_daemon: Any, busybox_archive: Any) -> Iterator[dict[str, DockerCLI]]:
    """name → cli, each with "sc-own" (a network of its own) and "sc-host" running."""
    out: dict[str, DockerCLI] = {}
    for name, host, client in (("dockerd", dockerd.host, dockerd.client()),
                               ("dockyard", dockyard_daemon.host, dockyard_daemon.client())):
        if not client.images.list(name="busybox"):
            client.images.load(busybox_archive.read_bytes())
        client.close()
        cli = out[name] = DockerCLI(host)
        for donor, network in (("sc-own", "none"), ("sc-host", "host")):
            done = cli("run", "-d", "--name", donor, "--network", network, "busybox", "sleep", "1000")
            assert done.returncode == 0, done.stderr
    yield out
    for cli in out.values():
        cli("rm", "-f", "sc-own", "sc-host")


@pytest.mark.parametrize("args", [
    ["--network", "none", "busybox", "sh", "-c", READ],
    ["--network", "none", "--user", "1000", "busybox", "sh", "-c", "httpd -p 80 && echo bound"],
    ["--network", "container:sc-own", "busybox", "sh", "-c", READ],
    ["--network", "container:sc-host", "busybox", "sh", "-c", READ],
    ["--network", "host", "busybox", "sh", "-c", READ],
    ["--network", "none", "--user", "1000", "--sysctl", "net.ipv4.ip_unprivileged_port_start=500",
     "--sysctl", "net.ipv4.ping_group_range=1 5", "busybox", "sh", "-c", f"{READ}; httpd -p 80"],
    ["--network", "none", "--sysctl", "kernel.shmmax=100000", "--sysctl", "fs.mqueue.msg_max=20",
     "--sysctl", "kernel.sem=250 32000 32 200", "busybox", "sh", "-c",
     "cat /proc/sys/kernel/shmmax /proc/sys/fs/mqueue/msg_max /proc/sys/kernel/sem"],
    ["--network", "host", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "true"],
    ["--network", "container:sc-host", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "true"],
    ["--network", "none", "--ipc", "host", "--sysctl", "kernel.shmmax=100000", "busybox", "true"],
    ["--network", "none", "--sysctl", "net.ipv4.nosuch=1", "busybox", "true"],
    ["--network", "none", "--sysctl", "kernel.msgmax=abc", "busybox", "true"],
    ["--network", "none", "--sysctl", "vm.swappiness=10", "busybox", "true"],
])
def test_run_matches_dockerd(both: dict[str, DockerCLI], args: list[str]) -> None:
    said = {}
    for name, cli in both.items():
        done = cli("run", "--rm", *args)
        said[name] = f"{done.returncode}\n{done.stdout}\n{done.stderr}"
    assert said["dockyard"] == said["dockerd"]
