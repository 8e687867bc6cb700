"""The docker CLI (28) on containers whose logs rotate, each expectation recorded from dockerd
20.10 on this machine with the same commands (helper-39, session 9): ``--log-opt
max-size=1k --log-opt max-file=3`` on 100 lines ``line 1`` … ``line 100`` left lines 66…100
(json-file, compressed or not), 30…100 with ``--log-driver local``, 92…100 with max-size
alone; a bad value fails ``docker run``'s start with exit 125 and the logger's words."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

LOOP = 'i=1; while [ $i -le 100 ]; do echo "line $i"; i=$((i+1)); done'


@pytest.fixture
def cli(dockyard_daemon: Any, dockyard_tidy_client: Any) -> Iterator[Any]:
    """``docker ARGS…`` against the session daemon (its containers go with the tidy client)."""
    yield DockerCLI(dockyard_daemon.host)


def _numbers(text: str) -> list[int]:
    return [int(line.rsplit(" ", 1)[1]) for line in text.splitlines()]


@pytest.mark.parametrize(("options", "expected"), [
    (["--log-opt", "max-size=1k", "--log-opt", "max-file=3"], range(66, 101)),
    (["--log-opt", "max-size=1k", "--log-opt", "max-file=3", "--log-opt", "compress=true"],
     range(66, 101)),
    (["--log-opt", "max-size=1k"], range(92, 101)),
    (["--log-driver", "local", "--log-opt", "max-size=1k", "--log-opt", "max-file=3"],
     range(30, 101)),
])
def test_docker_logs_of_a_rotated_container(cli: Any, options: list[str],
                                            expected: range) -> None:
    done = cli("run", "-d", "--network", "none", *options, "busybox", "sh", "-c", LOOP)
    assert done.returncode == 0, done.stderr
    cid = done.stdout.strip()
    assert cli("wait", cid).stdout == "0\n"
    assert _numbers(cli("logs", cid).stdout) == list(expected)
    assert cli("logs", "--tail", "3", cid).stdout == "line 98\nline 99\nline 100\n"
    assert cli("logs", "-n", "0", cid).stdout == ""
    first = cli("logs", "-t", cid).stdout.splitlines()[0]
    assert first.endswith(f"Z line {expected[0]}") and first[:4].isdigit()
    assert _numbers(cli("logs", "--since", "0", cid).stdout) == list(expected)


def test_docker_logs_follow_across_rotations(cli: Any) -> None:
    """``logs -f`` from the start to the exit: every line once (dockerd 20.10 printed the
    first line of each new file twice — 211 lines for 200 —, which is not copied)."""
    done = cli("run", "-d", "--network", "none", "--log-opt", "max-size=1k",
               "--log-opt", "max-file=60", "busybox", "sh", "-c",
               'sleep 0.3; i=1; while [ $i -le 200 ]; do echo "line $i"; i=$((i+1)); '
               "usleep 2000; done")
    cid = done.stdout.strip()
    assert _numbers(cli("logs", "-f", cid).stdout) == list(range(1, 201))


def test_a_bad_log_opt_fails_docker_run(cli: Any) -> None:
    done = cli("run", "--network", "none", "--log-opt", "max-size=abc", "busybox", "true")
    assert done.returncode == 125
    assert ("docker: Error response from daemon: failed to initialize logging driver: invalid "
            "size: 'abc'\n") in done.stderr
