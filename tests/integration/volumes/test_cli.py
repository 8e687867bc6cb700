"""``dockyard volume …`` against the session daemon, output compared with docker's formats."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import pytest

from dockyard.cli.main import main


@pytest.fixture
def cli(client: Any, dockyard_daemon: Any, capfd: pytest.CaptureFixture[str]) -> Any:
    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        capfd.readouterr()
        saved = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            code = main(["-H", dockyard_daemon.host, *argv])
        finally:
            sys.stdin = saved
        out, err = capfd.readouterr()
        return code, out, err
    return run


def test_create_ls_inspect_rm(cli: Any) -> None:
    assert cli("volume", "create", "--label", "team=a", "cli-one") == (0, "cli-one\n", "")
    code, out, _ = cli("volume", "create", "--name", "cli-two", "-o", "type=tmpfs", "-o", "device=tmpfs")
    assert (code, out) == (0, "cli-two\n")
    code, out, _ = cli("volume", "create")
    anonymous = out.strip()
    assert code == 0 and len(anonymous) == 64
    code, out, _ = cli("volume", "ls", "--filter", "name=cli-")
    assert out.splitlines() == ["DRIVER    VOLUME NAME", "local     cli-one", "local     cli-two"]
    assert cli("volume", "ls", "-q", "-f", "label=team=a")[1] == "cli-one\n"
    code, out, _ = cli("volume", "ls", "-f", "name=cli-one", "--format", "{{.Name}} {{.Scope}} {{.Labels}}")
    assert out == "cli-one local team=a\n"
    code, out, _ = cli("volume", "inspect", "cli-two")
    [info] = json.loads(out)
    assert info["Options"] == {"device": "tmpfs", "type": "tmpfs"} and info["Labels"] is None
    assert cli("volume", "inspect", "-f", "{{.Driver}} {{.Name}}", "cli-one")[1] == "local cli-one\n"
    code, out, err = cli("volume", "inspect", "cli-nope")
    assert code == 1 and "get cli-nope: no such volume" in err
    code, out, err = cli("volume", "rm", "cli-one", "cli-nope", "cli-two", anonymous)
    assert code == 1 and out.split() == ["cli-one", "cli-two", anonymous]
    assert "get cli-nope: no such volume" in err
    assert cli("volume", "rm", "-f", "cli-nope")[0] == 0


def test_bad_input_is_one_line(cli: Any) -> None:
    code, _, err = cli("volume", "create", "bad/name")
    assert code == 1 and "includes invalid characters for a local volume name" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = cli("volume", "create", "-o", "nokey", "v")
    assert code == 1 and 'bad format for option (expected key=value)' in err
    code, _, err = cli("volume", "ls", "-f", "colour=red")
    assert code == 1 and "Invalid filter 'colour'" in err


def test_prune(cli: Any, client: Any) -> None:
    client.api.create_volume("cli-named")
    anonymous = client.api.create_volume(labels={"com.docker.volume.anonymous": ""})["Name"]
    code, out, _ = cli("volume", "prune", stdin="n\n")
    assert code == 0 and out.startswith("WARNING! This will remove anonymous local volumes not used "
                                        "by at least one container.\nAre you sure you want to continue? [y/N] ")
    assert anonymous in cli("volume", "ls", "-q")[1]
    code, out, _ = cli("volume", "prune", "-f")
    assert out == f"Deleted Volumes:\n{anonymous}\n\nTotal reclaimed space: 0B\n"
    code, out, _ = cli("volume", "prune", "-a", "-f", "--filter", "label=none")
    assert out == "Total reclaimed space: 0B\n"
    code, out, _ = cli("volume", "prune", "--all", stdin="y\n")
    assert "all local volumes not used" in out and "cli-named" in out
