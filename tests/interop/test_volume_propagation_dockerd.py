"""A volume's mount inside a container beside a private dockerd 20.10.

dockerd gives a volume no propagation (``Mounts[].Propagation`` is ""), so runc applies none
to its bind: made under the container's ``rslave`` root, it is a slave of the shared mount
that holds the daemon's data root (``master:N`` in /proc/self/mountinfo, N that mount's peer
group on the host). dockyard made every bind without a word private (no tag). A propagation
word in ``-v name:/data:MODE`` is the parser's BindOptions on a volume: refused.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.slow

CASES: dict[str, list[str]] = {
    "named -v": ["-v", "dyvprop-named:/data"],
    "named -v ro": ["-v", "dyvprop-ro:/data:ro"],
    "anonymous -v": ["-v", "/data"],
    "--mount type=volume": ["--mount", "type=volume,src=dyvprop-mount,dst=/data"],
    "--mount anonymous": ["--mount", "type=volume,dst=/data"],
}


def _tags(optional: str) -> list[str]:
    """mountinfo's optional fields without their peer group numbers."""
    return sorted(field.partition(":")[0] for field in optional.split())


def _holding(source: str) -> tuple[str, str]:
    """(mount point, optional fields) of the mount holding ``source`` in this namespace."""
    best = ("", "")
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            head = line.split(" - ")[0].split()
            point = head[4]
            if (source == point or source.startswith(point.rstrip("/") + "/")) and len(point) >= len(best[0]):
                best = (point, " ".join(head[6:]))
    return best


def _seen(cli: DockerCLI, args: list[str]) -> tuple[list[str], str, str, str]:
    """/data's optional fields inside a container, its Propagation and Source inspected."""
    made = cli("run", "-d", "--pull", "never", "--network", "none", *args, "busybox", "sleep", "60")
    assert made.returncode == 0, made.stderr
    cid = made.stdout.strip()
    try:
        table = cli("exec", cid, "cat", "/proc/self/mountinfo").stdout
        line = next(line for line in table.splitlines() if line.split()[4] == "/data")
        optional = " ".join(line.split(" - ")[0].split()[6:])
        (point,) = json.loads(cli("inspect", cid).stdout)[0]["Mounts"]
        return _tags(optional), optional, point["Propagation"], point["Source"]
    finally:
        cli("rm", "-f", "-v", cid)


@pytest.mark.parametrize("name", list(CASES))
def test_a_volume_is_a_slave_of_the_data_root_as_with_dockerd(both: dict[str, Any],
                                                             name: str) -> None:
    seen = {}
    for side, (cli, _client) in both.items():
        try:
            tags, optional, propagation, source = _seen(cli, CASES[name])
        finally:
            for volume in ("dyvprop-named", "dyvprop-ro", "dyvprop-mount"):
                cli("volume", "rm", volume)
        _point, host_optional = _holding(source)
        shared = [f for f in host_optional.split() if f.startswith("shared:")]
        # the master named inside is the peer group of the data root's shared mount here
        seen[side] = (tags, propagation, [f"master:{f[7:]}" for f in shared] == optional.split())
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"] == (["master"], "", True)


@pytest.mark.parametrize("mode", ["rshared", "rslave", "private", "ro,slave"])
def test_a_propagation_word_on_a_volume_is_refused_as_by_dockerd(both: dict[str, Any],
                                                                mode: str) -> None:
    seen = {}
    for side, (_cli, client) in both.items():
        api = client.api
        raw = f"dyvprop-word:/data:{mode}"
        body = {"Image": "busybox", "HostConfig": {"Binds": [raw], "NetworkMode": "none"}}
        response = api._post_json(api._url("/containers/create"), data=body)
        seen[side] = (response.status_code, json.loads(response.text).get("message"))
        if response.status_code == 201:
            api.remove_container(response.json()["Id"], v=True)
        client.api._delete(api._url("/volumes/dyvprop-word"))
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][1] == (f"invalid volume specification: 'dyvprop-word:/data:{mode}': "
                                  'invalid mount config for type "volume": field BindOptions '
                                  "must not be specified")
