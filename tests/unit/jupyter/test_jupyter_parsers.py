"""docker's command-line syntax → docker-py keyword arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard_jupyter import parsers
from dockyard_jupyter.errors import CommandUsage
from dockyard_jupyter.translate import (
    build_kwargs,
    parse_bytes,
    parse_filters,
    parse_publish,
    parse_volume,
    run_kwargs,
    split_repo_tag,
)


def run_args(line: str, cwd: Path = Path("/nb")) -> tuple[str, dict]:
    ns = parsers.parse("run", line.split())
    return ns.image, run_kwargs(ns, cwd)


def test_run_options_stop_at_the_image() -> None:
    image, kw = run_args("--rm --network none -e A=1 busybox sh -c -e x")
    assert image == "busybox"
    assert kw == {"command": ["sh", "-c", "-e", "x"], "environment": ["A=1"],
                  "network_mode": "none"}


def test_run_maps_docker_flags_to_docker_py() -> None:
    _, kw = run_args("-d --name web -p 8080:80 -p 127.0.0.1:9000:9000/udp -l a=b -w /srv "
                     "-u 1000:1000 -h box --entrypoint sh -m 64m --cpus 0.5 --init "
                     "--restart on-failure:3 --read-only --tmpfs /run:size=1m img")
    assert kw == {
        "name": "web", "ports": {"80/tcp": 8080, "9000/udp": ("127.0.0.1", 9000)},
        "labels": {"a": "b"}, "working_dir": "/srv", "user": "1000:1000", "hostname": "box",
        "entrypoint": "sh", "mem_limit": 64 * 1024**2, "nano_cpus": 500_000_000, "init": True,
        "restart_policy": {"Name": "on-failure", "MaximumRetryCount": 3}, "read_only": True,
        "tmpfs": {"/run": "size=1m"},
    }


def test_user_network_is_a_network_not_a_mode() -> None:
    assert run_args("--net mynet img")[1] == {"network": "mynet"}


def test_env_without_value_comes_from_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_KERNEL", "yes")
    monkeypatch.delenv("NOT_SET", raising=False)
    assert run_args("-e FROM_KERNEL -e NOT_SET img")[1]["environment"] == ["FROM_KERNEL=yes"]


def test_env_file_is_read_relative_to_the_notebook(tmp_path: Path) -> None:
    (tmp_path / "vars.env").write_text("# comment\nA=1\n\nB=two words\n")
    _, kw = run_args("--env-file vars.env -e C=3 img", cwd=tmp_path)
    assert kw["environment"] == ["A=1", "B=two words", "C=3"]


def test_missing_env_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(CommandUsage, match="open nope.env"):
        run_args("--env-file nope.env img", cwd=tmp_path)


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


def test_publish_forms() -> None:
    assert parse_publish(["80", "81:81", "127.0.0.1::82", "9000:90/udp", "8080:80"]) == {
        "80/tcp": [None, 8080], "81/tcp": 81, "82/tcp": ("127.0.0.1",), "90/udp": 9000,
    }
    with pytest.raises(CommandUsage, match="invalid containerPort"):
        parse_publish(["80:http"])


def test_sizes_and_filters() -> None:
    assert parse_bytes("1g") == 1024**3 and parse_bytes("512") == 512
    assert parse_filters(["label=a", "label=b", "dangling=true"]) == {
        "label": ["a", "b"], "dangling": ["true"]}
    with pytest.raises(CommandUsage):
        parse_bytes("lots")
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
