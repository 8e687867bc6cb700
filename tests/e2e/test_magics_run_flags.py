"""``%docker run``'s flags end to end against dockyard's own daemon. The magic builds the body
the docker CLI sends (dockyard's one flag table, ``dockyard.cli.runopts``) and the container
gets what it asked for: ulimits, a pids limit and no-new-privileges seen from inside, log
rotation, ports published with ``-P``; ``--rm`` is the daemon's auto-removal."""

from __future__ import annotations

import shlex
import time
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from dockyard.testing.daemon import DaemonProcess
from dockyard.testing.httpwait import get_when_up
from dockyard_jupyter import client as clients

INSIDE = ("ulimit -n; ulimit -Hn; grep NoNewPrivs /proc/self/status; "
          "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; true")


@pytest.fixture
def shell(dockyard_daemon: DaemonProcess, dockyard_tidy_client: Any,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("DOCKYARD_HOST", dockyard_daemon.host)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "dockyard_jupyter")
    yield ip
    clients.forget_client(dockyard_daemon.host)


def docker_(ip: InteractiveShell, line: str) -> Any:
    return ip.run_line_magic("docker", line)


def names(client: Any) -> set[str]:
    """From the list alone: docker-py's ``containers.list`` inspects each one after, and a
    container the daemon removes in between is a 404."""
    return {n.lstrip("/") for c in client.api.containers(all=True) for n in c["Names"]}


def test_limits_and_security_options_reach_the_container(
        shell: InteractiveShell, dockyard_tidy_client: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    docker_(shell, f"run --rm --network none busybox sh -c {shlex.quote(INSIDE)}")
    default = capsys.readouterr().out.splitlines()
    assert default[2:] == ["NoNewPrivs:\t0", "max"]
    code = docker_(shell, "run --rm --name magic-limits --network none --ulimit nofile=100:200 "
                          "--pids-limit 20 --security-opt no-new-privileges "
                          f"busybox sh -c {shlex.quote(INSIDE)}")
    assert code is None  # exit status 0
    assert capsys.readouterr().out.splitlines() == ["100", "200", "NoNewPrivs:\t1", "20"]
    assert "magic-limits" not in names(dockyard_tidy_client)  # --rm: removed by the daemon


def test_log_options_rotate_the_log(shell: InteractiveShell, dockyard_tidy_client: Any,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    rotated = docker_(shell, "run -d --name magic-logs --network none --log-opt max-size=1k "
                             "--log-opt max-file=2 busybox seq 1 3000")
    whole = docker_(shell, "run -d --name magic-logs-whole --network none busybox seq 1 3000")
    for container in (rotated, whole):
        assert dockyard_tidy_client.api.wait(container.id)["StatusCode"] == 0
    capsys.readouterr()
    assert rotated.attrs["HostConfig"]["LogConfig"] == {
        "Type": "json-file", "Config": {"max-size": "1k", "max-file": "2"}}
    docker_(shell, "logs magic-logs-whole")
    assert capsys.readouterr().out.split() == [str(n) for n in range(1, 3001)]
    docker_(shell, "logs magic-logs")
    kept = capsys.readouterr().out.split()
    assert kept[-1] == "3000" and 0 < len(kept) < 100  # two files of at most 1 kB of JSON lines


def test_publish_all_publishes_the_exposed_port(shell: InteractiveShell) -> None:
    server = "echo published > /tmp/i; exec httpd -f -p 8080 -h /tmp"
    container = docker_(shell, f"run -d --name magic-publish-all -P --expose 8080 busybox "
                               f"sh -c {shlex.quote(server)}")
    assert container.attrs["HostConfig"]["PublishAllPorts"] is True
    bindings = container.attrs["NetworkSettings"]["Ports"]["8080/tcp"]  # IPv4, and IPv6 if any
    port = next(b["HostPort"] for b in bindings if b["HostIp"] == "0.0.0.0")
    assert int(port) > 0
    assert get_when_up(f"http://127.0.0.1:{port}/i") == b"published\n"


def test_detached_rm_is_removed_by_the_daemon(shell: InteractiveShell,
                                              dockyard_tidy_client: Any) -> None:
    container = docker_(shell, "run -d --rm --name magic-detached-rm --network none busybox true")
    deadline = time.monotonic() + 20
    while "magic-detached-rm" in names(dockyard_tidy_client):
        assert time.monotonic() < deadline, "a -d --rm container was never removed"
        time.sleep(0.05)
    assert container.attrs["HostConfig"]["AutoRemove"] is True


@pytest.mark.parametrize(("line", "message"), [
    ("run --ulimit nofile=20:10 busybox", ('^invalid argument "nofile=20:10" for "--ulimit" flag: '
                                           "ulimit soft limit must be less than or equal to hard "
                                           "limit: 20 > 10$")),
    ("run --pids-limit many busybox", 'parsing "many": invalid syntax$'),
    ("run --security-opt nonsense busybox", '^Invalid --security-opt: "nonsense"$'),
    ("run --log-opt colour=red --network none busybox true",
     "^Error response from daemon: unknown log opt 'colour' for json-file log driver$"),
])
def test_bad_values_are_one_line(shell: InteractiveShell, dockyard_tidy_client: Any, line: str,
                                 message: str) -> None:
    before = names(dockyard_tidy_client)
    with pytest.raises(UsageError, match=message) as refused:
        docker_(shell, line)
    assert "\n" not in str(refused.value)
    assert names(dockyard_tidy_client) == before
