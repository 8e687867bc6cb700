"""Healthchecks through the real docker CLI (28) and docker-py's high-level models against the
dockyard daemon: ``docker run --health-*``, ``docker ps`` Status and ``--filter health=``,
``docker inspect --format '{{.State.Health.Status}}'``, ``--no-healthcheck``, events and
dockerd's refusals. Each expectation was recorded from dockerd 20.10 on this machine with the
same commands; states are waited for by polling, never timed."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

DEADLINE = 30.0
FAST = ("--network", "none", "--health-interval", "100ms", "--health-timeout", "2s")


@pytest.fixture
def docker(dockyard_daemon: Any, client: Any) -> Any:
    return DockerCLI(dockyard_daemon.host)


def _until(what: Callable[[], Any], message: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if found := what():
            return found
        time.sleep(0.05)
    raise AssertionError(f"not reached in {DEADLINE}s: {message}")


def _status(docker: Any, name: str) -> str:
    return str(docker("inspect", "--format", "{{.State.Health.Status}}", name).stdout.strip())


def test_run_ps_and_inspect(docker: Any) -> None:
    assert docker("run", "-d", "--name", "hc-good", *FAST, "--health-cmd", "echo hi",
                  "busybox", "sleep", "1000").returncode == 0
    assert docker("run", "-d", "--name", "hc-bad", *FAST, "--health-cmd", "exit 3",
                  "--health-retries", "2", "busybox", "sleep", "1000").returncode == 0
    assert docker("run", "-d", "--name", "hc-none", "--network", "none", "busybox", "sleep",
                  "1000").returncode == 0
    _until(lambda: _status(docker, "hc-good") == "healthy", "hc-good healthy")
    _until(lambda: _status(docker, "hc-bad") == "unhealthy", "hc-bad unhealthy")

    def names(value: str) -> set[str]:
        done = docker("ps", "--filter", f"health={value}", "--format", "{{.Names}}")
        return set(done.stdout.split()) & {"hc-good", "hc-bad", "hc-none"}
    assert names("healthy") == {"hc-good"}
    assert names("unhealthy") == {"hc-bad"}
    assert names("none") == {"hc-none"}
    assert names("starting") == set()
    statuses = dict(line.split(" ", 1) for line in docker(
        "ps", "--filter", "name=hc-", "--format", "{{.Names}} {{.Status}}").stdout.splitlines())
    assert re.fullmatch(r"Up .+ \(healthy\)", statuses["hc-good"]), statuses
    assert re.fullmatch(r"Up .+ \(unhealthy\)", statuses["hc-bad"]), statuses
    assert "(" not in statuses["hc-none"]
    done = docker("inspect", "--format", "{{json .State.Health}}", "hc-bad")
    health = json.loads(done.stdout)
    assert health["FailingStreak"] >= 2 and health["Log"][-1]["ExitCode"] == 3
    done = docker("inspect", "--format", "{{json .Config.Healthcheck}}", "hc-bad")
    assert json.loads(done.stdout) == {"Test": ["CMD-SHELL", "exit 3"], "Interval": 100_000_000,
                                       "Timeout": 2_000_000_000, "Retries": 2}
    done = docker("ps", "--filter", "health=bogus")
    assert (done.returncode, done.stderr) == (
        1, "Error response from daemon: Unrecognised filter value for health: bogus\n")


def test_starting_shows_in_ps(docker: Any) -> None:
    """Still starting inside the start period: failures do not count."""
    assert docker("run", "-d", "--name", "hc-start", *FAST, "--health-cmd", "false",
                  "--health-retries", "1", "--health-start-period", "60s",
                  "--health-start-interval", "100ms", "busybox", "sleep", "1000").returncode == 0
    _until(lambda: docker("inspect", "--format", "{{len .State.Health.Log}}", "hc-start")
           .stdout.strip() not in ("", "0"), "a first check")
    assert _status(docker, "hc-start") == "starting"
    status = docker("ps", "--filter", "name=hc-start", "--format", "{{.Status}}").stdout.strip()
    assert re.fullmatch(r"Up .+ \(health: starting\)", status), status
    assert docker("ps", "--filter", "health=starting", "--format", "{{.Names}}").stdout.split() \
        == ["hc-start"]


def test_stop_makes_it_unhealthy_and_start_begins_again(docker: Any) -> None:
    docker("run", "-d", "--name", "hc-stop", *FAST, "--health-cmd", "true", "busybox",
           "sleep", "1000")
    _until(lambda: _status(docker, "hc-stop") == "healthy", "healthy")
    docker("stop", "-t", "1", "hc-stop")
    assert _status(docker, "hc-stop") == "unhealthy"  # dockerd's, silently
    status = docker("ps", "-a", "--filter", "name=hc-stop", "--format", "{{.Status}}").stdout
    assert status.startswith("Exited (")
    docker("start", "hc-stop")
    assert _status(docker, "hc-stop") in ("starting", "healthy")
    _until(lambda: _status(docker, "hc-stop") == "healthy", "healthy again")


def test_no_healthcheck_and_refusals(docker: Any, client: Any) -> None:
    done = docker("run", "-d", "--name", "hc-off", "--network", "none", "--no-healthcheck",
                  "busybox", "sleep", "1000")
    assert done.returncode == 0
    done = docker("inspect", "--format", "{{json .Config.Healthcheck}} {{json .State.Health}}",
                  "hc-off")
    assert done.stdout == '{"Test":["NONE"]} null\n'
    done = docker("run", "--rm", "--network", "none", "--health-interval", "500us", "busybox", "true")
    assert done.returncode == 125
    assert "Error response from daemon: Interval in Healthcheck cannot be less than 1ms" in done.stderr
    # the CLI's own checks, before any request
    done = docker("run", "--rm", "--network", "none", "--health-retries", "-1", "busybox", "true")
    assert "--health-retries cannot be negative" in done.stderr


def test_events_of_the_checks(docker: Any) -> None:
    since = time.time() - 1
    docker("run", "-d", "--name", "hc-ev", *FAST, "--health-cmd", "exit 0", "busybox", "sleep",
           "1000")
    _until(lambda: _status(docker, "hc-ev") == "healthy", "healthy")
    done = docker("events", "--since", str(since), "--until", str(time.time() + 0.5),
                  "--filter", "container=hc-ev", "--format", "{{.Action}}")
    actions = done.stdout.splitlines()
    assert actions[:2] == ["create", "start"]
    assert actions[2:6] == ["exec_create: /bin/sh -c exit 0", "exec_start: /bin/sh -c exit 0",
                            "exec_die", "health_status: healthy"]


def test_docker_py_models(client: Any) -> None:
    c = client.containers.run("busybox", ["sleep", "1000"], detach=True, network_mode="none",
                              name="hc-py", healthcheck={"test": ["CMD", "true"],
                                                         "interval": 100_000_000})
    assert c.health == "unknown"  # run's model is the created container's inspect, as with dockerd
    c.reload()
    assert c.health in ("starting", "healthy")

    def healthy() -> bool:
        c.reload()
        return bool(c.health == "healthy")
    _until(healthy, "docker-py sees healthy")
    assert [x.name for x in client.containers.list(filters={"health": "healthy",
                                                            "name": "hc-py"})] == ["hc-py"]
    assert client.containers.list(filters={"health": "unhealthy", "name": "hc-py"}) == []
