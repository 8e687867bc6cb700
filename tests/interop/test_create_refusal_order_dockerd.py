"""Which refusal a create gets, side by side with a private dockerd 20.10, through raw bodies
(the docker CLI checks much itself): dockerd refuses what its request decoder and its
``verifyContainerSettings`` find wrong *before* it looks the image up — so ``docker run`` of an
image not here, with a bad option, fails at once rather than after a pull — and only the log
driver, security options and storage options after it. Recorded answers, in dockerd's order:

- the decoder's ``validateNetMode``: what a ``container:x`` network mode leaves no room for
  (its own hostname, links, DNS servers, extra hosts, published then exposed ports — the
  request's own), a hostname beside ``--uts host``, links beside ``--network host``; before
  the decoder's QoS and resource checks;
- ``validateContainerConfig``: the working directory, the stop signal, an ``Env`` entry with
  no name (``=x``, ""), the health check;
- the host config's checks: AutoRemove beside a restart policy, the ``Mounts`` (a bind's
  source must exist; a volume's name and a tmpfs size wait), the extra hosts, the published
  ports (Go's map: one bad key a body), the restart policy, the capabilities; then the
  resources, SHM size, OOM score, runtime, ``Tmpfs`` destinations (a map too), cgroup
  namespace mode; and a ``container:x`` PID mode's lookup.

After the image: ``VolumesFrom`` (an empty one, an empty name, a bad mode, a container not
found: each a 400), the ``Binds``, a ``Mounts`` volume's name, duplicate mount points, a
published port's host address, an extra host's address dockerd takes (trimmed, IPv4 in IPv6).

Each body names an image neither daemon has, but for the last group, which names busybox.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sidebyside import ApiSide, tidied

from dockyard.testing.dockerd import Dockerd

MISSING = "dy-no-such-image:1"
BIND_REL = {"Type": "bind", "Source": "rel", "Target": "/x"}

BEFORE_THE_IMAGE = [
    {"HostConfig": {"NetworkMode": "container:"}},
    {"HostConfig": {"NetworkMode": "container"}},
    {"Hostname": "x", "HostConfig": {"NetworkMode": "container:abc", "Links": ["a:b"]}},
    {"HostConfig": {"NetworkMode": "container:abc", "Links": ["a:b"], "Dns": ["10.0.0.1"]}},
    {"HostConfig": {"NetworkMode": "container:abc", "Dns": ["10.0.0.1"], "ExtraHosts": ["a:10.0.0.2"]}},
    {"HostConfig": {"NetworkMode": "container:abc", "ExtraHosts": ["a:10.0.0.2"], "PublishAllPorts": True}},
    {"ExposedPorts": {"80/tcp": {}}, "HostConfig": {"NetworkMode": "container:abc",
                                                    "PortBindings": {"80/tcp": [{"HostPort": "80"}]}}},
    {"ExposedPorts": {"80/tcp": {}}, "HostConfig": {"NetworkMode": "container:abc"}},
    {"Hostname": "x", "HostConfig": {"UTSMode": "host", "NetworkMode": "host", "Links": ["a:b"]}},
    {"HostConfig": {"NetworkMode": "host", "Links": ["a:b"], "Dns": ["10.0.0.1"]}},
    {"HostConfig": {"NetworkMode": "container:abc", "Dns": ["10.0.0.1"], "IOMaximumIOps": 5}},
    {"WorkingDir": "rel", "StopSignal": "BOGUS"},
    {"StopSignal": "BOGUS", "Env": ["=x"]},
    {"Env": ["A=1", "=x"], "Healthcheck": {"Interval": 1}},
    {"Env": [""]},
    {"Healthcheck": {"Interval": 1}, "HostConfig": {"Memory": 1}},
    {"HostConfig": {"Memory": 1, "PidsLimit": -5}},
    {"HostConfig": {"RestartPolicy": {"Name": "bogus"}, "Memory": 1}},
    {"HostConfig": {"RestartPolicy": {"Name": "always"}, "AutoRemove": True}},
    {"HostConfig": {"CapAdd": ["NOPE"], "ShmSize": -1}},
    {"HostConfig": {"ShmSize": -1, "OomScoreAdj": 5000}},
    {"HostConfig": {"OomScoreAdj": 5000, "Runtime": "nope"}},
    {"HostConfig": {"Runtime": "nope", "CgroupnsMode": "bogus"}},
    {"HostConfig": {"CpusetCpus": "99"}},
    {"HostConfig": {"PidMode": "container:dy-no-such-container"}},
    {"HostConfig": {"SecurityOpt": ["bogus"], "ShmSize": -1}},
    {"HostConfig": {"AutoRemove": True, "RestartPolicy": {"Name": "always"}, "Mounts": [BIND_REL]}},
    {"HostConfig": {"Mounts": [BIND_REL], "ExtraHosts": ["bad"]}},
    {"HostConfig": {"Mounts": [{"Type": "volume", "Source": "a/b", "Target": "/y"}, BIND_REL]}},
    {"HostConfig": {"Mounts": [{"Type": "tmpfs", "Target": "/y", "TmpfsOptions": {"SizeBytes": -1}},
                               BIND_REL]}},
    {"HostConfig": {"Mounts": [{"Type": "bogus", "Target": ""}]}},
    {"HostConfig": {"Mounts": [{"Type": "tmpfs", "Target": "/x/.."}]}},
    {"HostConfig": {"Mounts": [{"Type": "bind", "Source": "/dy-no-such-dir", "Target": "/x"}]}},
    {"HostConfig": {"ExtraHosts": ["a:10.0.0.1", "bad"], "PortBindings": {"abc/tcp": []}}},
    {"HostConfig": {"ExtraHosts": [":10.0.0.1"]}},
    {"HostConfig": {"ExtraHosts": ["a=10.0.0.1"]}},
    {"HostConfig": {"ExtraHosts": ["a:[::1]"]}},
    {"HostConfig": {"ExtraHosts": ["a:fe80::1%eth0"]}},
    {"HostConfig": {"ExtraHosts": ["a:01.2.3.4"]}},
    {"HostConfig": {"ExtraHosts": ["a:\x1c10.0.0.1"]}},
    {"HostConfig": {"ExtraHosts": ["a:bogus"], "Memory": 1}},
    {"HostConfig": {"PortBindings": {"abc/tcp": []}, "RestartPolicy": {"Name": "bogus"}}},
    {"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "abc"}]}, "CapAdd": ["NOPE"]}},
    {"HostConfig": {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}, "Mounts": [BIND_REL]}},
    {"HostConfig": {"CapAdd": ["NOPE"], "Memory": 1}},
    {"HostConfig": {"Memory": 1, "Tmpfs": {"rel": ""}}},
    {"HostConfig": {"Runtime": "nope", "Tmpfs": {"rel": ""}}},
    {"HostConfig": {"Tmpfs": {"rel": ""}, "CgroupnsMode": "bogus"}},
    {"HostConfig": {"Tmpfs": {"/x/..": ""}}},
]
AFTER_THE_IMAGE = [
    {"HostConfig": {"NetworkMode": "container:abc", "PortBindings": {}, "DnsSearch": ["a.b"]}},
    {"HostConfig": {"LogConfig": {"Type": "nope"}}},
    {"HostConfig": {"SecurityOpt": ["bogus"], "LogConfig": {"Type": "json-file", "Config": {"foo": "bar"}}}},
    {"HostConfig": {"StorageOpt": {"size": "1G"}}},
    {"HostConfig": {"VolumesFrom": ["dy-no-such-container"]}},
    {"HostConfig": {"VolumesFrom": [""]}},
    {"HostConfig": {"VolumesFrom": [":ro"]}},
    {"HostConfig": {"VolumesFrom": ["dy-no-such-container:bogus"]}},
    {"HostConfig": {"Binds": ["/tmp:rel"]}},
    {"HostConfig": {"Mounts": [{"Type": "volume", "Source": "a/b", "Target": "/x"}]}},
    {"HostConfig": {"Mounts": [{"Type": "tmpfs", "Target": "/x"}, {"Type": "tmpfs", "Target": "/x"}]}},
    {"HostConfig": {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "rel",
                                 "CgroupPermissions": "rwm"}]}},
    {"HostConfig": {"Sysctls": {"bogus.key": "1"}, "Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]}},
    {"HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "bogus", "HostPort": "80"}]}}},
    {"HostConfig": {"ExtraHosts": ["a:host-gateway", "b: 10.0.0.1 ", "c:::ffff:10.0.0.1",
                                   "d:\u00a010.0.0.1"]}},
]
"""With busybox present each is then answered as dockerd answers it — but an unknown log driver,
which dockerd looks up as a plugin for 15 s (tests/interop/test_ignored_options_dockerd.py
compares that one with a recording)."""


@pytest.fixture
def sides(dockyard_daemon: Any, busybox_image: str, dockerd: Dockerd) -> Iterator[list[ApiSide]]:
    with tidied([ApiSide("dockerd", dockerd.host), ApiSide("dockyard", dockyard_daemon.host)]) as made:
        yield made


def _said(sides: list[ApiSide], body: dict[str, Any]) -> tuple[int, Any]:
    """Both daemons' (status, body), the same (a created container's id read as ``<id>``)."""
    said = []
    for side in sides:
        status, answer = side.call("POST", "/containers/create", body)
        said.append((status, {**answer, "Id": "<id>"} if "Id" in answer else answer))
    assert said[1] == said[0]
    return said[0]


@pytest.mark.parametrize("body", BEFORE_THE_IMAGE, ids=lambda body: json.dumps(body)[:70])
def test_refused_before_the_image_is_looked_up(sides: list[ApiSide], body: dict[str, Any]) -> None:
    status, answer = _said(sides, {"Image": MISSING, **body})
    assert status in (400, 500) and "No such image" not in answer["message"]


@pytest.mark.parametrize("body", AFTER_THE_IMAGE, ids=lambda body: json.dumps(body)[:70])
def test_checked_once_the_image_is_found(sides: list[ApiSide], body: dict[str, Any]) -> None:
    assert _said(sides, {"Image": MISSING, **body}) == (404, {"message": f"No such image: {MISSING}"})
    if body["HostConfig"].get("LogConfig", {}).get("Type") == "nope":
        return
    status, answer = _said(sides, {"Image": "busybox", **body})
    assert status in (201, 400, 500), answer
