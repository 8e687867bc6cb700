"""Healthcheck rules, pure: validation and merging in dockerd's words and order, the probe's
command, the status machine (a fake clock), the output buffer, ps text and the filter.
Expected values were recorded from dockerd 20.10 on this machine; the checks themselves run
for real in tests/integration/containers/test_healthchecks_daemon.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dockyard.containers import health
from dockyard.containers.create import check_config, merge_config
from dockyard.containers.health import Output, Settings, with_result
from dockyard.errors import InvalidArgument

MS = 1_000_000
S = 1_000_000_000


@pytest.mark.parametrize(("config", "message"), [
    ({"Test": ["CMD", "true"], "Interval": 500_000}, "Interval in Healthcheck cannot be less than 1ms"),
    ({"Test": ["CMD", "true"], "Timeout": 999_999}, "Timeout in Healthcheck cannot be less than 1ms"),
    ({"Test": ["CMD", "true"], "Retries": -1}, "Retries in Healthcheck cannot be negative"),
    ({"Test": ["CMD", "true"], "StartPeriod": 1}, "StartPeriod in Healthcheck cannot be less than 1ms"),
    ({"Test": ["CMD", "true"], "StartInterval": 7}, "StartInterval in Healthcheck cannot be less than 1ms"),
    ({"Test": ["CMD", "true"], "Interval": -5}, "Interval in Healthcheck cannot be less than 1ms"),
    ({"Interval": -5, "Retries": -1}, "Interval in Healthcheck cannot be less than 1ms"),  # dockerd's order
    ({"Timeout": 5, "Retries": -1, "StartPeriod": 3}, "Timeout in Healthcheck cannot be less than 1ms"),
    ({"Retries": -1, "StartPeriod": 3}, "Retries in Healthcheck cannot be negative"),
])
def test_validation_in_dockerds_words(config: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        health.validate(config)
    assert str(info.value) == message and info.value.status == 400


@pytest.mark.parametrize("config", [
    None, {}, {"Test": ["CMD", "true"], "Interval": MS, "Timeout": MS, "StartPeriod": MS,
               "StartInterval": MS, "Retries": 0},
    {"Test": ["BOGUS", "x"]}, {"Test": ["CMD"]}, {"Interval": 0, "Timeout": 0},
])
def test_what_dockerd_accepts(config: dict[str, Any] | None) -> None:
    health.validate(config)


IMAGE = {"Test": ["CMD-SHELL", "echo img"], "Interval": 300 * MS, "Timeout": 2 * S, "Retries": 4}


@pytest.mark.parametrize(("mine", "merged"), [  # recorded: create from an image with IMAGE
    (None, {"Test": ["CMD-SHELL", "echo img"], "Interval": 300 * MS, "Timeout": 2 * S, "Retries": 4}),
    ({"Interval": 200 * MS}, {"Test": ["CMD-SHELL", "echo img"], "Interval": 200 * MS,
                              "Timeout": 2 * S, "Retries": 4}),
    ({"Test": ["CMD", "echo", "mine"]}, {"Test": ["CMD", "echo", "mine"], "Interval": 300 * MS,
                                         "Timeout": 2 * S, "Retries": 4}),
    ({"Test": ["NONE"]}, {"Test": ["NONE"], "Interval": 300 * MS, "Timeout": 2 * S, "Retries": 4}),
    ({"Retries": 7, "StartPeriod": 5 * MS}, {"Test": ["CMD-SHELL", "echo img"], "Interval": 300 * MS,
                                             "Timeout": 2 * S, "StartPeriod": 5 * MS, "Retries": 7}),
])
def test_merge_with_the_images(mine: dict[str, Any] | None, merged: dict[str, Any]) -> None:
    assert json.dumps(health.merge(mine, IMAGE)) == json.dumps(merged)  # key order too


@pytest.mark.parametrize(("mine", "kept"), [  # recorded: create from busybox (no HEALTHCHECK)
    (None, None), ({"Test": []}, {}), ({"Interval": S}, {"Interval": S}),
    ({"Test": ["CMD-SHELL", "a", "b"], "Retries": 0}, {"Test": ["CMD-SHELL", "a", "b"]}),
])
def test_merge_without_an_image_healthcheck(mine: dict[str, Any] | None,
                                            kept: dict[str, Any] | None) -> None:
    assert health.merge(mine, None) == kept


def test_create_merges_and_checks_the_request() -> None:
    image = {"Cmd": ["sh"], "Healthcheck": IMAGE}
    cfg = merge_config({"Healthcheck": {"Retries": 9}}, image, "img")
    assert cfg["Healthcheck"] == {**IMAGE, "Retries": 9}
    assert "Healthcheck" not in merge_config({}, {"Cmd": ["sh"]}, "busybox")
    with pytest.raises(InvalidArgument):
        check_config({"Healthcheck": {"Retries": -1}})


@pytest.mark.parametrize(("config", "command"), [
    ({"Healthcheck": {"Test": ["CMD", "echo", "a b"]}}, ["echo", "a b"]),
    ({"Healthcheck": {"Test": ["CMD-SHELL", "echo hi; exit 1"]}}, ["/bin/sh", "-c", "echo hi; exit 1"]),
    ({"Healthcheck": {"Test": ["CMD-SHELL", "echo a", "b"]}}, ["/bin/sh", "-c", "echo a", "b"]),
    ({"Healthcheck": {"Test": ["CMD-SHELL"]}}, ["/bin/sh", "-c"]),  # dockerd: sh's exit 2
    ({"Shell": ["/bin/ash", "-xc"], "Healthcheck": {"Test": ["CMD-SHELL", "x"]}}, ["/bin/ash", "-xc", "x"]),
    ({"Healthcheck": {"Test": ["CMD"]}}, []),  # dockerd 20.10 panics; here the exec refuses
    ({"Healthcheck": {"Test": ["NONE"]}}, None),
    ({"Healthcheck": {"Test": ["BOGUS", "x"]}}, None),
    ({"Healthcheck": {"Test": []}}, None),
    ({"Healthcheck": {"Interval": S}}, None),
    ({}, None),
])
def test_probe_command(config: dict[str, Any], command: list[str] | None) -> None:
    assert health.probe_command(config) == command


def test_settings_defaults_and_intervals() -> None:
    assert Settings.of({}) == Settings(30 * S, 30 * S, 0, 5 * S, 3)
    s = Settings.of({"Healthcheck": {"Interval": S, "StartPeriod": 10 * S, "StartInterval": 2 * S,
                                     "Retries": -2}})
    assert s.retries == 3 and s.timeout == 30 * S
    assert s.wait_ns("starting", 0) == 2 * S  # still starting inside the start period
    assert s.wait_ns("healthy", 0) == S
    assert s.wait_ns("starting", 10 * S) == S
    assert Settings.of({"Healthcheck": {"Interval": S}}).wait_ns("starting", 0) == S


def _result(code: int, output: str = "") -> dict[str, Any]:
    return {"Start": "s", "End": "e", "ExitCode": code, "Output": output}


def test_status_machine_retries() -> None:
    settings = Settings(retries=2)
    h = health.starting(None)
    assert h == {"Status": "starting", "FailingStreak": 0, "Log": []}
    h = with_result(h, _result(1), settings, 10 * S)
    assert (h["Status"], h["FailingStreak"]) == ("starting", 1)
    h = with_result(h, _result(1), settings, 11 * S)
    assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 2)
    h = with_result(h, _result(-1), settings, 12 * S)
    assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 3)
    h = with_result(h, _result(0), settings, 13 * S)
    assert (h["Status"], h["FailingStreak"]) == ("healthy", 0)
    h = with_result(h, _result(7), settings, 14 * S)
    assert (h["Status"], h["FailingStreak"]) == ("healthy", 1)  # healthy until retries fail
    h = with_result(h, _result(7), settings, 15 * S)
    assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 2)


def test_the_start_period_on_a_fake_clock() -> None:
    settings = Settings(retries=1, start_period=5 * S)
    h = health.starting(None)
    for at in (1 * S, 2 * S, 4 * S):  # failures inside the start period, still starting
        h = with_result(h, _result(1), settings, at)
    assert (h["Status"], h["FailingStreak"], len(h["Log"])) == ("starting", 0, 3)
    h = with_result(h, _result(1), settings, 5 * S)  # the first one at its end counts
    assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 1)
    healthy = with_result(health.starting(None), _result(0), settings, S)
    after = with_result(healthy, _result(1), settings, 2 * S)  # once healthy, failures count
    assert (after["Status"], after["FailingStreak"]) == ("unhealthy", 1)


def test_the_log_keeps_five_and_a_restart_keeps_it() -> None:
    h = health.starting(None)
    for n in range(8):
        h = with_result(h, _result(0, str(n)), Settings(), S)
    assert [e["Output"] for e in h["Log"]] == ["3", "4", "5", "6", "7"]
    again = health.starting(health.stopped(h))
    assert again == {"Status": "starting", "FailingStreak": 0, "Log": h["Log"]}
    assert health.stopped({**h, "FailingStreak": 2}) == {**h, "Status": "unhealthy", "FailingStreak": 2}


def test_output_is_cut_as_dockerd_cuts_it() -> None:
    out = Output()
    out.write(b"a" * 4000)
    out.write(b"b" * 200)
    out.write(b"c")
    assert out.text() == "a" * 4000 + "b" * 96 + "..."
    exact = Output()
    exact.write(b"x" * 4096)
    assert exact.text() == "x" * 4096
    bad = Output()
    bad.write(b"ok \xff\n")
    assert bad.text() == "ok \ufffd\n"


def test_timeout_message() -> None:
    assert health.timeout_message(300 * MS) == "Health check exceeded timeout (300ms)"
    assert health.timeout_message(30 * S) == "Health check exceeded timeout (30s)"
    assert health.timeout_message(1500 * MS) == "Health check exceeded timeout (1.5s)"


def test_ps_text_and_filter_values() -> None:
    assert health.ps_text({}) == ""
    assert health.ps_text({"Health": {"Status": "starting"}}) == "health: starting"
    assert health.ps_text({"Health": {"Status": "healthy"}}) == "healthy"
    assert health.ps_text({"Health": {"Status": "unhealthy"}}) == "unhealthy"
    assert health.status_of({}) == "none"
    assert health.status_of({"Health": {"Status": "healthy"}}) == "healthy"
    health.check_filter(["starting", "healthy", "unhealthy", "none"])
    with pytest.raises(InvalidArgument) as info:
        health.check_filter(["healthy", "bogus"])
    assert str(info.value) == "Unrecognised filter value for health: bogus"


def test_started_at_in_nanoseconds() -> None:
    assert health._started_ns("2026-11-29T17:29:20.035717057Z") == 1795973360035717057
    assert health._started_ns("2026-11-29T17:29:20Z") == 1795973360000000000


def test_ps_status_and_filter_of_a_record(tmp_path: Any) -> None:
    from dockyard.containers.record import ContainerRecord
    from dockyard.containers.views import matches, status_text
    record = ContainerRecord(id="c" * 64, name="/x", image="busybox", image_id="sha256:1",
                             config={}, host_config={}, created="2026-11-29T17:00:00Z",
                             dir=tmp_path, lower_dirs=[])
    record.state.update(Status="running", Running=True, StartedAt="2026-11-29T17:29:20Z")
    now = health._started_ns("2026-11-29T17:29:23Z") / S
    assert status_text(record, now) == "Up 3 seconds"
    assert matches(record, {"health": ["none"]}) and not matches(record, {"health": ["starting"]})
    record.state["Health"] = health.starting(None)
    assert status_text(record, now) == "Up 3 seconds (health: starting)"
    assert matches(record, {"health": ["starting", "healthy"]})
    record.state["Health"] = {**record.state["Health"], "Status": "healthy"}
    assert status_text(record, now) == "Up 3 seconds (healthy)"
    record.state["Paused"] = True
    assert status_text(record, now) == "Up 3 seconds (Paused)"
    record.state.update(Paused=False, Running=False, Status="exited", ExitCode=137,
                        FinishedAt="2026-11-29T17:29:22Z")
    record.has_been_started = True
    assert status_text(record, now) == "Exited (137) 1 second ago"
    with pytest.raises(InvalidArgument):
        matches(record, {"health": ["bogus"]})
