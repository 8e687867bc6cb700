"""``dockyard pull|push`` progress drawing, and login's argument rules (no daemon needed)."""

from __future__ import annotations

import io

import pytest

from dockyard.cli.distribution import ProgressView, line, server_key
from dockyard.cli.main import main


def messages() -> list[dict[str, object]]:
    return [
        {"status": "Pulling from library/busybox", "id": "latest"},
        {"status": "Pulling fs layer", "progressDetail": {}, "id": "aaa"},
        {"status": "Pulling fs layer", "progressDetail": {}, "id": "bbb"},
        {"status": "Downloading", "progressDetail": {"current": 5, "total": 10}, "progress": "[==>  ] 5B/10B",
         "id": "aaa"},
        {"status": "Download complete", "progressDetail": {}, "id": "aaa"},
        {"status": "Pull complete", "progressDetail": {}, "id": "bbb"},
        {"stream": "WARNING: layer sha256:bbb: 1 entry owned by …\n"},  # rootless, printed as is
        {"status": "Digest: sha256:abc"},
    ]


def test_plain_output_prints_each_state_once() -> None:
    out = io.StringIO()
    view = ProgressView(out, tty=False)
    for m in messages():
        view.show(m)
    assert out.getvalue().splitlines() == [
        "latest: Pulling from library/busybox", "aaa: Pulling fs layer", "bbb: Pulling fs layer",
        "aaa: Download complete", "bbb: Pull complete", "WARNING: layer sha256:bbb: 1 entry owned by …",
        "Digest: sha256:abc"]


def test_tty_output_redraws_lines_in_place() -> None:
    out = io.StringIO()
    view = ProgressView(out, tty=True)
    for m in messages():
        view.show(m)
    text = out.getvalue()
    assert "\x1b[2A\r\x1b[2Kaaa: Downloading [==>  ] 5B/10B\r\x1b[2B" in text  # two lines up: aaa
    assert "\x1b[1A\r\x1b[2Kbbb: Pull complete\r\x1b[1B" in text
    assert text.endswith("\x1b[1BWARNING: layer sha256:bbb: 1 entry owned by …\nDigest: sha256:abc\n")
    assert line({"status": "Pushed", "id": "x"}) == "x: Pushed"


def test_server_keys() -> None:
    assert server_key(None) == "https://index.docker.io/v1/"
    assert server_key("docker.io") == "https://index.docker.io/v1/"
    assert server_key("http://localhost:5000/") == "localhost:5000"


def test_login_argument_errors(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("secret\n"))
    assert main(["-H", "unix:///nonexistent.sock", "login", "--password-stdin", "localhost:1"]) == 1
    assert "Must provide --username with --password-stdin" in capsys.readouterr().err
    assert main(["-H", "unix:///nonexistent.sock", "login", "-p", "x", "--password-stdin", "-u", "a"]) == 1
    err = capsys.readouterr().err
    assert "mutually exclusive" in err and "secret" not in err
