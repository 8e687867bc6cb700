"""A build's RUN steps get the daemon's container defaults, as under dockerd's classic builder,
which runs each RUN in an ordinary container: ``--default-ulimit``, ``--dns``/``--dns-search``/
``--dns-opt`` (the step's /etc/resolv.conf), ``--default-shm-size`` and ``--seccomp-profile``.

What dockerd 20.10 (``DOCKER_BUILDKIT=0``, the docker 28 CLI) answered on this machine, started
with the same options (2026-11-29): ``ulimit -n``/``-Hn``/``-u`` 1024, 2048, 500; resolv.conf
``search a.b``/``nameserver 1.1.1.1``/``options ndots:2``; /dev/shm 131072 KiB; ``mkdir``
refused by the profile (EPERM); and a RUN writing /etc/hosts, /etc/resolv.conf or
/etc/hostname changes none of them in the image (the files are the container's, bound over the
image's) — nor does its layer hold ``/etc``. The build's own ``--ulimit nofile=100:200`` and
``--shm-size 32m`` win over the defaults (100, 200, the default nproc 500; 32768 KiB), and
``--security-opt`` is refused: "The daemon on this platform does not support setting security
options on build"."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from buildhelp import Built, write_context

from dockyard.testing.daemon import DaemonProcess, DockerCLI

NO_MKDIR = {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
FLAGS = ("--default-ulimit", "nofile=1024:2048", "--default-ulimit", "nproc=500:600",
         "--dns", "1.1.1.1", "--dns-search", "a.b", "--dns-opt", "ndots:2",
         "--default-shm-size", "128M")
RESOLV = "search a.b\nnameserver 1.1.1.1\noptions ndots:2\n"


@pytest.fixture(scope="module")
def daemon(busybox_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    if os.geteuid() != 0:
        pytest.skip("RUN steps need root (namespaces, overlayfs)")
    profile = tmp_path_factory.mktemp("seccomp") / "no-mkdir.json"
    profile.write_text(json.dumps(NO_MKDIR))
    d = DaemonProcess(None, *FLAGS, "--seccomp-profile", str(profile))
    try:
        yield d.start().load(busybox_archive)
    finally:
        d.cleanup()


def _top_layer(client: Any, image: str) -> Path:
    return Path(client.api.inspect_image(image)["GraphDriver"]["Data"]["UpperDir"])


def test_a_run_step_gets_the_default_ulimits_dns_and_shm_size(build: Callable[..., Built],
                                                              client: Any) -> None:
    got = build({"Dockerfile": "FROM busybox\nRUN (ulimit -n; ulimit -Hn; ulimit -u; "
                 "cat /etc/resolv.conf; df -k /dev/shm | tail -1) | tee /out\n"}, nocache=True)
    assert got.error is None, got.text
    out = (_top_layer(client, str(got.image_id)) / "out").read_text()
    head, shm = out.rsplit("\n", 2)[:2]
    assert head == "1024\n2048\n500\n" + RESOLV.rstrip("\n")
    assert shm.split()[1] == "131072"
    assert out in got.text  # the step's output, in the build's stream too


def test_the_daemons_seccomp_profile_confines_a_run_step(build: Callable[..., Built]) -> None:
    got = build({"Dockerfile": "FROM busybox\nRUN mkdir /x\n"}, nocache=True)
    assert "mkdir: can't create directory '/x': Operation not permitted\n" in got.text
    assert got.error == "The command '/bin/sh -c mkdir /x' returned a non-zero code: 1"


def test_a_run_step_writes_its_own_etc_files_not_the_images(build: Callable[..., Built],
                                                            client: Any) -> None:
    written = build({"Dockerfile": "FROM busybox\n"
                     "RUN echo '10.1.2.3 extra' >> /etc/hosts && echo 'nameserver 9.9.9.9' > "
                     "/etc/resolv.conf && echo other > /etc/hostname && echo done > /done\n"},
                    nocache=True, tag="etc-written")
    assert written.error is None, written.text
    assert sorted(os.listdir(_top_layer(client, str(written.image_id)))) == ["done"]  # no /etc
    got = build({"Dockerfile": "FROM etc-written\nRUN cat /etc/resolv.conf /etc/hosts /etc/hostname\n"},
                nocache=True)
    assert got.error is None, got.text
    assert "extra" not in got.text and "9.9.9.9" not in got.text and "other" not in got.text
    assert RESOLV + "127.0.0.1\tlocalhost\n" in got.text


def test_the_builds_own_ulimits_and_shm_size_win(daemon: DaemonProcess, tmp_path: Path) -> None:
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN ulimit -n; ulimit -Hn; "
                                                          "ulimit -u; df -k /dev/shm | tail -1\n"})
    docker = DockerCLI(daemon.host)
    docker.env["DOCKER_BUILDKIT"] = "0"
    done = docker("build", "--no-cache", "--ulimit", "nofile=100:200", "--shm-size", "32m", str(ctx))
    assert done.returncode == 0, done.stderr
    assert "\n100\n200\n500\n" in done.stdout
    shm = re.search(r"^\S+\s+(\d+)\s+\d+\s+\d+\s+\d+% /dev/shm$", done.stdout, re.MULTILINE)
    assert shm is not None and shm.group(1) == "32768", done.stdout
    refused = docker("build", "--security-opt", "seccomp=unconfined", str(ctx))
    assert refused.returncode != 0
    assert ("The daemon on this platform does not support setting security options on build"
            in refused.stderr)


def test_the_builds_resources_and_extra_hosts_reach_each_run(daemon: DaemonProcess,
                                                             tmp_path: Path) -> None:
    """``docker build --memory --cpu-shares --cpuset-cpus --add-host``: the classic builder puts
    them in each RUN container's HostConfig (swap: twice the memory, dockerd's default)."""
    cg = "/sys/fs/cgroup"
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": (
        f"FROM busybox\nRUN cat {cg}/memory/memory.limit_in_bytes {cg}/memory/memory.memsw.limit_in_bytes "
        f"{cg}/cpu/cpu.shares {cg}/cpuset/cpuset.cpus; grep -e db.example -e gw.example /etc/hosts\n")})
    docker = DockerCLI(daemon.host)
    docker.env["DOCKER_BUILDKIT"] = "0"
    done = docker("build", "--no-cache", "--memory", "64m", "--cpu-shares", "512",
                  "--cpuset-cpus", "0", "--add-host", "db.example:10.9.8.7",
                  "--add-host", "gw.example:host-gateway", str(ctx))
    assert done.returncode == 0, done.stderr
    client = daemon.client()
    gateway = client.api.inspect_network("bridge")["IPAM"]["Config"][0]["Gateway"]
    client.close()
    assert (f"\n{64 << 20}\n{128 << 20}\n512\n0\n10.9.8.7\tdb.example\n{gateway}\tgw.example\n"
            in done.stdout), done.stdout
    plain = docker("build", "--no-cache", str(ctx))  # without them: no limits, no such host
    assert f"\n{64 << 20}\n" not in plain.stdout and "10.9.8.7" not in plain.stdout
    refused = docker("build", "--memory", "64m", "--memory-swap", "32m", str(ctx))
    assert refused.returncode != 0
    assert "Minimum memoryswap limit should be larger than memory limit" in refused.stderr
