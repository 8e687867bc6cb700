"""Bind propagation beside a private dockerd 20.10, status and words, and propagation for real.

- A bind whose source and the daemon's root are one inside the other (a string prefix, either
  way: moby's ``validateBindDaemonRoot``) gets ``rslave`` unless one is asked for; one asked
  for that is neither ``rslave`` nor ``rshared`` is the create's 400, after the image lookup.
- A start refuses (500; ``docker run`` exits 125) a ``shared``/``rshared`` bind whose source's
  mount is not shared, a ``slave``/``rslave`` one whose source's mount is neither shared nor a
  slave — checked on a private tmpfs this test mounts.
- On a shared tmpfs this test mounts: what the host mounts below the source appears in an
  ``rslave`` and an ``rshared`` bind, not in a private one; what a container with
  CAP_SYS_ADMIN mounts in its ``rshared`` bind appears on the host, not from an ``rslave`` one.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

pytestmark = pytest.mark.slow


def _root(client: Any) -> str:
    return str(client.info()["DockerRootDir"])


def _words(text: str, root: str) -> str:
    return text.replace(root, "<root>")


def _create(client: Any, host_config: dict[str, Any]) -> tuple[int, str, list[Any]]:
    """A raw create: status, message (the daemon's root as ``<root>``), the Mounts inspected."""
    api = client.api
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "none", **host_config}}
    response = api._post_json(api._url("/containers/create"), data=body)
    if response.status_code != 201:
        return response.status_code, _words(json.loads(response.text)["message"], _root(client)), []
    cid = response.json()["Id"]
    try:
        return 201, "", api.inspect_container(cid)["Mounts"]
    finally:
        api.remove_container(cid, v=True)


@pytest.fixture
def common_source(both: dict[str, Any]) -> str:
    """A path both daemons' roots begin with (``/tmp`` here; ``/`` at worst)."""
    return os.path.commonpath([_root(client) for _cli, client in both.values()])


def _bind(propagation: str | None = None, source: str = "{src}") -> dict[str, Any]:
    options = {"BindOptions": {"Propagation": propagation}} if propagation is not None else {}
    return {"Type": "bind", "Source": source, "Target": "/m", **options}


# host config (``{src}``: a path both roots begin with) → the Propagation inspected, or the
# status of the refusal
CASES: dict[str, tuple[dict[str, Any], list[str] | int]] = {
    "-v, none asked": ({"Binds": ["{src}:/h"]}, ["rslave"]),
    "-v ro": ({"Binds": ["{src}:/h:ro"]}, ["rslave"]),
    "-v rslave": ({"Binds": ["{src}:/h:rslave"]}, ["rslave"]),
    "-v rshared": ({"Binds": ["{src}:/h:rshared,ro"]}, ["rshared"]),
    "-v rprivate": ({"Binds": ["{src}:/h:rprivate"]}, 400),
    "-v private": ({"Binds": ["{src}:/h:private"]}, 400),
    "-v slave": ({"Binds": ["{src}:/h:slave,ro"]}, 400),
    "-v outside the root": ({"Binds": ["/etc:/h"]}, ["rprivate"]),
    "-v private outside the root": ({"Binds": ["/etc:/h:private"]}, ["private"]),
    "--mount, none asked": ({"Mounts": [_bind()]}, ["rslave"]),
    "--mount, empty options": ({"Mounts": [{**_bind(), "BindOptions": {}}]}, ["rslave"]),
    "--mount slave": ({"Mounts": [_bind("slave")]}, 400),
    "--mount rshared": ({"Mounts": [_bind("rshared")]}, ["rshared"]),
    "--mount rprivate outside the root": ({"Mounts": [_bind("rprivate", "/etc")]}, ["rprivate"]),
    "refused before a duplicate": ({"Binds": ["/etc:/x", "{src}:/x:private"]}, 400),
    "a bad bind before it": ({"Binds": ["a:b:c:d", "{src}:/x:private"]}, 500),
    "binds before Mounts": ({"Binds": ["{src}:/x:private"],
                             "Mounts": [{"Type": "volume", "Source": "bad@name", "Target": "/y"}]},
                            400),
}


@pytest.mark.parametrize("name", list(CASES))
def test_daemon_root_rule_as_dockerd(both: dict[str, Any], common_source: str, name: str) -> None:
    template, expected = CASES[name]
    host_config = json.loads(json.dumps(template).replace("{src}", common_source))
    answers = {side: _create(client, host_config) for side, (_cli, client) in both.items()}
    assert answers["dockyard"] == answers["dockerd"]
    status, message, points = answers["dockerd"]
    if isinstance(expected, int):
        assert status == expected and message
        if "private" in name:
            assert message.startswith('invalid mount config: must use either propagation mode '
                                      '"rslave" or "rshared" when mount source is within the '
                                      'daemon root, daemon root: "<root>", bind mount source: ')
    else:
        assert [p["Propagation"] for p in points] == expected


def test_daemon_root_refusal_comes_after_the_image_lookup(both: dict[str, Any],
                                                          common_source: str) -> None:
    answers = {}
    for side, (_cli, client) in both.items():
        api = client.api
        for image in ("busybox", "dy-nope-image"):
            body = {"Image": image, "HostConfig": {"Binds": [f"{common_source}:/h:private"]}}
            response = api._post_json(api._url("/containers/create"), data=body)
            answers[side, image] = (response.status_code,
                                    _words(json.loads(response.text)["message"], _root(client)))
    assert answers["dockyard", "busybox"] == answers["dockerd", "busybox"]
    assert answers["dockerd", "busybox"][0] == 400
    assert answers["dockyard", "dy-nope-image"] == answers["dockerd", "dy-nope-image"] == (
        404, "No such image: dy-nope-image:latest")


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _unmount_below(top: Path) -> None:
    """Every mount at or below ``top`` in this namespace, the deepest first."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        points = [line.split()[4] for line in f]
    for point in sorted({p for p in points if p == str(top) or p.startswith(f"{top}/")},
                        key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)


@pytest.fixture
def tmpfs_dir() -> Iterator[Path]:
    """A directory of our own under /tmp; every mount the test makes below it is undone."""
    top = Path(tempfile.mkdtemp(prefix="dytest-propagation-"))
    try:
        yield top
    finally:
        _unmount_below(top)
        subprocess.run(["rm", "-rf", str(top)], check=False)


def test_a_source_that_cannot_propagate_fails_the_start_as_dockerd(both: dict[str, Any],
                                                                   tmpfs_dir: Path) -> None:
    private = tmpfs_dir / "private"
    private.mkdir()
    _mount("-t", "tmpfs", "dy-private", str(private))
    _mount("--make-private", str(private))
    source = private / "dir"
    source.mkdir()
    answers: dict[tuple[str, ...], Any] = {}
    for side, (docker_cli, client) in both.items():
        for mode in ("rshared", "shared", "rslave", "slave"):
            api = client.api
            cid = api.create_container("busybox", ["true"], host_config=api.create_host_config(
                binds=[f"{source}:/m:{mode}"], network_mode="none"))["Id"]
            try:
                with pytest.raises(docker.errors.APIError) as refused:
                    api.start(cid)
                state = api.inspect_container(cid)["State"]
                answers[side, mode] = (refused.value.status_code, refused.value.explanation,
                                       state["Status"], state["ExitCode"], state["Error"])
            finally:
                api.remove_container(cid, v=True)
        ran = docker_cli("run", "--rm", "--pull", "never", "--network", "none",
                         "--mount", f"type=bind,src={source},dst=/m,bind-propagation=rslave",
                         "busybox", "true")
        answers[side, "run"] = (ran.returncode, ran.stderr)
    for key in [k for k in answers if k[0] == "dockerd"]:
        assert answers["dockyard", key[1]] == answers[key], key
    words = f"path {source} is mounted on {private} but it is not a "
    assert answers["dockerd", "rshared"] == (500, words + "shared mount", "created", 128,
                                             words + "shared mount")
    assert answers["dockerd", "slave"][1] == words + "shared or slave mount"
    assert answers["dockerd", "run"][0] == 125


def _sees(docker_cli: Any, cid: str, path: str) -> str:
    return str(docker_cli("exec", cid, "ls", path).stdout)


def test_propagation_is_real_as_with_dockerd(both: dict[str, Any], tmpfs_dir: Path) -> None:
    source = tmpfs_dir / "shared"
    source.mkdir()
    _mount("-t", "tmpfs", "dy-shared", str(source))
    _mount("--make-shared", str(source))
    kinds = {"rslave": [f"{source}:/m:rslave"], "rshared": [f"{source}:/m:rshared"],
             "private": [f"{source}:/m"], "rslave-admin": [f"{source}:/m:rslave"]}
    answers: dict[tuple[str, ...], Any] = {}
    for side, (docker_cli, client) in both.items():
        made = {}
        try:
            for kind, binds in kinds.items():
                caps = ["SYS_ADMIN"] if kind in ("rshared", "rslave-admin") else None
                made[kind] = client.containers.run("busybox", ["sleep", "60"], detach=True,
                                                   volumes=binds, cap_add=caps,
                                                   network_mode="none").id
            host = source / f"from-host-{side}"
            host.mkdir()
            _mount("-t", "tmpfs", "dy-from-host", str(host))
            (host / "marker").write_text("")
            for kind, cid in made.items():
                answers[side, kind, "host's mount"] = _sees(docker_cli, cid, f"/m/{host.name}")
            for kind in ("rshared", "rslave-admin"):
                inside = f"/m/from-{kind}-{side}"
                done = docker_cli("exec", made[kind], "sh", "-c",
                                  f"mkdir {inside} && mount -t tmpfs dy-inside {inside} && "
                                  f"touch {inside}/made-inside")
                assert done.returncode == 0, done.stderr
                answers[side, kind, "mount inside"] = sorted(os.listdir(source / inside[3:]))
                answers[side, kind, "mounted here"] = os.path.ismount(source / inside[3:])
        finally:
            for cid in made.values():
                client.api.remove_container(cid, force=True)
    for key in [k for k in answers if k[0] == "dockerd"]:
        assert answers[("dockyard", *key[1:])] == answers[key], key
    for kind in ("rslave", "rshared", "rslave-admin"):
        assert answers["dockerd", kind, "host's mount"] == "marker\n"
    assert answers["dockerd", "private", "host's mount"] == ""
    assert answers["dockerd", "rshared", "mount inside"] == ["made-inside"]
    assert answers["dockerd", "rslave-admin", "mount inside"] == []
