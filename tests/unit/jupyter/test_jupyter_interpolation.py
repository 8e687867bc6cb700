"""``{expr}`` / ``$var`` interpolation as IPython's ``!`` does it, docker templates kept."""

from __future__ import annotations

import pytest

from dockyard_jupyter.errors import CommandUsage
from dockyard_jupyter.magics import interpolate, split_global
from dockyard_jupyter.verbs import format_template

NS = {"tag": "v1", "n": 2, "image": "busybox"}


@pytest.mark.parametrize(("line", "expected"), [
    ("run $image echo {n + 1}", "run busybox echo 3"),
    ("tag app app:$tag", "tag app app:v1"),
    ('run img sh -c "echo $$HOME $n"', 'run img sh -c "echo $HOME 2"'),
    ("run img sh -c 'echo $n'", "run img sh -c 'echo $n'"),  # single quotes: left alone
    ("ps --format '{{.ID}} {{.Names}}'", "ps --format '{{.ID}} {{.Names}}'"),
    ("inspect -f '{{json .Config}}' {image}", "inspect -f '{{json .Config}}' busybox"),
    ("--host $image inspect -f '{{.Id}}' x", "--host busybox inspect -f '{{.Id}}' x"),
    ("run $undefined_name x", "run $undefined_name x"),   # IPython leaves a failed line as is
])
def test_interpolate(line: str, expected: str) -> None:
    assert interpolate(line, NS) == expected


def test_global_host_flag() -> None:
    assert split_global(["--host", "unix:///s", "ps"]) == ("unix:///s", ["ps"])
    assert split_global(["-H", "tcp://h:1", "ps", "-a"]) == ("tcp://h:1", ["ps", "-a"])
    assert split_global(["--host=unix:///x", "images"]) == ("unix:///x", ["images"])
    assert split_global(["run", "-H", "x"]) == (None, ["run", "-H", "x"])
    with pytest.raises(CommandUsage, match="flag needs an argument"):
        split_global(["--host"])


def test_format_template_subset() -> None:
    attrs = {"Id": "abc", "State": {"Status": "running"}, "Config": {"Env": ["A=1"]}}
    assert format_template("{{.Id}} {{ .State.Status }}", attrs) == "abc running"
    assert format_template("{{json .Config.Env}}", attrs) == '["A=1"]'
    assert format_template("{{.Missing.Field}}", attrs) == ""
    with pytest.raises(CommandUsage, match="unsupported expression"):
        format_template("{{range .Config.Env}}{{.}}{{end}}", attrs)
