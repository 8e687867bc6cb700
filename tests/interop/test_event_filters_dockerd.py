"""``docker events --filter`` as a private dockerd 20.10 reads every key: ``container``,
``network``, ``volume`` and ``daemon`` match a prefix of any event's actor id or name (a
network named after a container shows up under its filter too), ``label`` needs every label
given, ``image`` matches the name with or without its tag, ``type``/``event`` exactly. dockyard
ignored ``network`` and ``volume`` (every event passed) and matched ``container`` on container
events alone, by the whole name."""

from __future__ import annotations

import time
from typing import Any

import pytest

pytestmark = pytest.mark.slow

FILTERS = [
    ["network=evf-net"], ["network=evf"], ["volume=evf-vol"], ["container=evf-c"],
    ["container=evf"], ["container=evf-net"], ["label=evf=1"], ["label=evf=1", "label=other"],
    ["label=evf"], ["image=busybox"], ["image=busybox:latest"], ["type=volume"],
    ["type=network", "event=connect"], ["event=die", "event=destroy"], ["daemon=nosuch"],
    ["scope=local", "type=container", "event=start"], ["scope=swarm"],
]


def _events(docker: Any) -> tuple[str, str, list[list[str]]]:
    """Make a network, a volume and a labelled container on both, then each filter's events
    between the first and the last step: ``Type Action name`` lines."""
    since = f"{time.time() - 1:.3f}"
    steps = [("network", "create", "evf-net"), ("volume", "create", "evf-vol"),
             ("run", "--name", "evf-c", "-l", "evf=1", "--network", "evf-net", "-v", "evf-vol:/v",
              "busybox", "true"),
             ("rm", "evf-c"), ("network", "rm", "evf-net"), ("volume", "rm", "evf-vol")]
    for step in steps:
        done = docker(*step)
        assert done.returncode == 0, (step, done.stderr)
    until = f"{time.time() + 1:.3f}"
    time.sleep(1.2)  # until is in the future: wait for it, so the command ends by itself
    listed = []
    for spec in FILTERS:
        args = [a for value in spec for a in ("--filter", value)]
        done = docker("events", "--since", since, "--until", until, *args,
                      "--format", "{{.Type}} {{.Action}} {{index .Actor.Attributes \"name\"}}")
        assert done.returncode == 0, done.stderr
        listed.append(done.stdout.splitlines())
    return since, until, listed


def test_event_filters_as_dockerd(both: dict[str, Any]) -> None:
    answers = {side: _events(docker)[2] for side, (docker, _client) in both.items()}
    for spec, ours, theirs in zip(FILTERS, answers["dockyard"], answers["dockerd"], strict=True):
        assert ours == theirs, spec
    by_network = answers["dockerd"][0]
    assert "network create evf-net" in by_network and "container start evf-c" not in by_network
