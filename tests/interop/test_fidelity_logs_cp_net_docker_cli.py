"""The real docker CLI against the dockyard daemon on what an earlier audit left out — logs,
cp, networks and volumes — each expectation recorded from dockerd 20.10 on this machine with
the same command (session 8 audit): ``logs --details`` and the log-opt attributes it prints,
``cp -a`` keeping the archive's owners, ``cp -`` of an empty, cut or garbled tar, network
create/connect/disconnect/ls refusals and inspect's IPAM order, the volume filter's wording."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def docker(dockyard_daemon: Any, dockyard_client: Any, busybox_image: str) -> Iterator[Any]:
    """``docker ARGS…`` against the dockyard daemon; the containers, networks and volumes the
    test made are removed after it."""
    api = dockyard_client.api
    containers = {c["Id"] for c in api.containers(all=True)}
    networks = {n["Id"] for n in api.networks()}
    volumes = {v["Name"] for v in api.volumes()["Volumes"] or []}
    env = dict(os.environ, DOCKER_HOST=dockyard_daemon.host)

    def run(*args: str, **kw: Any) -> subprocess.CompletedProcess[Any]:
        kw.setdefault("text", True)
        return subprocess.run(["docker", *args], check=False, env=env, capture_output=True,
                              timeout=60, **kw)
    yield run
    for c in api.containers(all=True):
        if c["Id"] not in containers:
            api.remove_container(c["Id"], force=True, v=True)
    for n in api.networks():
        if n["Id"] not in networks:
            api.remove_network(n["Id"])
    for v in api.volumes()["Volumes"] or []:
        if v["Name"] not in volumes:
            api.remove_volume(v["Name"])


def _daemon_error(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert (done.returncode, done.stderr) == (1, f"Error response from daemon: {message}\n")


# ---- logs --------------------------------------------------------------------------------------


def test_logs_details_prints_the_log_opt_attributes(docker: Any) -> None:
    """``--details`` puts each line's attributes (``--log-opt env/env-regex/labels/labels-regex``,
    sorted, query-escaped) and a space before it — a bare space without any (it printed the
    line alone); after the timestamp with ``-t``; the same for a TTY's output."""
    done = docker("run", "--name", "fid-lg1", "--network", "none", "busybox", "echo", "hi")
    assert done.returncode == 0, done.stderr
    assert docker("logs", "--details", "fid-lg1").stdout == " hi\n"
    docker("run", "--name", "fid-lg2", "--network", "none", "-e", "FOO=bar", "-e", "BAZ=q",
           "--label", "lab=v1", "--log-opt", "env=FOO,BAZ", "--log-opt", "labels=lab",
           "busybox", "sh", "-c", "echo a; echo b >&2")
    done = docker("logs", "--details", "fid-lg2")
    assert (done.stdout, done.stderr) == ("BAZ=q,FOO=bar,lab=v1 a\n", "BAZ=q,FOO=bar,lab=v1 b\n")
    stamped = docker("logs", "--details", "-t", "fid-lg2").stdout
    assert stamped.endswith("Z BAZ=q,FOO=bar,lab=v1 a\n") and stamped[:4].isdigit()
    docker("run", "--name", "fid-lg3", "--network", "none", "-e", "E1=x", "-e", "E2=a b,c",
           "--label", "la=1", "--label", "lb=2", "--log-opt", "labels-regex=^la",
           "--log-opt", "env-regex=^E", "busybox", "echo", "hi")
    assert docker("logs", "--details", "fid-lg3").stdout == "E1=x,E2=a+b%2Cc,la=1 hi\n"
    docker("run", "-t", "--name", "fid-lg4", "--network", "none", "--label", "la=1",
           "--log-opt", "labels=la", "busybox", "echo", "hi", stdin=subprocess.DEVNULL)
    assert docker("logs", "--details", "fid-lg4", text=False).stdout == b"la=1 hi\r\n"
    assert docker("logs", "fid-lg4", text=False).stdout == b"hi\r\n"
