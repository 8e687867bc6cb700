"""``--volumes-from`` beside the new container's own mounts at the same path, and ``Tmpfs`` keys
that clean to one path, side by side with a private dockerd 20.10 (raw Engine API):

- a ``Tmpfs`` key is no mount point of dockerd's: the inherited volume stays in ``Mounts``,
  and is not mounted where the key as sent is its path (``/data``), mounted under the tmpfs
  where the key only cleans to it (``/data/``); a tmpfs ``--mount`` replaces it;
- a ``Config.Volumes`` path (``-v /data``, an image's ``VOLUME``) where an inherited volume
  is makes no volume (``HasMountFor``): the inherited one is used, its ``Mode`` not copied;
- ``VolumesFrom`` ``:rw`` of a read-only mount keeps it read-only (``m.RW && ReadWrite``);
- two ``Tmpfs`` keys cleaning to one path are both mounted (no duplicate refused); dockerd
  mounts them in the order it reads its map (the order sent, mostly), so the set is compared."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sidebyside import ApiSide, tidied

VOLUME = "dy-from-tmpfs"
SOURCES: dict[str, dict[str, Any]] = {
    "anonymous": {"Config": {"Volumes": {"/data": {}}}, "HostConfig": {}},
    "named": {"Config": {}, "HostConfig": {"Binds": [f"{VOLUME}:/data"]}},
    "read-only": {"Config": {}, "HostConfig": {"Binds": [f"{VOLUME}:/data:ro"]}},
}
CASES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "tmpfs at its path": ("named", {}, {"Tmpfs": {"/data": "size=1m"}}),
    "tmpfs at its path, anonymous": ("anonymous", {}, {"Tmpfs": {"/data": ""}}),
    "tmpfs key cleaning to its path": ("named", {}, {"Tmpfs": {"/data/": "size=1m"}}),
    "tmpfs mount at its path": ("named", {}, {"Mounts": [{"Type": "tmpfs", "Target": "/data"}]}),
    "anonymous volume at its path": ("named", {"Volumes": {"/data": {}}}, {}),
    "anonymous volume at an anonymous one's path": ("anonymous", {"Volumes": {"/data/": {}}}, {}),
    "named volume at its path": ("anonymous", {}, {"Binds": [f"{VOLUME}-2:/data"]}),
    "rw of a read-only one": ("read-only", {}, {}),
}
# each /data mount: its path, rw or ro, its file system type (not its propagation tags)
SCRIPT = r"grep ' /data ' /proc/self/mountinfo | sed -E 's/^([^ ]+ ){4}([^ ]+) ([^, ]+).* - ([^ ]+) .*/\2 \3 \4/'"


def _names(side: ApiSide, source: str) -> dict[str, str]:
    """The source container's volume shown as ``<source's>``, any other anonymous as ``<new>``."""
    mounts = side.api.inspect_container(source)["Mounts"]
    return {m["Name"]: "<source's>" for m in mounts}


def _seen(side: ApiSide, source: dict[str, Any], config: dict[str, Any],
          host_config: dict[str, Any], volumes_from: str = "") -> tuple[Any, ...]:
    hc = {"NetworkMode": "none"}
    status, made = side.call("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["true"], **source["Config"], "HostConfig": {**hc, **source["HostConfig"]}})
    assert status == 201, made
    spec = made["Id"] + (f":{volumes_from}" if volumes_from else "")
    status, body = side.call("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["sh", "-c", SCRIPT], **config,
        "HostConfig": {**hc, "VolumesFrom": [spec], **host_config}})
    if status != 201:
        return status, body
    cid = body["Id"]
    started = side.call("POST", f"/containers/{cid}/start")
    side.api.wait(cid)
    names = _names(side, made["Id"])
    mounts = [{**m, "Source": "<volume>" if m["Type"] == "volume" else m["Source"],
               "Name": names.get(m.get("Name", ""), "<new>" if len(m.get("Name", "")) == 64 else m.get("Name"))}
              for m in side.api.inspect_container(cid)["Mounts"]]
    return started, side.api.logs(cid).decode(), mounts


def _remove_volumes(side: ApiSide) -> None:
    for name in (VOLUME, f"{VOLUME}-2"):
        if name in {v["Name"] for v in side.api.volumes()["Volumes"] or []}:
            side.api.remove_volume(name)


@pytest.fixture
def sides(dockerd: Any, dockyard_daemon: Any, busybox_image: str) -> Iterator[list[ApiSide]]:
    """The two daemons; the containers a test made go after it with their volumes (the
    anonymous ones too), then the named volumes."""
    hosts = {"dockerd": dockerd.host, "dockyard": dockyard_daemon.host}
    with tidied([ApiSide(name, host) for name, host in hosts.items()], volumes=True) as pair:
        yield pair
    for name, host in hosts.items():
        side = ApiSide(name, host)
        _remove_volumes(side)
        side.api.close()


@pytest.mark.parametrize("name", list(CASES))
def test_volumes_from_beside_own_mounts_as_dockerd(sides: list[ApiSide], name: str) -> None:
    source, config, host_config = CASES[name]
    mode = "rw" if name == "rw of a read-only one" else ""
    answers = {s.name: _seen(s, SOURCES[source], config, host_config, mode) for s in sides}
    assert answers["dockyard"] == answers["dockerd"]
    assert answers["dockerd"][0] == (204, None)


def test_volumes_from_facts_of_dockerd(sides: list[ApiSide]) -> None:
    """What the side-by-side test rests on, as dockerd shows it."""
    theirs = sides[0]
    _started, out, mounts = _seen(theirs, SOURCES["named"], {}, {"Tmpfs": {"/data": ""}})
    assert out.split() == ["/data", "rw", "tmpfs"] and mounts[0]["Name"] == "<source's>"
    _started, out, mounts = _seen(theirs, SOURCES["named"], {}, {"Tmpfs": {"/data/": ""}})
    assert [line.split()[2] for line in out.splitlines()][1:] == ["tmpfs"] and len(out.splitlines()) == 2
    _started, out, mounts = _seen(theirs, SOURCES["anonymous"], {"Volumes": {"/data": {}}}, {})
    assert [m["Name"] for m in mounts] == ["<source's>"] and mounts[0]["Mode"] == ""
    _started, out, mounts = _seen(theirs, SOURCES["read-only"], {}, {}, "rw")
    assert mounts[0]["RW"] is False and out.split()[1] == "ro"
    assert _seen(theirs, SOURCES["named"], {}, {"Tmpfs": {"/data/": "size=1m"}})[1].startswith("/data rw ")


TMPFS: dict[str, dict[str, str]] = {
    "trailing slash": {"/data": "size=1m", "/data/": "size=2m"},
    "dot": {"/data": "size=1m", "/data/.": "size=2m"},
    "two slashes": {"/data": "size=1m", "//data": "size=2m"},
    "dot-dot": {"/data": "size=1m", "/x/../data": "size=2m"},
    "two slashes alone": {"//data": "size=2m"},
}


@pytest.mark.parametrize("name", list(TMPFS))
def test_tmpfs_keys_cleaning_to_one_path_as_dockerd(sides: list[ApiSide], name: str) -> None:
    script = (r"grep ' /data ' /proc/self/mountinfo | sed -E 's/^([^ ]+ ){4}([^ ]+) .* - ([^ ]+) [^ ]+ /\2 \3 /';"
              " ls -ld /data | cut -c1-10")
    answers = {}
    for side in sides:
        status, body = side.call("POST", "/containers/create", {
            "Image": "busybox", "Cmd": ["sh", "-c", script],
            "HostConfig": {"NetworkMode": "none", "Tmpfs": TMPFS[name]}})
        assert status == 201, (side.name, body)
        started = side.call("POST", f"/containers/{body['Id']}/start")
        side.api.wait(body["Id"])
        lines = side.api.logs(body["Id"]).decode().splitlines()
        info = side.api.inspect_container(body["Id"])
        answers[side.name] = (started, sorted(lines), info["Mounts"], info["HostConfig"]["Tmpfs"])
    assert answers["dockyard"] == answers["dockerd"]
    assert answers["dockerd"][0] == (204, None) and len(answers["dockerd"][1]) == len(TMPFS[name]) + 1


def test_bind_paths_cleaned_as_dockerd(sides: list[ApiSide], tmp_path: Any) -> None:
    """A bind's paths are Go's ``filepath.Clean`` of them: a leading ``//`` is one slash
    (Python's ``normpath`` keeps it), in ``Mounts`` and in the container."""
    binds = [f"/{tmp_path}://data", "//tmp:/b//", "/tmp:/x/..//c"]
    mounts = [{"Type": "bind", "Source": f"/{tmp_path}", "Target": "//d"}]
    answers = {}
    for side in sides:
        status, body = side.call("POST", "/containers/create", {
            "Image": "busybox", "Cmd": ["sh", "-c", "grep -c -E ' /(data|b|c|d) ' /proc/self/mountinfo"],
            "HostConfig": {"NetworkMode": "none", "Binds": binds, "Mounts": mounts}})
        assert status == 201, (side.name, body)
        side.call("POST", f"/containers/{body['Id']}/start")
        side.api.wait(body["Id"])
        shown = [(m["Source"], m["Destination"]) for m in side.api.inspect_container(body["Id"])["Mounts"]]
        answers[side.name] = (side.api.logs(body["Id"]).decode(), sorted(shown))
    assert answers["dockyard"] == answers["dockerd"]
    assert answers["dockerd"] == ("4\n", sorted([(str(tmp_path), "/data"), ("/tmp", "/b"), ("/tmp", "/c"),
                                                (str(tmp_path), "/d")]))
