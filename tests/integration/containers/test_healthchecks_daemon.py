"""Healthchecks through the daemon (docker-py): checks that pass, fail, time out or cannot
start, the start period, stop/pause/restart, the image's HEALTHCHECK merged with the run's,
events, ps, and a daemon restart that resumes the checks. Expectations were recorded from
dockerd 20.10 on this machine (see tests/unit/containers/test_health_rules.py for the
recorded bodies); states are waited for, never timed."""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import docker.errors
import pytest

from dockyard.testing.daemon import DaemonProcess

MS = 1_000_000
FAST = {"Interval": 100 * MS, "Timeout": 2000 * MS}
DEADLINE = 30.0


def _run(client: Any, test: list[str], name: str | None = None, image: str = "busybox",
         **healthcheck: Any) -> Any:
    hc = {"Test": test, **FAST, **healthcheck} if test else (healthcheck or None)
    if "StartInterval" not in (hc or {}):
        return client.containers.run(image, ["sleep", "1000"], detach=True, healthcheck=hc,
                                     network_mode="none", name=name)
    # docker-py's Healthcheck drops StartInterval (API 1.44): the config is sent as given
    api = client.api
    config = api.create_container_config(image, ["sleep", "1000"], healthcheck=hc,
                                         host_config=api.create_host_config(network_mode="none"))
    config["Healthcheck"] = hc
    cid = api.create_container_from_config(config, name)["Id"]
    api.start(cid)
    return client.containers.get(cid)


def _health(client: Any, cid: str) -> dict[str, Any]:
    health: dict[str, Any] = client.api.inspect_container(cid)["State"].get("Health")
    return health


def _wait_for(what: Callable[[], Any], message: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not reached in {DEADLINE}s: {message}")


def _status(client: Any, cid: str, status: str, streak: int = 0) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        health = _health(client, cid)
        ok = health and health["Status"] == status and health["FailingStreak"] >= streak
        return health if ok else None
    found: dict[str, Any] = _wait_for(reached, f"{status} (streak {streak}) for {cid[:12]}: "
                                      f"{_health(client, cid)}")
    return found


def test_a_passing_check_makes_the_container_healthy(client: Any) -> None:
    c = _run(client, ["CMD-SHELL", "echo hi; echo err >&2"])
    assert client.api.inspect_container(c.id)["State"]["Health"]["Status"] in ("starting", "healthy")
    health = _status(client, c.id, "healthy")
    assert health["FailingStreak"] == 0
    entry = health["Log"][-1]
    assert list(entry) == ["Start", "End", "ExitCode", "Output"]
    assert entry["ExitCode"] == 0 and sorted(entry["Output"].splitlines()) == ["err", "hi"]
    assert entry["Start"] <= entry["End"] and entry["End"].endswith("Z")
    state = client.api.inspect_container(c.id)["State"]
    assert list(state)[-1] == "Health"  # after FinishedAt, as dockerd's State
    assert client.api.inspect_container(c.id)["ExecIDs"] is None  # checks are not listed
    ps = client.api.containers(filters={"id": c.id})[0]
    assert ps["Status"].startswith("Up ") and ps["Status"].endswith(" (healthy)")


def test_a_failing_check_is_unhealthy_after_its_retries(client: Any) -> None:
    c = _run(client, ["CMD-SHELL", "echo no; exit 3"], Retries=2)
    health = _status(client, c.id, "unhealthy", streak=2)
    assert health["Log"][-1]["ExitCode"] == 3 and health["Log"][-1]["Output"] == "no\n"
    _status(client, c.id, "unhealthy", streak=6)
    health = _health(client, c.id)
    assert len(health["Log"]) == 5  # the last five, as dockerd keeps
    assert client.api.containers(filters={"id": c.id})[0]["Status"].endswith(" (unhealthy)")


def test_a_check_that_recovers_is_healthy_again(client: Any) -> None:
    c = _run(client, ["CMD", "test", "-e", "/tmp/ok"], Retries=1)
    _status(client, c.id, "unhealthy", streak=1)
    c.exec_run(["touch", "/tmp/ok"])
    health = _status(client, c.id, "healthy")
    assert health["FailingStreak"] == 0


def test_a_check_past_its_timeout_is_killed(client: Any) -> None:
    c = _run(client, ["CMD", "sleep", "999"], Timeout=300 * MS, Retries=1)
    health = _status(client, c.id, "unhealthy", streak=4)
    entry = health["Log"][0]
    assert entry["ExitCode"] == -1
    assert entry["Output"] == "Health check exceeded timeout (300ms)"  # dockerd 20.10's words
    # four probes timed out: each was killed, so at most the one running now is left
    probes = c.exec_run(["ps", "-o", "args"]).output.decode().splitlines().count("sleep 999")
    assert probes <= 1


def test_a_check_that_cannot_start_has_exit_code_minus_one(client: Any) -> None:
    c = _run(client, ["CMD", "nonexist", "a"], Retries=1)
    entry = _status(client, c.id, "unhealthy", streak=1)["Log"][0]
    assert entry == {**entry, "ExitCode": -1, "Output": (
        'OCI runtime exec failed: exec failed: unable to start container process: exec: '
        '"nonexist": executable file not found in $PATH: unknown')}


def test_output_is_cut_at_4096_bytes(client: Any) -> None:
    c = _run(client, ["CMD-SHELL", "head -c 5000 /dev/zero | tr '\\0' a"])
    output = _status(client, c.id, "healthy")["Log"][0]["Output"]
    assert output == "a" * 4096 + "..."


def test_checks_run_as_the_containers_user_and_workdir(client: Any) -> None:
    c = client.containers.run("busybox", ["sleep", "1000"], detach=True, network_mode="none",
                              user="1234", working_dir="/tmp",
                              healthcheck={"Test": ["CMD-SHELL", "echo $(id -u) $PWD"], **FAST})
    assert _status(client, c.id, "healthy")["Log"][0]["Output"] == "1234 /tmp\n"


def test_the_start_period_does_not_count_failures(client: Any) -> None:
    c = _run(client, ["CMD", "false"], Retries=1, StartPeriod=60_000 * MS, StartInterval=100 * MS)
    _wait_for(lambda: len(_health(client, c.id)["Log"]) >= 3, "three checks")
    health = _health(client, c.id)
    assert (health["Status"], health["FailingStreak"]) == ("starting", 0)
    assert "(health: starting)" in client.api.containers(filters={"id": c.id})[0]["Status"]


def test_no_check_no_health(client: Any) -> None:
    for hc in (None, {"Test": ["NONE"]}, {"Test": ["BOGUS", "x"]}):
        c = client.containers.run("busybox", ["sleep", "1000"], detach=True, network_mode="none",
                                  healthcheck=hc)
        data = client.api.inspect_container(c.id)
        assert "Health" not in data["State"]
        assert client.api.containers(filters={"id": c.id})[0]["Status"].startswith("Up")
        assert "(" not in client.api.containers(filters={"id": c.id})[0]["Status"]


def test_ps_filter_health(client: Any) -> None:
    good = _run(client, ["CMD", "true"])
    bad = _run(client, ["CMD", "false"], Retries=1)
    plain = client.containers.run("busybox", ["sleep", "1000"], detach=True, network_mode="none")
    _status(client, good.id, "healthy")
    _status(client, bad.id, "unhealthy")

    def names(value: str) -> set[str]:
        return {c["Id"] for c in client.api.containers(filters={"health": value})} & \
            {good.id, bad.id, plain.id}
    assert names("healthy") == {good.id}
    assert names("unhealthy") == {bad.id}
    assert names("none") == {plain.id}
    assert names("starting") == set()
    with pytest.raises(docker.errors.APIError) as info:
        client.api.containers(filters={"health": "bogus"})
    assert info.value.status_code == 400
    assert info.value.explanation == "Unrecognised filter value for health: bogus"


def test_stop_pause_and_restart_as_dockerd(client: Any) -> None:
    """Recorded from dockerd 20.10: a stop or a pause makes the status unhealthy without an
    event; an unpause resumes the checks; a start begins again at starting, log kept."""
    c = _run(client, ["CMD", "true"], Interval=200 * MS)
    _status(client, c.id, "healthy")
    c.pause()
    assert _health(client, c.id)["Status"] == "unhealthy"
    assert client.api.containers(filters={"id": c.id})[0]["Status"].endswith("(Paused)")
    c.unpause()
    _status(client, c.id, "healthy")
    c.stop(timeout=1)
    health = _health(client, c.id)
    assert health["Status"] == "unhealthy" and health["Log"]
    assert client.api.containers(all=True, filters={"id": c.id})[0]["Status"].startswith("Exited")
    assert not client.api.containers(all=True, filters={"health": "healthy", "id": c.id})
    logged = len(health["Log"])
    c.start()
    health = _health(client, c.id)
    assert health["Status"] in ("starting", "healthy") and len(health["Log"]) >= logged
    _status(client, c.id, "healthy")


def test_events_of_a_check(client: Any) -> None:
    since = time.time() - 1
    c = _run(client, ["CMD-SHELL", "exit 0"])
    _status(client, c.id, "healthy")
    _wait_for(lambda: len(_health(client, c.id)["Log"]) >= 2, "two checks")
    events = client.api.events(since=since, until=time.time() + 0.5, decode=True,
                               filters={"container": c.id})
    actions = [e["Action"] for e in events]
    first = actions.index("exec_create: /bin/sh -c exit 0")
    assert actions[first:first + 4] == ["exec_create: /bin/sh -c exit 0",
                                        "exec_start: /bin/sh -c exit 0", "exec_die",
                                        "health_status: healthy"]
    assert actions.count("health_status: healthy") == 1  # a change of status only


def _image_with_healthcheck(client: Any, tag: str) -> str:
    dockerfile = (b"FROM busybox\nHEALTHCHECK --interval=100ms --timeout=2s --retries=4 "
                  b"CMD echo img\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    client.images.build(fileobj=io.BytesIO(buf.getvalue()), custom_context=True, tag=tag, rm=True)
    return tag


@pytest.fixture
def hcimage(client: Any) -> Iterator[str]:
    yield _image_with_healthcheck(client, "dockyard-hc-test:latest")
    for c in client.api.containers(all=True, filters={"ancestor": "dockyard-hc-test:latest"}):
        client.api.remove_container(c["Id"], force=True)
    client.images.remove("dockyard-hc-test:latest", force=True)


# Recorded from dockerd 20.10 (create with each Healthcheck from an image with
# HEALTHCHECK --interval=300ms --timeout=2s --retries=4 CMD echo img; here 100ms).
MERGES = [
    (None, {"Test": ["CMD-SHELL", "echo img"], "Interval": 100 * MS, "Timeout": 2000 * MS,
            "Retries": 4}),
    ({"Interval": 200 * MS}, {"Test": ["CMD-SHELL", "echo img"], "Interval": 200 * MS,
                              "Timeout": 2000 * MS, "Retries": 4}),
    ({"Test": ["CMD", "echo", "mine"]}, {"Test": ["CMD", "echo", "mine"], "Interval": 100 * MS,
                                         "Timeout": 2000 * MS, "Retries": 4}),
    ({"Test": ["NONE"]}, {"Test": ["NONE"], "Interval": 100 * MS, "Timeout": 2000 * MS,
                          "Retries": 4}),
    ({"Retries": 7, "StartPeriod": 5 * MS}, {"Test": ["CMD-SHELL", "echo img"],
                                             "Interval": 100 * MS, "Timeout": 2000 * MS,
                                             "StartPeriod": 5 * MS, "Retries": 7}),
]


def test_the_images_healthcheck_is_merged_and_run(client: Any, hcimage: str) -> None:
    for mine, merged in MERGES:
        c = client.api.create_container(hcimage, ["sleep", "1000"], healthcheck=mine,
                                        host_config=client.api.create_host_config(network_mode="none"))
        config = client.api.inspect_container(c["Id"])["Config"]["Healthcheck"]
        assert json.dumps(config) == json.dumps(merged), mine  # key order too
    c = client.containers.run(hcimage, ["sleep", "1000"], detach=True, network_mode="none")
    assert _status(client, c.id, "healthy")["Log"][0]["Output"] == "img\n"  # /bin/sh -c, not SHELL


def test_commit_carries_the_healthcheck(client: Any, dockyard_clean_images: Any) -> None:
    c = client.containers.create("busybox", ["sleep", "1000"], network_mode="none",
                                 healthcheck={"Test": ["CMD-SHELL", "exit 1"], "Interval": 200 * MS,
                                              "StartPeriod": 1500 * MS, "Retries": 1})
    image = c.commit("dockyard-hc-commit", "a")
    assert image.attrs["Config"]["Healthcheck"] == {
        "Test": ["CMD-SHELL", "exit 1"], "Interval": 200 * MS, "StartPeriod": 1500 * MS,
        "Retries": 1}
    # recorded: a HEALTHCHECK change keeps what it leaves unset from the container's
    image = c.commit("dockyard-hc-commit", "b", changes=["HEALTHCHECK --interval=5s CMD true"])
    assert image.attrs["Config"]["Healthcheck"] == {
        "Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000, "StartPeriod": 1500 * MS,
        "Retries": 1}
    image = c.commit("dockyard-hc-commit", "c", changes=["HEALTHCHECK NONE"])
    assert image.attrs["Config"]["Healthcheck"] == {
        "Test": ["NONE"], "Interval": 200 * MS, "StartPeriod": 1500 * MS, "Retries": 1}


def test_bad_healthchecks_in_dockerds_words(client: Any) -> None:
    for hc, message in (
            ({"Test": ["CMD", "true"], "Interval": 500_000}, "Interval in Healthcheck cannot be less than 1ms"),
            ({"Test": ["CMD", "true"], "Timeout": 999_999}, "Timeout in Healthcheck cannot be less than 1ms"),
            ({"Test": ["CMD", "true"], "Retries": -1}, "Retries in Healthcheck cannot be negative"),
            ({"Test": ["CMD", "true"], "StartPeriod": 1}, "StartPeriod in Healthcheck cannot be less than 1ms"),
            ({"Test": ["CMD", "true"], "Interval": -5, "Retries": -1},
             "Interval in Healthcheck cannot be less than 1ms")):
        with pytest.raises(docker.errors.APIError) as info:
            client.api.create_container("busybox", ["true"], healthcheck=hc)
        assert (info.value.status_code, info.value.explanation) == (400, message)


# ---- a daemon restart ------------------------------------------------------------------------


def test_checks_resume_after_a_daemon_restart(busybox_daemon: DaemonProcess) -> None:
    """dockerd 20.10 with live-restore leaves a re-adopted container's checks stopped (its
    status frozen); dockyard's re-adopting daemon resumes them, the status as it was."""
    client = busybox_daemon.client()
    try:
        c = _run(client, ["CMD-SHELL", "test -e /tmp/ok"], Retries=1)
        _status(client, c.id, "unhealthy", streak=3)
        busybox_daemon.restart()
        client.close()
        client = busybox_daemon.client()
        health = _health(client, c.id)  # saved at the daemon's stop, though no status changed
        assert health["Status"] == "unhealthy" and health["FailingStreak"] >= 3
        assert len(health["Log"]) >= 3
        client.containers.get(c.id).exec_run(["touch", "/tmp/ok"])
        _status(client, c.id, "healthy")
        client.api.remove_container(c.id, force=True)
    finally:
        client.close()


def test_a_failed_exec_has_its_exec_start_event(client: Any) -> None:
    """dockerd tells exec_start before asking the runtime: a check (or docker exec) that
    cannot start has exec_create and exec_start, and no exec_die (recorded from 20.10)."""
    c = client.containers.run("busybox", ["sleep", "1000"], detach=True, network_mode="none")
    since = time.time() - 1
    exec_id = client.api.exec_create(c.id, ["nonexist"])["Id"]
    client.api.exec_start(exec_id)
    events = client.api.events(since=since, until=time.time() + 0.5, decode=True,
                               filters={"container": c.id})
    assert [e["Action"] for e in events if e["Action"].startswith("exec")] == [
        "exec_create: nonexist ", "exec_start: nonexist "]


def _probe_pids(container: Any) -> set[str]:
    lines = container.exec_run(["ps", "-o", "pid,args"]).output.decode().splitlines()
    return {line.split()[0] for line in lines if line.split()[1:] == ["sleep", "999"]}


def test_a_pause_kills_the_check_in_flight(client: Any) -> None:
    """As dockerd cancels its probe when the monitor stops: the running check is killed (it
    dies at the unpause), not left to run to its timeout."""
    c = _run(client, ["CMD", "sleep", "999"], Timeout=120_000 * MS)
    running = _wait_for(lambda: _probe_pids(c), "a check in flight")
    c.pause()
    c.unpause()
    _wait_for(lambda: not running & _probe_pids(c), f"the check {running} killed")
    assert _health(client, c.id)["Log"] == []  # its result was not recorded
