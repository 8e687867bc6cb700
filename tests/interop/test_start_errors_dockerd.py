"""A start the runtime refuses, side by side with a private real dockerd 20.10: ``docker run``'s
exit code and words, and the State left behind, as its ``translateContainerdStartErr`` makes
them — 126 for EACCES's words (a file that is not executable, a directory, a path the user may
not search), 127 for a missing file or ENOTDIR's words (with its hint), the 400 of an invalid
config — and runc's way with a working directory only root may enter (entered before the user
change: the command runs). Bind sources: a ``-v`` directory is made by each start, not the
create (the remapped root's under ``--userns-remap``), a path through a file left to the mount."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from dockyard.testing import busybox
from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.slow

CASES = [
    ("busybox", "/etc/passwd"),             # a file, mode 644: permission denied, 126
    ("busybox", "/etc"),                    # a directory: permission denied, 126
    ("busybox", "/nope"),                   # stat: no such file or directory, 127
    ("busybox", "nope"),                    # executable file not found in $PATH, 127
    ("busybox", "/Nope"),                   # 127 whatever the command's case
    ("-u", "nobody", "busybox", "/root/x"),  # stat as nobody in a 0700 /root: 126
    ("busybox", "/etc/passwd/x"),           # not a directory: 127 and dockerd's hint
    ("-u", "nobody", "-w", "/root", "busybox", "pwd"),  # root enters it first: runs
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) for c in CASES])
def test_a_refused_start_is_dockerds(both: dict[str, Any], args: tuple[str, ...]) -> None:
    seen = {}
    for name, (cli, client) in both.items():
        done = cli("run", "--network", "none", "--name", "startcheck", *args)
        state = client.api.inspect_container("startcheck")["State"]
        client.api.remove_container("startcheck", force=True)
        seen[name] = (done.returncode, done.stdout, done.stderr,
                      state["Status"], state["ExitCode"], state["Error"])
    assert seen["dockyard"] == seen["dockerd"]



def _status(call: Any) -> tuple[int, str]:
    try:
        call()
    except docker.errors.APIError as exc:
        return exc.status_code, str(exc.explanation)
    return 0, ""


@pytest.mark.parametrize("user", ["ghost", "0:ghostg"])
def test_a_user_the_image_lacks_is_a_500(both: dict[str, Any], user: str) -> None:
    """dockerd looks the user up while making the spec: its System error, 500, for a start
    (exit code 128 recorded) and for an exec."""
    seen = {}
    for name, (_cli, client) in both.items():
        api = client.api
        api.create_container("busybox", ["true"], name="usercheck", user=user,
                             host_config=api.create_host_config(network_mode="none"))
        start = _status(lambda api=api: api.start("usercheck"))
        state = api.inspect_container("usercheck")["State"]
        api.remove_container("usercheck", force=True)
        running = api.create_container("busybox", ["sleep", "60"], name="usercheck",
                                       host_config=api.create_host_config(network_mode="none"))
        api.start(running)
        exec_id = api.exec_create(running, ["true"], user=user)["Id"]
        execed = _status(lambda api=api, exec_id=exec_id: api.exec_start(exec_id, detach=True))
        exit_code = api.exec_inspect(exec_id)["ExitCode"]
        api.remove_container(running, force=True)
        seen[name] = (start, state["Status"], state["ExitCode"], state["Error"], execed, exit_code)
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][0][0] == 500


@pytest.mark.parametrize("flag", ["--mount", "-v"])
def test_a_bind_source_gone_since_the_create(both: dict[str, Any], tmp_path: Path,
                                            flag: str) -> None:
    """dockerd's start first checks the settings: a ``--mount`` bind's source must be there,
    else 400 and the State untouched; a ``-v`` bind's directory is made again."""
    seen = {}
    for name, (cli, client) in both.items():
        source = tmp_path / name
        source.mkdir()
        spec = f"type=bind,source={source},target=/m" if flag == "--mount" else f"{source}:/m"
        assert cli("create", "--network", "none", "--name", "bindcheck", flag, spec,
                   "busybox", "true").returncode == 0
        source.rmdir()
        start = _status(lambda client=client: client.api.start("bindcheck"))
        state = client.api.inspect_container("bindcheck")["State"]
        client.api.remove_container("bindcheck", force=True)
        seen[name] = (start[0], start[1].replace(str(source), "<src>"), state["ExitCode"],
                      state["Error"].replace(str(source), "<src>"), source.is_dir())
    assert seen["dockyard"] == seen["dockerd"]


@pytest.mark.parametrize("workdir", ["/etc/passwd", "/etc//passwd/", "/etc/hosts", "/etc/passwd/x"])
def test_a_working_dir_that_is_a_file_fails_the_create(both: dict[str, Any], workdir: str) -> None:
    """dockerd makes the working directory at create: a file there (the image's, the init
    layer's /etc/hosts) fails the create with 500, and no container is left."""
    seen = {}
    for name, (_cli, client) in both.items():
        api = client.api
        before = len(api.containers(all=True))
        made = _status(lambda api=api: api.create_container(
            "busybox", ["true"], working_dir=workdir,
            host_config=api.create_host_config(network_mode="none")))
        words = made[1] if made[1].startswith("Cannot mkdir") else made[1].rpartition(": ")[2]
        seen[name] = (made[0], words, len(api.containers(all=True)) - before)
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][0] == 500


def test_a_network_donor_is_looked_for_at_the_start(both: dict[str, Any]) -> None:
    """``--network container:x``: dockerd 20.10 creates the container whatever x is, and its
    start fails with 404 (exit code 128 and the words recorded) until there is an x to join;
    a create naming an x that is there records x's full id."""
    seen = {}
    for name, (cli, client) in both.items():
        api = client.api
        try:
            created = cli("create", "--pull", "never", "--name", "netjoin", "--network",
                          "container:netgone", "busybox", "true")
            start = _status(lambda api=api: api.start("netjoin"))
            state = api.inspect_container("netjoin")["State"]
            assert cli("run", "-d", "--name", "netgone", "--network", "none", "busybox",
                       "sleep", "60").returncode == 0
            again = _status(lambda api=api: api.start("netjoin"))
            assert cli("create", "--name", "netjoin2", "--network", "container:netgone",
                       "busybox", "true").returncode == 0
            modes = [api.inspect_container(c)["HostConfig"]["NetworkMode"].replace(
                api.inspect_container("netgone")["Id"], "<id>") for c in ("netjoin", "netjoin2")]
            seen[name] = (created.returncode, created.stderr, start, state["Status"],
                          state["ExitCode"], state["Error"], again, modes)
        finally:
            cli("rm", "-f", "netjoin", "netjoin2", "netgone")
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][:6] == (0, "", (404, "No such container: netgone"), "created", 128,
                                   "No such container: netgone")
    assert seen["dockerd"][7] == ["container:netgone", "container:<id>"]



NO_NETWORK = [("foo:bar", None), ("nope", None), ("foo:bar", {"foo:bar": {"Aliases": ["a"]}}),
              ("bridge", {"nope": {}})]


@pytest.mark.parametrize(("mode", "endpoints"), NO_NETWORK, ids=[f"{m}-{e}" for m, e in NO_NETWORK])
def test_a_network_there_is_none_of_is_looked_for_at_the_start(
        both: dict[str, Any], mode: str, endpoints: dict[str, Any] | None) -> None:
    """dockerd 20.10's create records the networks as the request names them, a mode with a
    colon (``foo:bar``) too, and its start answers 404 (exit code 128) — a refused create
    reads to the docker CLI as an image to pull."""
    seen = {}
    for name, (cli, client) in both.items():
        api = client.api
        created = _status(lambda api=api: api.create_container(
            "busybox", ["true"], name="nonet", host_config={"NetworkMode": mode},
            networking_config={"EndpointsConfig": endpoints} if endpoints else None))
        start = _status(lambda api=api: api.start("nonet"))
        info = api.inspect_container("nonet")
        networks = {key: ep["Aliases"] for key, ep in info["NetworkSettings"]["Networks"].items()}
        state = info["State"]
        by_cli = cli("start", "nonet")
        cli("rm", "-f", "nonet")
        seen[name] = (created, start, info["HostConfig"]["NetworkMode"], networks, state["Status"],
                      state["ExitCode"], state["Error"], by_cli.returncode, by_cli.stderr)
    assert seen["dockyard"] == seen["dockerd"]
    missing = next(iter(endpoints)) if endpoints else mode
    assert seen["dockerd"][:2] == ((0, ""), (404, f"network {missing} not found"))

def test_a_restart_does_not_check_the_settings(both: dict[str, Any], tmp_path: Path) -> None:
    """dockerd's restart is a stop and a start without ``docker start``'s settings check: a
    ``--mount`` source gone is runc's error at the mount (127), a ``container:`` donor gone the
    start's (its full id, recorded at create); the failure is 500 "Cannot restart container
    NAME: …", and an earlier run's exit code stays where nothing gives one (137, 3)."""
    seen = {}
    for name, (cli, client) in both.items():
        api, source = client.api, tmp_path / name
        source.mkdir()
        bind = ["--network", "none", "--mount", f"type=bind,source={source},target=/m"]
        runs = [("rsbind", [*bind, "busybox", "sh", "-c", "exit 3"]),
                ("rsbound", ["-d", *bind, "busybox", "sleep", "60"]),
                ("rsjoiner", ["--network", "container:rsdonor", "busybox", "sh", "-c", "exit 3"]),
                ("rsjoined", ["-d", "--network", "container:rsdonor", "busybox", "sleep", "60"])]
        try:
            assert cli("run", "-d", "--name", "rsdonor", "--network", "none", "busybox",
                       "sleep", "60").returncode == 0
            donor = api.inspect_container("rsdonor")["Id"]
            for container, args in runs:
                assert cli("run", "--name", container, *args).returncode in (0, 3)
            source.rmdir()
            cli("rm", "-f", "rsdonor")
            outcome = []
            for container, _args in runs:
                restart = _status(lambda api=api, c=container: api.restart(c, timeout=0))
                info = api.inspect_container(container)
                outcome.append((restart, info["State"]["Status"], info["State"]["ExitCode"],
                                info["State"]["Error"], info["HostConfig"]["NetworkMode"]))
            seen[name] = repr(outcome).replace(str(source), "<src>").replace(donor, "<donor>")
        finally:
            cli("rm", "-f", *(c for c, _args in runs), "rsdonor")
    assert seen["dockyard"] == seen["dockerd"]
    assert "(500, 'Cannot restart container rsjoined: No such container: <donor>'), 'exited', " \
           "137, 'No such container: <donor>', 'container:<donor>')" in seen["dockerd"]


def _made(path: Path) -> list[tuple[str, str]]:
    """(name, "mode uid:gid") of ``path`` and of its parent, or "missing"."""
    seen = []
    for p in (path.parent, path):
        try:
            st = os.stat(p)
        except FileNotFoundError:
            seen.append((p.name, "missing"))
        else:
            seen.append((p.name, f"{st.st_mode & 0o7777:o} {st.st_uid}:{st.st_gid}"))
    return seen


def test_a_missing_directory_is_made_at_each_start(both: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file\n")
    seen = {}
    for name, (cli, client) in both.items():
        (tmp_path / name).mkdir()
        source, through_file = tmp_path / name / "new" / "sub", tmp_path / "file" / name
        try:
            made = [cli("create", "--name", c, "--network", "none", "-v", f"{s}:/x", "busybox",
                        "true").returncode for c, s in (("srcnew", source), ("srcfile", through_file))]
            after_create = _made(source)
            started = _status(lambda client=client: client.api.start("srcnew"))
            after_start = _made(source)
            refused = _status(lambda client=client: client.api.start("srcfile"))
            state = client.api.inspect_container("srcfile")["State"]
            seen[name] = (made, after_create, started, after_start,
                          refused[0], refused[1].replace(str(through_file), "<src>"),
                          state["Status"], state["ExitCode"])
        finally:
            cli("rm", "-f", "srcnew", "srcfile")
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][:4] == ([0, 0], [("new", "missing"), ("sub", "missing")], (0, ""),
                                   [("new", "755 0:0"), ("sub", "755 0:0")])
    words = ("failed to create shim task: OCI runtime create failed: runc create failed: unable "
             'to start container process: error during container init: error mounting "<src>" to '
             'rootfs at "/x": stat <src>: not a directory: unknown: Are you trying to mount a '
             "directory onto a file (or vice-versa)? Check if the specified host path exists and "
             "is the expected type")
    assert seen["dockerd"][4:] == (400, words, "created", 127)


@pytest.fixture
def searchable() -> Iterator[Path]:
    """A scratch directory the remapped root may search its way through (pytest's is 0700)."""
    where = Path(tempfile.mkdtemp(prefix="dytest-binds-", dir="/tmp"))
    where.chmod(0o711)
    yield where
    shutil.rmtree(where, ignore_errors=True)


def test_under_the_remap_it_is_the_remapped_roots(remapped_pair: tuple[str, str],
                                                  searchable: Path) -> None:
    outcome = []
    for index, host in enumerate(remapped_pair):
        source = searchable / f"new{index}" / "sub"
        done = DockerCLI(host)("run", "--rm", "--network", "none", "-v", f"{source}:/x", "busybox",
                               "sh", "-c", "stat -c '%a %u:%g' /x; touch /x/f && echo written")
        outcome.append((done.returncode, done.stdout, done.stderr,
                        [seen for _name, seen in _made(source)]))
    theirs, ours = outcome
    assert ours == theirs
    remapped_root = f"{os.stat(searchable / 'new0' / 'sub').st_uid}"
    assert remapped_root != "0"
    assert theirs == (0, "755 0:0\nwritten\n", "", [f"755 {remapped_root}:{remapped_root}"] * 2)


def test_an_oom_score_under_the_remap_is_written_from_outside(remapped_pair: tuple[str, str]) -> None:
    """dockerd's runc writes ``--oom-score-adj`` as the host's root before the init runs, for the
    init and each exec; below the daemon's own it needs CAP_SYS_RESOURCE (this machine's
    bounding set lacks it: refused, in runc's words)."""
    outcome = []
    for index, host in enumerate(remapped_pair):
        cli = DockerCLI(host)
        run = cli("run", "--rm", "--network", "none", "--oom-score-adj", "500", "busybox",
                  "cat", "/proc/self/oom_score_adj")
        name = f"dyoom{index}"
        made = cli("run", "-d", "--name", name, "--network", "none", "--oom-score-adj", "300",
                   "busybox", "sleep", "60")
        execd = cli("exec", name, "cat", "/proc/self/oom_score_adj")
        cli("rm", "-f", name)
        lower = cli("run", "--name", name, "--network", "none", "--oom-score-adj", "-1",
                    "busybox", "true")
        state = cli("inspect", "-f", "{{.State.ExitCode}} {{.State.Error}}", name)
        cli("rm", "-f", name)
        outcome.append(((run.returncode, run.stdout), made.returncode,
                        (execd.returncode, execd.stdout),
                        (lower.returncode, lower.stderr.splitlines()[0]), state.stdout))
    theirs, ours = outcome
    assert ours == theirs
    assert theirs[:3] == ((0, "500\n"), 0, (0, "300\n"))
    assert "can't get final child's PID from pipe: EOF" in theirs[3][1]


IMAGE_WORKDIRS = ["rel", "rel/sub/..", "./dot", "rel/", "..", "a//b"]


def _workdir_image(tag: str, workdir: str) -> busybox.Image:
    """busybox with ``workdir`` in its config, as no builder writes it (a crafted image)."""
    return busybox.configured(busybox.make_image(tag), tag, WorkingDir=workdir)


def test_an_images_relative_working_dir_fails_each_start(both: dict[str, Any],
                                                         tmp_path: Path) -> None:
    """dockerd 20.10 refuses only a create's own relative working directory: an image's is
    taken, kept as Go's filepath.Clean writes it (``rel/sub/..`` ``rel``, ``./dot`` ``dot``,
    ``..`` itself), and each start is runc's refusal of the spec — 500 "failed to create shim
    task: OCI runtime create failed: runc create failed: Cwd must be an absolute path:
    unknown", exit code 128 and those words in State.Error (dockyard refused the create, 400).
    A create's absolute one is cleaned likewise (``/a/../b//`` ``/b``, ``//x`` ``/x``).
    (dockerd makes the directory at the create — ``docker diff`` shows ``A /rel`` — which
    dockyard's init makes at a start: not compared.)"""
    tags = [f"dyworkdir:{n}" for n in range(len(IMAGE_WORKDIRS))]
    archive = busybox.write_archive(tmp_path / "workdirs.tar", [
        _workdir_image(tag, workdir) for tag, workdir in zip(tags, IMAGE_WORKDIRS)])
    seen = {}
    for name, (_cli, client) in both.items():
        api = client.api
        with open(archive, "rb") as f:
            list(api.load_image(f))
        try:
            answers = []
            for tag in tags:
                cid = api.create_container(tag, ["true"], host_config=api.create_host_config(
                    network_mode="none"))["Id"]
                start = _status(lambda api=api, cid=cid: api.start(cid))
                info = api.inspect_container(cid)
                answers.append((info["Config"]["WorkingDir"], start, info["State"]["ExitCode"],
                                info["State"]["Error"]))
                api.remove_container(cid, force=True)
            for workdir in ("/a/../b//", "//x"):
                cid = api.create_container("busybox", ["true"], working_dir=workdir,
                                           host_config=api.create_host_config(network_mode="none"))["Id"]
                answers.append(api.inspect_container(cid)["Config"]["WorkingDir"])
                api.remove_container(cid, force=True)
        finally:
            for tag in tags:
                api.remove_image(tag, force=True)
        seen[name] = answers
    assert seen["dockyard"] == seen["dockerd"]
    words = ("failed to create shim task: OCI runtime create failed: runc create failed: "
             "Cwd must be an absolute path: unknown")
    refused = (500, words)
    assert seen["dockerd"][0] == ("rel", refused, 128, refused[1])
    assert [a[0] for a in seen["dockerd"][:6]] == ["rel", "rel", "dot", "rel", "..", "a/b"]
    assert seen["dockerd"][6:] == ["/b", "/x"]
