"""docker's command-line syntax in the magics: ``%docker run``'s flags (dockyard's one table,
as the Engine API body), the notebook's own path rules, and the other verbs' docker-py
keyword arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import InvalidArgument
from dockyard_jupyter import parsers
from dockyard_jupyter.errors import CommandUsage
from dockyard_jupyter.translate import build_kwargs, parse_filters, parse_volume, split_repo_tag
from dockyard_jupyter.verbs import run_body as run_body_of


def run_body(line: str, cwd: Path = Path("/nb")) -> dict[str, Any]:
    return run_body_of(parsers.parse("run", line.split()), cwd)


def test_run_options_stop_at_the_image() -> None:
    body = run_body("--rm --network none -e A=1 busybox sh -c -e x")
    assert body["Image"] == "busybox"
    assert body["Cmd"] == ["sh", "-c", "-e", "x"] and body["Env"] == ["A=1"]
    assert body["HostConfig"]["NetworkMode"] == "none" and body["HostConfig"]["AutoRemove"]


def test_run_builds_the_docker_clis_body() -> None:
    """The magic's flags are the CLI's table: the same body as ``dockyard run``/``docker run``
    (tests/unit/cli/test_cli_runopts_docker_cli.py compares that with the docker CLI's)."""
    body = run_body("-d --name web -p 8080:80 -p 127.0.0.1:9000:9000/udp -l a=b -w /srv "
                    "-u 1000:1000 -h box --entrypoint sh -m 64m --cpus 0.5 --init "
                    "--restart on-failure:3 --read-only --tmpfs /run:size=1m --add-host h:1.2.3.4 "
                    "--dns 9.9.9.9 --device /dev/null:/dev/nothing --shm-size 1m "
                    "--security-opt no-new-privileges --pids-limit 20 --ulimit nofile=100:200 "
                    "--log-opt max-size=1m -P img")
    host = body["HostConfig"]
    assert (body["AttachStdout"], body["Labels"], body["WorkingDir"], body["User"]) == \
        (False, {"a": "b"}, "/srv", "1000:1000")
    assert (body["Hostname"], body["Entrypoint"], body["ExposedPorts"]) == \
        ("box", ["sh"], {"80/tcp": {}, "9000/udp": {}})
    assert host["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                                    "9000/udp": [{"HostIp": "127.0.0.1", "HostPort": "9000"}]}
    assert (host["Memory"], host["NanoCpus"], host["Init"], host["ReadonlyRootfs"]) == \
        (64 << 20, 500_000_000, True, True)
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert (host["Tmpfs"], host["ExtraHosts"], host["Dns"], host["ShmSize"]) == \
        ({"/run": "size=1m"}, ["h:1.2.3.4"], ["9.9.9.9"], 1 << 20)
    assert host["Devices"] == [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/nothing",
                                "CgroupPermissions": "rwm"}]
    assert (host["SecurityOpt"], host["PidsLimit"], host["PublishAllPorts"]) == \
        (["no-new-privileges"], 20, True)
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 100, "Hard": 200}]
    assert host["LogConfig"] == {"Type": "", "Config": {"max-size": "1m"}}


def test_user_network_is_the_network_mode() -> None:
    assert run_body("--net mynet --network-alias db img")["HostConfig"]["NetworkMode"] == "mynet"
    assert run_body("--net mynet --network-alias db img")["NetworkingConfig"] == {
        "EndpointsConfig": {"mynet": {"Aliases": ["db"]}}}


def test_env_without_value_comes_from_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_KERNEL", "yes")
    monkeypatch.delenv("NOT_SET", raising=False)
    assert run_body("-e FROM_KERNEL -e NOT_SET img")["Env"] == ["FROM_KERNEL=yes", "NOT_SET"]


def test_env_file_is_read_relative_to_the_notebook(tmp_path: Path) -> None:
    (tmp_path / "vars.env").write_text("# comment\nA=1\n\nB=two words\n")
    assert run_body("--env-file vars.env -e C=3 img", cwd=tmp_path)["Env"] == \
        ["A=1", "B=two words", "C=3"]


def test_missing_env_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="^open nope.env: no such file or directory$"):
        run_body("--env-file nope.env img", cwd=tmp_path)


def test_volumes_resolve_against_the_notebook() -> None:
    body = run_body("-v ./data:/data -v sub:/sub -v ~/x:/x -v /abs:/abs:ro -v /anon img")
    assert body["HostConfig"]["Binds"] == ["/nb/data:/data", "sub:/sub",
                                           str(Path("~/x").expanduser()) + ":/x", "/abs:/abs:ro"]
    assert body["Volumes"] == {"/anon": {}}


@pytest.mark.parametrize(("line", "message"), [
    ("--ulimit nofile=20:10 img", ('invalid argument "nofile=20:10" for "--ulimit" flag: ulimit '
                                   "soft limit must be less than or equal to hard limit: 20 > 10")),
    ("--pids-limit lots img", ('invalid argument "lots" for "--pids-limit" flag: '
                               'strconv.ParseInt: parsing "lots": invalid syntax')),
    ("--security-opt bogus img", 'Invalid --security-opt: "bogus"'),
    ("-p 80:http img", "invalid containerPort: http"),
    ("--shm-size lots img", ('invalid argument "lots" for "--shm-size" flag: invalid size: '
                             "'lots'")),
])
def test_bad_values_are_one_line(line: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        run_body(line)
    assert str(refused.value) == message


@pytest.mark.parametrize(("spec", "expected"), [
    ("data:/data", "data:/data"),                       # a named volume stays a name
    ("./data:/data", "/nb/data:/data"),
    ("sub/dir:/d:ro", "/nb/sub/dir:/d:ro"),
    ("/abs:/abs", "/abs:/abs"),
    ("../up:/u", "/up:/u"),
    ("/only-container-path", "/only-container-path"),
])
def test_volume_host_paths_resolve_against_the_notebook(spec: str, expected: str) -> None:
    assert parse_volume(spec, Path("/nb")) == expected


def test_bad_volume_spec() -> None:
    with pytest.raises(CommandUsage, match="invalid volume specification"):
        parse_volume("a:b:c:d", Path("/"))


def test_filters() -> None:
    assert parse_filters(["label=a", "label=b", "dangling=true"]) == {
        "label": ["a", "b"], "dangling": ["true"]}
    with pytest.raises(CommandUsage, match="bad format of filter"):
        parse_filters(["nonsense"])


def test_build_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_ENV", "e")
    ns = parsers.parse("build", ["-t", "a:1", "-t", "b:2", "--build-arg", "X=1", "--build-arg",
                                 "FROM_ENV", "--target", "t", "--no-cache", "--platform",
                                 "linux/amd64", "ctx"])
    assert ns.path == "ctx" and ns.tag == ["a:1", "b:2"]
    assert build_kwargs(ns) == {"tag": "a:1", "buildargs": {"X": "1", "FROM_ENV": "e"},
                                "target": "t", "nocache": True, "pull": False,
                                "platform": "linux/amd64", "decode": True, "rm": True,
                                "forcerm": True}


def test_dockerfile_magic_flags() -> None:
    ns = parsers.dockerfile().parse_args(["-t", "env:1", "--context", ".", "--build-arg", "A=1"])
    assert (ns.tag, ns.context, ns.build_arg) == (["env:1"], ".", ["A=1"])


@pytest.mark.parametrize(("name", "expected"), [
    ("busybox", ("busybox", None)), ("busybox:1.36", ("busybox", "1.36")),
    ("localhost:5000/a/b", ("localhost:5000/a/b", None)),
    ("localhost:5000/a/b:v2", ("localhost:5000/a/b", "v2")),
    ("a@sha256:" + "0" * 64, ("a@sha256:" + "0" * 64, None)),
])
def test_split_repo_tag(name: str, expected: tuple[str, str | None]) -> None:
    assert split_repo_tag(name) == expected


@pytest.mark.parametrize(("verb", "argv", "message"), [
    ("run", [], "the following arguments are required: image"),
    ("run", ["--bogus", "img"], "unrecognized arguments: --bogus"),
    ("stop", [], "required: containers"),
    ("network", ["frobnicate"], "invalid choice"),
    ("launch", [], "'launch' is not a docker command"),
    ("run", ["--pull", "sometimes", "img"], "invalid choice"),
])
def test_bad_input_is_one_usage_line(verb: str, argv: list[str], message: str) -> None:
    with pytest.raises(CommandUsage, match=message) as info:
        parsers.parse(verb, argv)
    assert "\n" not in str(info.value).strip()


def test_help_prints_and_stops(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(parsers.HelpShown):
        parsers.parse("run", ["--help"])
    assert "usage: %docker run" in capsys.readouterr().out


def test_every_verb_the_issue_names_has_a_parser() -> None:
    wanted = ["run", "build", "pull", "push", "images", "ps", "logs", "exec", "stop", "start",
              "restart", "kill", "rm", "rmi", "tag", "inspect", "login", "logout", "save", "load",
              "network", "volume", "system", "version", "info", "reproduce"]
    assert sorted(parsers.PARSERS) == sorted(wanted)
    from dockyard_jupyter.verbs import VERBS
    assert sorted(VERBS) == sorted(wanted)


def test_userns_host_opts_out_of_the_daemons_remap() -> None:
    """``%docker run --userns host`` (the flag table's, as the docker 28 CLI sends it): a
    ``--userns-remap`` daemon's opt-out; any other value is the CLI's refusal."""
    assert run_body("--userns host img")["HostConfig"]["UsernsMode"] == "host"
    assert "UsernsMode" not in run_body("img")["HostConfig"]
    with pytest.raises(InvalidArgument, match="^--userns: invalid USER mode$"):
        run_body("--userns private img")
