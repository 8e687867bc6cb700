"""Mount targets runc refuses and bind sources dockerd refuses, side by side with a private
dockerd 20.10 (raw Engine API: the create's and the start's status and words, the exit code
recorded). Recorded from dockerd:

- a bind (a volume too) under ``/proc`` is runc's ``checkProcMount``: ``"<rootfs>/proc/x"
  cannot be mounted because it is inside /proc`` (500, 128), one at ``/proc`` itself ``… is
  not of type proc``; a file lxcfs emulates (``/proc/uptime``) may be covered;
- a mountpoint runc cannot make names the part Go's ``MkdirAll`` failed on: ``mkdir
  <rootfs>/sys/x: read-only file system`` (500, 128), a tmpfs under ``/proc`` ``mkdir
  <rootfs>/proc/x: no such file or directory`` (400, 127) — each after ``error mounting
  "<source>" to rootfs at "<target>": ``;
- a ``--mount`` bind's source is ``os.Stat``'ed: a link to nowhere does not exist, a path
  through a file is ``stat …: not a directory``; a ``-v`` one to nowhere fails its start as
  dockerd's ``MkdirAll`` does (``mkdir …: file exists``, 500); a link to a directory is
  followed (its target shown in ``/proc/self/mountinfo``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sidebyside import ApiSide, tidied

Case = Callable[[Path], dict[str, Any]]


def _bind(target: str) -> Case:
    return lambda tmp: {"Mounts": [{"Type": "bind", "Source": str(tmp / "dir"), "Target": target}]}


CASES: dict[str, Case] = {
    "bind under /proc": _bind("/proc/x"),
    "bind at /proc": _bind("/proc"),
    "bind under /sys": _bind("/sys/x"),
    "-v under /proc": lambda tmp: {"Binds": [f"{tmp / 'dir'}:/proc/x"]},
    "volume under /proc": lambda tmp: {"Mounts": [{"Type": "volume", "Target": "/proc/x"}]},
    "tmpfs under /sys": lambda tmp: {"Mounts": [{"Type": "tmpfs", "Target": "/sys/x"}]},
    "Tmpfs under /proc": lambda tmp: {"Tmpfs": {"/proc/x": ""}},
    "file over /proc/uptime": lambda tmp: {"Binds": [f"{tmp / 'file'}:/proc/uptime:ro"]},
    "bind source missing": lambda tmp: {"Mounts": [
        {"Type": "bind", "Source": str(tmp / "missing"), "Target": "/x"}]},
    "bind source a link to nowhere": lambda tmp: {"Mounts": [
        {"Type": "bind", "Source": str(tmp / "nowhere"), "Target": "/x"}]},
    "bind source through a file": lambda tmp: {"Mounts": [
        {"Type": "bind", "Source": str(tmp / "file" / "x"), "Target": "/x"}]},
    "-v source a link to nowhere": lambda tmp: {"Binds": [f"{tmp / 'nowhere'}:/x"]},
    "bind source a link to a directory": lambda tmp: {"Mounts": [
        {"Type": "bind", "Source": str(tmp / "link"), "Target": "/x/"}]},
    "-v source a link to a directory, trailing slashes": lambda tmp: {"Binds": [f"{tmp / 'link'}/:/x/"]},
}
SCRIPT = "grep -E ' /(x|proc/uptime) ' /proc/self/mountinfo | cut -d' ' -f4,5; cat /proc/uptime | wc -l"


def _plain(text: str) -> str:
    """A daemon's own paths as placeholders: the container's root, a volume's directory."""
    text = re.sub(r"/\S+/(?:merged|rootfs)(?=/)", "<rootfs>", text)
    return re.sub(r"/\S+/volumes/[0-9a-f]{64}/_data", "<volume>", text)


def _seen(side: ApiSide, host_config: dict[str, Any]) -> tuple[Any, ...]:
    status, body = side.call("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["sh", "-c", SCRIPT], "HostConfig": {"NetworkMode": "none", **host_config}})
    if status != 201:
        return "create", status, body
    cid = body["Id"]
    status, body = side.call("POST", f"/containers/{cid}/start")
    if status != 204:
        state = side.api.inspect_container(cid)["State"]
        return "start", status, _plain(body["message"]), state["ExitCode"], _plain(state["Error"])
    side.api.wait(cid)
    return "ran", side.api.logs(cid).decode()


@pytest.fixture
def sides(dockerd: Any, dockyard_daemon: Any, busybox_image: str) -> Iterator[list[ApiSide]]:
    """The two daemons; the containers a test made go after it with their volumes."""
    with tidied([ApiSide("dockerd", dockerd.host), ApiSide("dockyard", dockyard_daemon.host)],
                volumes=True) as pair:
        yield pair


@pytest.mark.parametrize("name", list(CASES))
def test_mount_targets_and_sources_as_dockerd(sides: list[ApiSide], tmp_path: Path, name: str) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("up\n")
    (tmp_path / "nowhere").symlink_to(tmp_path / "gone")
    (tmp_path / "link").symlink_to(tmp_path / "dir")
    host_config = CASES[name](tmp_path)
    answers = {side.name: _seen(side, host_config) for side in sides}
    assert answers["dockyard"] == answers["dockerd"]
    assert not (tmp_path / "gone").exists()


def test_the_facts_as_dockerd_shows_them(sides: list[ApiSide], tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "nowhere").symlink_to(tmp_path / "gone")
    theirs = sides[0]
    runc = ("failed to create shim task: OCI runtime create failed: runc create failed: unable to "
            "start container process: error during container init: error mounting ")
    inside = (f'"{tmp_path}/dir" to rootfs at "/proc/x": "<rootfs>/proc/x" cannot be mounted '
              "because it is inside /proc: unknown")
    assert _seen(theirs, CASES["bind under /proc"](tmp_path))[1:4] == (500, runc + inside, 128)
    procfs = '"tmpfs" to rootfs at "/proc/x": mkdir <rootfs>/proc/x: no such file or directory: unknown'
    assert _seen(theirs, CASES["Tmpfs under /proc"](tmp_path))[1:4] == (400, runc + procfs, 127)
    gone = f'invalid mount config for type "bind": bind source path does not exist: {tmp_path}/nowhere'
    assert _seen(theirs, CASES["bind source a link to nowhere"](tmp_path)) == ("create", 400, {"message": gone})
    made = f"error while creating mount source path '{tmp_path}/nowhere': mkdir {tmp_path}/nowhere: file exists"
    assert _seen(theirs, CASES["-v source a link to nowhere"](tmp_path))[1:3] == (500, made)
