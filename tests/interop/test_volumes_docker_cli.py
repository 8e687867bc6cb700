"""The real docker CLI against the dockyard daemon: ``docker volume create/ls/inspect/rm/prune``
and ``docker run`` with ``-v`` (named, anonymous, host paths), ``--mount`` and ``--tmpfs``,
``rm -v`` and ``--rm``, with dockerd's output and wording."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI


@pytest.fixture
def docker(dockyard_daemon: Any, dockyard_client: Any, busybox_image: str) -> Iterator[Any]:
    """``docker ARGS…`` against the dockyard daemon; containers and volumes the test made are
    removed after it."""
    api = dockyard_client.api
    containers = {c["Id"] for c in api.containers(all=True)}
    volumes = {v["Name"] for v in api.volumes()["Volumes"] or []}
    yield DockerCLI(dockyard_daemon.host)
    for c in api.containers(all=True):
        if c["Id"] not in containers:
            api.remove_container(c["Id"], force=True, v=True)
    for v in api.volumes()["Volumes"] or []:
        if v["Name"] not in volumes:
            api.remove_volume(v["Name"])


def test_volume_verbs(docker: Any) -> None:
    assert docker("volume", "create", "--label", "k=v", "cli-vol").stdout == "cli-vol\n"
    listed = docker("volume", "ls", "--filter", "label=k=v")
    assert listed.stdout.splitlines() == ["DRIVER    VOLUME NAME", "local     cli-vol"]
    assert docker("volume", "ls", "-q", "-f", "name=cli-vol").stdout == "cli-vol\n"
    [info] = json.loads(docker("volume", "inspect", "cli-vol").stdout)
    assert (info["Name"], info["Driver"], info["Scope"], info["Labels"]) == ("cli-vol", "local", "local", {"k": "v"})
    assert info["Mountpoint"].endswith("/volumes/cli-vol/_data")
    fmt = docker("volume", "inspect", "--format", "{{.Name}} {{.Options}}", "cli-vol")
    assert fmt.stdout == "cli-vol map[]\n"
    missing = docker("volume", "inspect", "cli-nope")
    assert missing.returncode == 1 and "no such volume" in missing.stderr
    bad = docker("volume", "create", "bad/name")
    assert bad.returncode == 1 and "includes invalid characters for a local volume name" in bad.stderr
    assert docker("volume", "rm", "cli-vol").stdout == "cli-vol\n"
    gone = docker("volume", "rm", "cli-vol")
    assert gone.returncode == 1 and "no such volume" in gone.stderr


def test_run_with_a_named_volume_and_rm_v(docker: Any) -> None:
    wrote = docker("run", "--network", "none", "-v", "cli-data:/data", "busybox", "sh", "-c", "echo x > /data/f")
    assert wrote.returncode == 0, wrote.stderr
    read = docker("run", "--rm", "--network", "none", "-v", "cli-data:/data:ro", "busybox", "cat", "/data/f")
    assert read.stdout == "x\n", read.stderr
    in_use = docker("volume", "rm", "cli-data")
    assert in_use.returncode == 1 and "remove cli-data: volume is in use - [" in in_use.stderr
    ctr = docker("create", "--network", "none", "-v", "/anon", "busybox", "true").stdout.strip()
    anon = docker("inspect", "--format", "{{range .Mounts}}{{.Name}}{{end}}", ctr).stdout.strip()
    assert len(anon) == 64
    assert docker("rm", "-v", ctr).returncode == 0
    names = docker("volume", "ls", "-q").stdout.split()
    assert anon not in names and "cli-data" in names
    docker("container", "prune", "-f")
    pruned = docker("volume", "prune", "-a", "-f")
    assert "cli-data" in pruned.stdout and "Total reclaimed space: 2B" in pruned.stdout


def test_run_rm_drops_anonymous_volumes(docker: Any) -> None:
    before = set(docker("volume", "ls", "-q").stdout.split())
    ran = docker("run", "--rm", "--network", "none", "-v", "/scratch", "busybox", "touch", "/scratch/f")
    assert ran.returncode == 0, ran.stderr
    assert set(docker("volume", "ls", "-q").stdout.split()) == before


def test_bind_mount_and_tmpfs(docker: Any, tmp_path: Path) -> None:
    (tmp_path / "hello").write_text("from the host\n")
    ran = docker("run", "--rm", "--network", "none", "-v", f"{tmp_path}:/h", "busybox",
                 "sh", "-c", "cat /h/hello; echo back > /h/back")
    assert ran.stdout == "from the host\n" and (tmp_path / "back").read_text() == "back\n"
    ro = docker("run", "--rm", "--network", "none", "--mount", f"type=bind,src={tmp_path},dst=/h,readonly",
                "busybox", "touch", "/h/nope")
    assert ro.returncode != 0 and "Read-only file system" in ro.stderr
    missing = docker("run", "--rm", "--network", "none", "--mount", "type=bind,src=/nope-h4,dst=/x", "busybox", "true")
    assert missing.returncode != 0
    assert 'invalid mount config for type "bind": bind source path does not exist: /nope-h4' in missing.stderr
    tmpfs = docker("run", "--rm", "--network", "none", "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m",
                   "--tmpfs", "/run:size=2m", "busybox", "sh", "-c", "grep -E ' /(t|run) ' /proc/mounts")
    lines = sorted(tmpfs.stdout.splitlines())
    assert [line.split()[:3] for line in lines] == [["tmpfs", "/run", "tmpfs"], ["tmpfs", "/t", "tmpfs"]]
    assert "size=2048k" in lines[0] and "size=1024k" in lines[1]
    dup = docker("run", "--rm", "--network", "none", "-v", "/a:/x", "-v", "vv:/x", "busybox", "true")
    assert dup.returncode != 0 and "Duplicate mount point: /x" in dup.stderr
