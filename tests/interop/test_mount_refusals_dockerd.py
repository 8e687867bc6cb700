"""A create's mount requests refused as a private dockerd 20.10 refuses them, status and words:
``HostConfig.Binds`` are parsed after the create's checks and their parser's errors come as
they are (500), a named volume's bad name as its volume create says it (400), ``Mounts`` and
``Tmpfs`` are checked first (400; a tmpfs destination's words name no mount type). And what it
takes that looks wrong: a relative ``Config.Volumes`` key (``docker run -v data``; ``-v v:/x``,
which the docker CLI reads as a Windows drive's path) is an anonymous volume below the root.
Of two faults in one ``Mounts`` entry, the one dockerd checks first; another type's options,
which dockerd 20.10 does not look at, taken."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.slow

CASES: dict[str, dict[str, Any]] = {
    "bind relative target": {"Binds": ["/tmp:rel"]},
    "bind bad mode": {"Binds": ["/tmp:/x:bogus"]},
    "bind two rw words": {"Binds": ["/tmp:/x:rw,ro"]},
    "bind four parts": {"Binds": ["a:b:c:d"]},
    "bind empty source": {"Binds": [":/x"]},
    "bind no target": {"Binds": ["/tmp:"]},
    "bind onto root": {"Binds": ["/tmp:/"]},
    "bind onto root, cleaned": {"Binds": ["/tmp:/x/.."]},
    "volume onto root, two slashes": {"Binds": ["v1://"]},
    "bind empty target": {"Binds": ["/tmp::ro"]},
    "bind nocopy": {"Binds": ["/tmp:/x:ro,nocopy"]},
    "volume relative target": {"Binds": ["x"]},
    "volume bad name": {"Binds": ["bad@name:/x"]},
    "volume path-like name": {"Binds": ["rel/dir:/x"]},
    "volume one-letter name": {"Binds": ["vv:/x", "v:/y"]},
    "bad name before bad bind": {"Binds": ["bad@name:/x", "/tmp:rel"]},
    "bad bind before bad name": {"Binds": ["/tmp:rel", "bad@name:/x"]},
    "duplicate binds": {"Binds": ["/tmp:/x", "/var:/x"]},
    "tmpfs relative": {"Tmpfs": {"rel": ""}},
    "tmpfs root": {"Tmpfs": {"/": ""}},
    "tmpfs root, cleaned": {"Tmpfs": {"/x/..": ""}},
    "mount onto root, cleaned": {"Mounts": [{"Type": "tmpfs", "Target": "/x/.."}]},
    "mount target before type": {"Mounts": [{"Type": "foo", "Target": "rel"}]},
    "tmpfs empty": {"Tmpfs": {"": ""}},
    "tmpfs before binds": {"Tmpfs": {"rel": ""}, "Binds": ["a:b:c:d"]},
    "mounts before binds": {"Binds": ["a:b:c:d"], "Mounts": [{"Type": "foo", "Target": "/x"}]},
    "mounts before tmpfs": {"Tmpfs": {"rel": ""}, "Mounts": [{"Type": "foo", "Target": "/x"}]},
    "bind at a tmpfs": {"Tmpfs": {"/x": ""}, "Binds": ["/tmp:/x/"]},
    "volume at a tmpfs": {"Tmpfs": {"/x": ""}, "Binds": ["vv:/x"]},
}
_BIND = {"Type": "bind", "Target": "/x"}
_BOGUS = {"Propagation": "bogus"}
TWO_FAULTS: dict[str, dict[str, Any]] = {
    "bind relative source and target": {**_BIND, "Source": "rel", "Target": "rel"},
    "bind no source, bad propagation": {**_BIND, "BindOptions": _BOGUS},
    "bind no source, volume options": {**_BIND, "VolumeOptions": {}},
    "bind no source, tmpfs options": {**_BIND, "TmpfsOptions": {}},
    "bind relative source, bad propagation": {**_BIND, "Source": "rel", "BindOptions": _BOGUS},
    "bind missing source, bad propagation": {**_BIND, "Source": "/dy-none", "BindOptions": _BOGUS},
    "bind read-only, bad propagation": {**_BIND, "Source": "/tmp", "ReadOnly": True,
                                        "BindOptions": {"NonRecursive": True, **_BOGUS}},
    "bind bad propagation, volume options": {**_BIND, "Source": "/tmp", "BindOptions": _BOGUS,
                                             "VolumeOptions": {}},
    "bind relative source, volume options": {**_BIND, "Source": "rel", "VolumeOptions": {}},
    "bind relative source, tmpfs options": {**_BIND, "Source": "rel", "TmpfsOptions": {}},
    "bind missing source, volume options": {**_BIND, "Source": "/dy-none", "VolumeOptions": {}},
    "volume anonymous read-only, tmpfs options": {"Type": "volume", "Target": "/x", "ReadOnly": True,
                                                  "TmpfsOptions": {}},
    "volume bind options, tmpfs options": {"Type": "volume", "Target": "/x", "BindOptions": {},
                                           "TmpfsOptions": {}},
    "tmpfs source, volume options": {"Type": "tmpfs", "Target": "/x", "Source": "a", "VolumeOptions": {}},
    "tmpfs bind options, source": {"Type": "tmpfs", "Target": "/x", "Source": "a", "BindOptions": {}},
}
"""A ``Mounts`` entry with two faults: dockerd 20.10's ``validateMountConfigImpl`` names the
first of its checks — the target; a bind's source given, its propagation, no
``VolumeOptions``, its source absolute, there; a volume's ``BindOptions``, an anonymous one
not read-only; a tmpfs' ``BindOptions``, its ``Source``."""
ODD_OPTIONS: dict[str, dict[str, Any]] = {
    "bind tmpfs options": {**_BIND, "Source": "/tmp", "TmpfsOptions": {"SizeBytes": 5}},
    "volume tmpfs options": {"Type": "volume", "Target": "/x", "TmpfsOptions": {}},
    "tmpfs volume options": {"Type": "tmpfs", "Target": "/x", "VolumeOptions": {"NoCopy": True}},
}
"""Options of another type dockerd 20.10 does not look at: taken (and ignored)."""


def _create(client: Any, host_config: dict[str, Any]) -> tuple[int, str]:
    api = client.api
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "none", **host_config}}
    response = api._post_json(api._url("/containers/create"), data=body)
    if response.status_code == 201:
        api.remove_container(response.json()["Id"], v=True)
        return 201, ""
    return response.status_code, json.loads(response.text)["message"]


@pytest.mark.parametrize("name", list(CASES))
def test_mount_refusals_as_dockerd(both: dict[str, Any], name: str) -> None:
    answers = {side: _create(client, CASES[name]) for side, (_cli, client) in both.items()}
    assert answers["dockyard"] == answers["dockerd"]
    assert answers["dockerd"][0] in (400, 500)


@pytest.mark.parametrize("name", list(TWO_FAULTS))
def test_the_first_of_two_mount_faults_as_dockerd(both: dict[str, Any], name: str) -> None:
    mounts = {"Mounts": [TWO_FAULTS[name]]}
    answers = {side: _create(client, mounts) for side, (_cli, client) in both.items()}
    assert answers["dockyard"] == answers["dockerd"]
    assert answers["dockerd"][0] == 400


@pytest.mark.parametrize("name", list(ODD_OPTIONS))
def test_another_types_options_taken_as_dockerd(both: dict[str, Any], name: str) -> None:
    mounts = {"Mounts": [ODD_OPTIONS[name]]}
    answers = {side: _create(client, mounts) for side, (_cli, client) in both.items()}
    assert answers["dockyard"] == answers["dockerd"] == (201, "")


@pytest.mark.parametrize("volume", ["data", "v:/x", "usr/share", "bin"])
def test_a_relative_anonymous_volume_as_dockerd(both: dict[str, Any], volume: str) -> None:
    """``docker run -v <relative>``: the volume is mounted at that path below ``/`` (filled from
    the image there), its ``Destination`` the path as given."""
    script = f"grep -c ' /{volume} ' /proc/mounts; ls /{volume} | wc -l"
    answers = {}
    for side, (docker, _client) in both.items():
        made = docker("create", "--pull", "never", "--network", "none", "-v", volume, "busybox",
                      "sh", "-c", script)
        assert made.returncode == 0, made.stderr
        cid = made.stdout.strip()
        try:
            ran = docker("start", "-a", cid)
            destinations = docker("inspect", "-f", "{{range .Mounts}}{{.Destination}}{{end}}", cid)
            answers[side] = (ran.returncode, ran.stdout, ran.stderr, destinations.stdout)
        finally:
            docker("rm", "-v", cid)
    assert answers["dockyard"] == answers["dockerd"]
    assert answers["dockerd"][0] == 0 and answers["dockerd"][1].startswith("1\n")
    assert answers["dockerd"][3] == volume + "\n"
