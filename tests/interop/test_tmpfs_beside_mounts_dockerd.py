"""A ``HostConfig.Tmpfs`` destination shared with a ``--mount``, side by side with a private
dockerd 20.10: its create takes them (its duplicate check looks at ``Binds`` and ``Mounts``
only; a ``Binds`` entry there is refused), and its start mounts what runc is given —

- a tmpfs ``--mount`` over the ``Tmpfs`` one (both in the container's mountinfo, the
  ``--mount``'s options on top), its root given the mode of the one below (runc chmods a tmpfs
  to the mode of the directory it covers: a ``Tmpfs`` over busybox's /home is 755), a
  read-only one made so by a remount (its superblock rw);
- a bind or a volume ``--mount`` not at all (dockerd's start skips a mount point where a tmpfs
  is): the volume is made and named in ``Mounts`` (``Mode`` "z", as any local volume of a
  ``--mount``), but has no ``mount`` event (its ``unmount`` is told).

``inspect`` shows the ``--mount`` in ``Mounts`` and both as sent in the ``HostConfig``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

VOLUME = "dy-tmpfs-beside"


def _cases(source: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    x = "/x"
    return {
        "tmpfs over tmpfs": (x, {"Tmpfs": {x: "size=1m,mode=700"}, "Mounts": [
            {"Type": "tmpfs", "Target": x, "TmpfsOptions": {"SizeBytes": 2 << 20, "Mode": 0o755}}]}),
        "read-only tmpfs over tmpfs": (x, {"Mounts": [
            {"Type": "tmpfs", "Target": x, "ReadOnly": True, "TmpfsOptions": {"SizeBytes": 2 << 20}}],
            "Tmpfs": {x: "size=1m,exec"}}),
        "bind under tmpfs": (x, {"Tmpfs": {x: "size=1m"},
                                 "Mounts": [{"Type": "bind", "Source": str(source), "Target": x}]}),
        "volume under tmpfs": (x, {"Tmpfs": {x: "size=1m"},
                                   "Mounts": [{"Type": "volume", "Source": VOLUME, "Target": x}]}),
        "anonymous volume under tmpfs": (x, {"Tmpfs": {x: ""}, "Mounts": [{"Type": "volume", "Target": x}]}),
        "tmpfs over an image directory": ("/home", {"Tmpfs": {"/home": "mode=700"}}),
        "read-only tmpfs": (x, {"Tmpfs": {x: "ro,mode=700"}}),
        "read-only tmpfs mount": (x, {"Mounts": [{"Type": "tmpfs", "Target": x, "ReadOnly": True}]}),
    }


def _seen(client: Any, target: str, host_config: dict[str, Any]) -> dict[str, Any]:
    """What the container shows of ``target``, what inspect shows, and the volume's events."""
    api = client.api
    script = (f"grep ' {target} ' /proc/self/mountinfo | cut -d' ' -f5-; ls -ld {target} | cut -c1-10;"
              f" ls {target}; df {target} | tail -1")
    since = int(time.time())
    cid = api.create_container("busybox", ["sh", "-c", script], host_config={
        "NetworkMode": "none", **host_config})["Id"]
    try:
        api.start(cid)
        code = api.wait(cid)["StatusCode"]
        info = api.inspect_container(cid)
        mounts = [{**m, "Source": "<volume>" if m["Type"] == "volume" else m["Source"],
                   "Name": "<anonymous>" if len(m.get("Name", "")) == 64 else m.get("Name")}
                  for m in info["Mounts"]]
        seen = {"exit": code, "out": api.logs(cid).decode(), "Mounts": mounts,
                "HostConfig": {k: info["HostConfig"].get(k) for k in ("Tmpfs", "Mounts", "Binds")}}
    finally:
        api.remove_container(cid, v=True, force=True)
    events = api.events(since=since, until=int(time.time()) + 1, decode=True,
                        filters={"type": "volume", "volume": VOLUME})
    seen["events"] = [e["Action"] for e in events]
    return seen


@pytest.mark.parametrize("name", list(_cases(Path("/"))))
def test_a_tmpfs_beside_a_mount_as_dockerd(both: dict[str, Any], tmp_path: Path, name: str) -> None:
    (tmp_path / "from-the-bind").write_text("")
    target, host_config = _cases(tmp_path)[name]
    answers = {}
    for side, (_cli, client) in both.items():
        try:
            answers[side] = _seen(client, target, host_config)
        finally:
            if VOLUME in {v["Name"] for v in client.api.volumes()["Volumes"] or []}:
                client.api.remove_volume(VOLUME)
    assert answers["dockyard"] == answers["dockerd"]
    theirs = answers["dockerd"]
    assert theirs["exit"] == 0 and "tmpfs" in theirs["out"] and "from-the-bind" not in theirs["out"]


def test_the_tmpfs_at_the_top_takes_the_mode_below(both: dict[str, Any]) -> None:
    """The facts the side-by-side test rests on, as dockerd shows them."""
    _target, host_config = _cases(Path("/"))["tmpfs over tmpfs"]
    for side, (_cli, client) in both.items():
        lines = _seen(client, "/x", host_config)["out"].splitlines()
        assert [line.rsplit(" ", 1)[1] for line in lines[:2]] == ["rw,size=1024k,mode=700",
                                                                  "rw,size=2048k,mode=755"], side
        assert lines[2] == "drwx------" and lines[3].split()[1] == "2048", side
