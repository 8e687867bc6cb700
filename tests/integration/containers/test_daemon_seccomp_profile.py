"""``dockyard daemon --seccomp-profile``: the profile every container that names none gets, as
dockerd 20.10 on this machine answered (recorded 2026-11-29 with a profile refusing only
mkdir/mkdirat): a container's ``mkdir`` fails with EPERM, and so does an exec's;
``--security-opt seccomp=unconfined`` lifts it; ``docker info`` shows the path; a missing file
stops the daemon (``opening seccomp profile (…) failed: open …: no such file or directory``)
and a file that is not JSON fails each start (``Decoding seccomp profile failed: …``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from dockyard.testing.daemon import DaemonProcess

NO_MKDIR = {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}


def _daemon(profile: Path | str, busybox_archive: Path) -> DaemonProcess:
    return DaemonProcess(None, "--seccomp-profile", str(profile)).start().load(busybox_archive)


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seccomp") / "no-mkdir.json"
    path.write_text(json.dumps(NO_MKDIR))
    return path


@pytest.fixture(scope="module")
def client(profile: Path, busybox_archive: Path) -> Iterator[Any]:
    d = _daemon(profile, busybox_archive)
    c = d.client()
    try:
        yield c
    finally:
        for item in c.api.containers(all=True):
            c.api.remove_container(item["Id"], force=True)
        c.close()
        d.cleanup()


def _mkdir(client: Any, **kw: Any) -> bytes:
    out: bytes = client.containers.run("busybox", ["sh", "-c", "mkdir /x 2>&1; echo $?"], remove=True, **kw)
    return out


def test_containers_get_the_daemons_profile(client: Any, profile: Path) -> None:
    assert _mkdir(client) == b"mkdir: can't create directory '/x': Operation not permitted\n1\n"
    assert _mkdir(client, security_opt=["seccomp=unconfined"]) == b"0\n"
    assert _mkdir(client, security_opt=["seccomp=builtin"]) == b"0\n"  # Docker's default profile
    c = client.containers.run("busybox", ["sleep", "100"], detach=True)
    try:
        code, out = c.exec_run(["mkdir", "/y"])
        assert (code, out) == (1, b"mkdir: can't create directory '/y': Operation not permitted\n")
        assert client.api.inspect_container(c.id)["HostConfig"]["SecurityOpt"] is None
    finally:
        c.remove(force=True)
    assert f"name=seccomp,profile={profile}" in client.info()["SecurityOptions"]


def test_a_missing_profile_stops_the_daemon(tmp_path: Path) -> None:
    missing = tmp_path / "nosuch.json"
    d = DaemonProcess(None, "--seccomp-profile", str(missing))
    with pytest.raises(RuntimeError) as failed:
        d.start()
    d.cleanup()
    assert f"opening seccomp profile ({missing}) failed: open {missing}: no such file or directory" \
        in str(failed.value)


def test_a_profile_that_is_not_json_fails_each_start(tmp_path: Path, busybox_archive: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{bad\n")
    d = _daemon(bad, busybox_archive)
    c = d.client()
    try:
        with pytest.raises(docker.errors.APIError, match="Decoding seccomp profile failed: invalid character "
                                                         "'b' looking for beginning of object key string"):
            c.containers.run("busybox", "true", remove=True)
    finally:
        for item in c.api.containers(all=True):
            c.api.remove_container(item["Id"], force=True)
        c.close()
        d.cleanup()
