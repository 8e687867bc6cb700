"""``dockyard run --health-*`` against dockerd and dockyard: the same Config.Healthcheck, the
checks running (``inspect --format``, ``ps --filter health=``, ps's Status), and the docker
CLI's refusals in its words."""

from __future__ import annotations

import json
import time

from cliengines import Engine, engines

CONTAINERS = engines("containers")


def _wait_health(engine: Engine, cid: str, status: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if engine.ok("inspect", "--format", "{{.State.Health.Status}}", cid).strip() == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"{cid[:12]} not {status} in 30s")


@CONTAINERS
def test_run_with_health_flags(engine: Engine) -> None:
    cid = engine.ok("run", "-d", "--network", "none", "--health-cmd", "exit 0",
                    "--health-interval", "100ms", "--health-retries", "2", "busybox", "sleep",
                    "100").strip()
    config = engine.ok("inspect", "--format", "{{json .Config.Healthcheck}}", cid)
    assert json.loads(config) == {"Test": ["CMD-SHELL", "exit 0"], "Interval": 100_000_000,
                                  "Retries": 2}
    _wait_health(engine, cid, "healthy")
    assert cid[:12] in engine.ok("ps", "-q", "--filter", "health=healthy").split()
    assert cid[:12] not in engine.ok("ps", "-q", "--filter", "health=none").split()
    assert "(healthy)" in engine.ok("ps", "--filter", f"id={cid}")
    off = engine.ok("run", "-d", "--network", "none", "--no-healthcheck", "busybox", "sleep",
                    "100").strip()
    assert engine.ok("inspect", "--format", "{{json .Config.Healthcheck}}", off) == \
        '{"Test":["NONE"]}\n'


@CONTAINERS
def test_health_flags_refused_in_the_docker_clis_words(engine: Engine) -> None:
    for flags, message in (
            (["--no-healthcheck", "--health-cmd", "x"], "--no-healthcheck conflicts with --health-* options"),
            (["--health-retries", "-1"], "--health-retries cannot be negative"),
            (["--health-interval=-1s"], "--health-interval cannot be negative"),
            (["--health-interval", "5"],
             'invalid argument "5" for "--health-interval" flag: time: missing unit in duration "5"'),
            (["--health-interval", "500us"], "Interval in Healthcheck cannot be less than 1ms")):
        code, _, err = engine.cli("run", "--rm", "--network", "none", *flags, "busybox", "true")
        assert code == 125 and err.startswith("dockyard: ") and message in err, (flags, err)
