"""``dockyard run/create --security-opt`` as the docker CLI sends it: a seccomp profile file
becomes its JSON, compacted (Go's ``json.Compact``), and bad values are refused in the docker
CLI's words (recorded from docker 28's CLI against dockerd 20.10)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from dockyard import gojson
from dockyard.cli import runopts
from dockyard.errors import InvalidArgument


def _body(*argv: str) -> dict[str, Any]:
    p = argparse.ArgumentParser(add_help=False)
    runopts.add_create_flags(p)
    return runopts.create_body(p.parse_args([*argv, "busybox"]), detach=True)


def test_a_profile_file_is_sent_compacted(tmp_path: Path) -> None:
    path = tmp_path / "profile.json"
    path.write_text('{\n  "defaultAction": "SCMP_ACT_ALLOW",\n  "syscalls": [ {"names": ["get pid"],'
                    ' "errnoRet": 1.50, "x": "\\u00e9"} ]\n}\n')
    body = _body("--security-opt", f"seccomp={path}", "--security-opt", "no-new-privileges",
                 "--security-opt", "seccomp:unconfined", "--security-opt", "seccomp=builtin")
    assert body["HostConfig"]["SecurityOpt"] == [
        ('seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["get pid"],'
        '"errnoRet":1.50,"x":"\\u00e9"}]}'), "no-new-privileges", "seccomp:unconfined",
        "seccomp=builtin"]
    assert "SecurityOpt" not in _body()["HostConfig"]


@pytest.mark.parametrize(("opt", "message"), [
    ("seccomp", 'Invalid --security-opt: "seccomp"'),
    ("seccomp=", 'Invalid --security-opt: "seccomp="'),
    ("seccomp=/nonexistent.json", ("opening seccomp profile (/nonexistent.json) failed: open "
                                  "/nonexistent.json: no such file or directory")),
])
def test_refusals_in_the_docker_clis_words(opt: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        _body("--security-opt", opt)
    assert str(caught.value) == message


def test_a_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{bad")
    with pytest.raises(InvalidArgument) as caught:
        _body("--security-opt", f"seccomp={path}")
    assert str(caught.value) == (f"compacting json for seccomp profile ({path}) failed: invalid "
                                 "character 'b' looking for beginning of object key string")


def test_go_json_words() -> None:
    with pytest.raises(ValueError, match="^unexpected end of JSON input$"):
        gojson.compact('{"a": [1, 2')
    with pytest.raises(ValueError, match="^invalid character '}' after array element$"):
        gojson.compact('{"a": [1 }')
    assert gojson.compact(' [ "a b" , {"c" : "d\\" e"} ] ') == '["a b",{"c":"d\\" e"}]'
