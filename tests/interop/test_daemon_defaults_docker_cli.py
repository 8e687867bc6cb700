"""The docker CLI against a dockyard daemon started with container defaults — some as flags
(``--default-ulimit``, ``--default-shm-size``, ``--log-driver``/``--log-opt``,
``--default-ipc-mode``, ``--default-address-pool``), some in its configuration file (``--dns*``, ``--default-cgroupns-mode``)
— and what dockerd 20.10 answered, started with the same defaults, to the same commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import NetnsDaemonProcess

FLAGS = ("--default-ulimit", "nofile=1024:2048", "--default-ulimit", "nproc=500:600",
         "--default-shm-size", "128M", "--log-driver", "local", "--log-opt", "max-size=5m",
         "--default-ipc-mode", "shareable", "--default-address-pool", "base=10.123.0.0/16,size=24",
         "--live-restore", "--shutdown-timeout", "2", "-s", "overlay2")  # the last three: what it always does
FILE = {"dns": ["1.1.1.1"], "dns-search": ["a.b"], "dns-opts": ["ndots:2"], "default-cgroupns-mode": "private"}


@pytest.fixture(scope="module")
def daemon(busybox_archive: Path) -> Iterator[NetnsDaemonProcess]:
    proc = NetnsDaemonProcess(None, *FLAGS)
    config = proc.tmp / "daemon.json"
    config.write_text(json.dumps(FILE))
    proc.extra_args += ["--config-file", str(config)]
    with proc:
        client = proc.client()
        with open(busybox_archive, "rb") as f:
            client.images.load(f.read())
        client.close()
        yield proc


@pytest.fixture
def docker(daemon: NetnsDaemonProcess) -> Iterator[Any]:
    env = dict(os.environ, DOCKER_HOST=daemon.host)
    names: list[str] = []

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        if args[0] in ("run", "create") and "--name" in args:
            names.append(args[args.index("--name") + 1])
        return subprocess.run(["docker", *args], check=False, env=env, capture_output=True, text=True,
                              timeout=60)
    yield run
    if names:
        run("rm", "-f", *names)


def test_default_ulimits_reach_every_container_and_exec(docker: Any) -> None:
    """dockerd 20.10 with the same flags: 1024/2048 and 500/600; a container's own --ulimit
    wins for its name only; an exec gets the same."""
    done = docker("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                  "ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu")
    assert done.stdout == "1024\n2048\n500\n600\n", done.stderr
    done = docker("run", "--rm", "--network", "none", "--ulimit", "nofile=100:200", "busybox", "sh", "-c",
                  "ulimit -n; ulimit -Hn; ulimit -u")
    assert done.stdout == "100\n200\n500\n", done.stderr
    docker("run", "-d", "--name", "dd-exec", "--network", "none", "busybox", "sleep", "100")
    done = docker("exec", "dd-exec", "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u")
    assert done.stdout == "1024\n2048\n500\n", done.stderr


def test_inspect_shows_the_defaults_as_dockerd_does(docker: Any) -> None:
    """dockerd 20.10 merges the default ulimits into inspect's HostConfig.Ulimits (the
    container's first) without recording them; the other defaults are recorded at create."""
    docker("create", "--name", "dd-plain", "--network", "none", "busybox")
    docker("create", "--name", "dd-own", "--network", "none", "--ulimit", "nofile=100:200", "--shm-size", "1m",
           "--ipc", "private", "--cgroupns", "host", "--log-driver", "json-file", "busybox")
    docker("create", "--name", "dd-opt", "--network", "none", "--log-opt", "max-file=2", "busybox")
    plain, own, opt = (json.loads(docker("inspect", name).stdout)[0]["HostConfig"]
                       for name in ("dd-plain", "dd-own", "dd-opt"))
    assert sorted(plain["Ulimits"], key=lambda u: u["Name"]) == [
        {"Name": "nofile", "Hard": 2048, "Soft": 1024}, {"Name": "nproc", "Hard": 600, "Soft": 500}]
    assert plain["ShmSize"] == 134217728 and plain["IpcMode"] == "shareable"
    assert plain["CgroupnsMode"] == "private"
    assert plain["LogConfig"] == {"Type": "local", "Config": {"max-size": "5m"}}
    assert (plain["Dns"], plain["DnsSearch"], plain["DnsOptions"]) == ([], [], [])
    assert own["Ulimits"] == [{"Name": "nofile", "Hard": 200, "Soft": 100},
                              {"Name": "nproc", "Hard": 600, "Soft": 500}]
    assert (own["ShmSize"], own["IpcMode"], own["CgroupnsMode"]) == (1048576, "private", "host")
    assert own["LogConfig"] == {"Type": "json-file", "Config": {}}
    assert opt["LogConfig"] == {"Type": "local", "Config": {"max-file": "2", "max-size": "5m"}}
    assert docker("info", "--format", "{{.LoggingDriver}}").stdout == "local\n"


def test_shm_size_and_dns_defaults_reach_the_container(docker: Any) -> None:
    done = docker("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                  "df -k /dev/shm | tail -1; cat /etc/resolv.conf")
    shm, resolv = done.stdout.split("\n", 1)
    assert shm.split()[1] == "131072", done.stderr
    assert resolv == "search a.b\nnameserver 1.1.1.1\noptions ndots:2\n"
    done = docker("run", "--rm", "--network", "none", "--dns", "9.9.9.9", "busybox", "cat", "/etc/resolv.conf")
    assert done.stdout == "search a.b\nnameserver 9.9.9.9\noptions ndots:2\n"  # each list on its own
    done = docker("run", "--rm", "--network", "none", "--shm-size", "64m", "busybox", "sh", "-c",
                  "df -k /dev/shm | tail -1")
    assert done.stdout.split()[1] == "65536"


def test_logs_of_the_default_driver(docker: Any) -> None:
    done = docker("run", "--name", "dd-logs", "--network", "none", "busybox", "echo", "hi")
    assert done.stdout == "hi\n"
    assert docker("logs", "dd-logs").stdout == "hi\n"


def test_networks_take_their_subnets_from_the_address_pools(docker: Any) -> None:
    """dockerd 20.10 with the same pool (in a network namespace of its own): the default bridge
    10.123.0.0/24, the next network 10.123.1.0/24 with its first address as gateway."""
    bridge = json.loads(docker("network", "inspect", "bridge").stdout)[0]["IPAM"]["Config"][0]
    assert bridge["Subnet"] == "10.123.0.0/24"
    assert docker("network", "create", "dd-pool").returncode == 0
    try:
        config = json.loads(docker("network", "inspect", "dd-pool").stdout)[0]["IPAM"]["Config"]
        assert config == [{"Subnet": "10.123.1.0/24", "Gateway": "10.123.1.1"}]
    finally:
        docker("network", "rm", "dd-pool")
    info = json.loads(docker("info", "--format", "{{json .DefaultAddressPools}}").stdout)
    assert info == [{"Base": "10.123.0.0/16", "Size": 24}]


def daemon_refusal(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockyard.cli.main", "daemon", "--data-root", "/nonexistent/x",
                           *argv], capture_output=True, text=True, timeout=60, check=False)


def test_the_daemon_refuses_bad_defaults_before_it_starts(tmp_path: Path) -> None:
    """dockerd 20.10's words (it exits 125 for a flag, 1 for its configuration)."""
    done = daemon_refusal("--default-ulimit", "nofile=2:1")
    assert done.returncode == 2
    assert ('invalid argument "nofile=2:1" for "--default-ulimit" flag: ulimit soft limit must be less than or '
            "equal to hard limit: 2 > 1") in done.stderr
    config = tmp_path / "daemon.json"
    config.write_text(json.dumps({"default-shm-size": "128M"}))
    done = daemon_refusal("--config-file", str(config), "--default-shm-size", "64M")
    assert done.returncode == 1
    assert done.stderr == (f"dockyard: unable to configure the Docker daemon with file {config}: the following "
                           "directives are specified both as a flag and in the configuration file: "
                           "default-shm-size: (from flag: 64MiB, from file: 128M)\n")
    done = daemon_refusal("--default-ipc-mode", "host", "--config-file", str(tmp_path / "none.json"))
    assert done.stderr == (f"dockyard: unable to configure the Docker daemon with file {tmp_path}/none.json: "
                           f"open {tmp_path}/none.json: no such file or directory\n")
    assert not Path("/nonexistent").exists()
