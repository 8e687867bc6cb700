"""The same exec / cp / stats probes against a private real dockerd and against dockyard: the
docker CLI must print the same messages and exit codes, and the JSON bodies must have dockerd's
shape. (dockerd 20.10 records 126 for a command that is not found; current dockerd and dockyard
record 127, so that one code is not compared.)"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dockyard.testing.dockerd import Dockerd

pytestmark = pytest.mark.slow

Probe = Callable[..., subprocess.CompletedProcess[bytes]]


def _cli(host: str) -> Probe:
    env = dict(os.environ, DOCKER_HOST=host)

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["docker", *args], env=env, capture_output=True, timeout=60, check=False)
    return run


@pytest.fixture(scope="module")
def both(dockerd: Dockerd, dockyard_daemon: Any, busybox_archive: Any) -> Iterator[dict[str, Any]]:
    """name → (cli, docker-py client), each with a running container "parity"."""
    out: dict[str, Any] = {}
    for name, host, client in (("dockerd", dockerd.host, dockerd.client()),
                               ("dockyard", dockyard_daemon.host, dockyard_daemon.client())):
        if not client.images.list(name="busybox"):
            client.images.load(busybox_archive.read_bytes())
        cli = _cli(host)
        done = cli("run", "-d", "--name", "parity", "--network", "none", "busybox", "sleep", "1000")
        assert done.returncode == 0, done.stderr
        out[name] = (cli, client)
    yield out
    for cli, client in out.values():
        cli("rm", "-f", "parity")
        client.close()


@pytest.mark.parametrize("args", [
    ["exec", "parity", "/etc/passwd"],
    ["exec", "-w", "/nowhere", "parity", "true"],
    ["exec", "-w", "relative", "parity", "true"],
    ["exec", "-u", "nouser", "parity", "true"],
    ["exec", "parity", "sh", "-c", "echo out; echo err >&2; exit 7"],
    ["exec", "-u", "nobody", "-e", "A=b", "parity", "sh", "-c", "id -u; echo $A"],
    ["cp", "parity:/nope", "/tmp/dytest-parity-nowhere"],
])
def test_cli_output_and_codes_match(both: dict[str, Any], args: list[str]) -> None:
    ours, theirs = both["dockyard"][0](*args), both["dockerd"][0](*args)
    assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr)


def test_not_found_message_matches(both: dict[str, Any]) -> None:
    ours, theirs = both["dockyard"][0]("exec", "parity", "nosuch"), both["dockerd"][0]("exec", "parity", "nosuch")
    assert ours.stdout == theirs.stdout and ours.returncode == 127


def test_json_shapes_match(both: dict[str, Any]) -> None:
    shapes = {}
    for name, (_cli, client) in both.items():
        api = client.api
        exec_id = api.exec_create("parity", ["true"])["Id"]
        api.exec_start(exec_id)
        stats = api.stats("parity", stream=False)
        head = api.head(api._url("/containers/parity/archive"), params={"path": "/bin"})
        stat = json.loads(base64.urlsafe_b64decode(head.headers["X-Docker-Container-Path-Stat"]))
        shapes[name] = {
            "exec": sorted(api.exec_inspect(exec_id)), "process": sorted(api.exec_inspect(exec_id)["ProcessConfig"]),
            "stats": sorted(stats), "cpu": sorted(stats["cpu_stats"]),
            "cpu_usage": sorted(k for k in stats["cpu_stats"]["cpu_usage"] if k != "percpu_usage"),
            "memory": sorted(stats["memory_stats"]),
            # blkio: the keys and their kinds (lists while running); the counts depend on the cache
            "blkio": {k: type(v).__name__ for k, v in stats["blkio_stats"].items()},
            "pids": sorted(stats["pids_stats"]), "stat": (sorted(stat), stat["name"], stat["mode"]),
        }
    assert shapes["dockyard"] == shapes["dockerd"]


@pytest.mark.parametrize("args", [[], ["-t"], ["-u", "nobody", "-e", "Y=2", "-e", "PATH=/usr/bin:/bin"]])
def test_an_execs_environment_is_dockerds(both: dict[str, Any], args: list[str]) -> None:
    """dockerd's daemon variables first (PATH, HOSTNAME, TERM with the exec's tty), the
    container's, the exec's replacing same-name ones in place, HOME last."""
    seen = {}
    for name, (cli, client) in both.items():
        hostname = client.api.inspect_container("parity")["Config"]["Hostname"]
        done = cli("exec", *args, "parity", "env")
        assert done.returncode == 0, done.stderr
        seen[name] = done.stdout.decode().replace(hostname, "<host>")
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"].split()[1] == "HOSTNAME=<host>"


LINKS = ("ln -s /proc/self/fd /tmp/self; ln -s ../../nowhere/x /tmp/up; ln -s /tmp/loop /tmp/loop; "
         "ln -s b /tmp/a; ln -s a /tmp/b; mkdir -p /tmp/d; ln -s /tmp/loop /tmp/d/x")


@pytest.mark.parametrize("path", ["/etc/mtab", "/tmp/self", "/tmp/up", "/tmp/loop", "/tmp/loop/x",
                                  "/tmp/loop/", "/tmp/a", "/tmp/d/x", "/tmp/d/x/y"])
def test_a_links_target_and_loops_as_dockerd(both: dict[str, Any], path: str) -> None:
    """``docker cp`` of a link in a running container: its ``linkTarget`` followed inside the
    root as dockerd follows it, where ``/proc`` is an empty directory (``/etc/mtab`` →
    ``/proc/mounts``, never a failed read of ``/proc/self``, which names no process of the
    helper's pid namespace), and a loop's 500 naming the looping path under the root."""
    answers = {}
    for name, (cli, client) in both.items():
        assert cli("exec", "parity", "sh", "-c", f"[ -e /tmp/d ] || {{ {LINKS}; }}").returncode == 0
        api = client.api
        response = api._get(api._url("/containers/parity/archive"), params={"path": path})
        if response.status_code == 200:
            stat = json.loads(base64.urlsafe_b64decode(response.headers["X-Docker-Container-Path-Stat"]))
            answers[name] = (200, {k: v for k, v in stat.items() if k != "mtime"})
        else:
            root = api.inspect_container("parity")["GraphDriver"]["Data"]["MergedDir"]
            answers[name] = (response.status_code, response.json()["message"].replace(root, "<root>"))
    assert answers["dockyard"] == answers["dockerd"]
    assert answers["dockerd"][0] in (200, 500)
