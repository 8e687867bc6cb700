"""The fidelity recorder builds a ``# syntax=`` case with the daemon's built-in frontend."""

from __future__ import annotations

from pathlib import Path

from dockyard.testing.record_builds import use_builtin_frontend


def test_a_syntax_line_becomes_the_default_escape_directive(tmp_path: Path) -> None:
    text = "# syntax=docker/dockerfile:1\n# check=skip=JSONArgsRecommended\n\nFROM busybox\nCMD echo\n"
    (tmp_path / "Dockerfile").write_text(text)
    assert use_builtin_frontend(tmp_path) == "docker/dockerfile:1"
    rewritten = (tmp_path / "Dockerfile").read_text()
    assert rewritten.splitlines()[0] == "# escape=\\"
    assert rewritten.splitlines()[1:] == text.splitlines()[1:]  # same lines, same numbers


def test_a_dockerfile_without_syntax_is_left_alone(tmp_path: Path) -> None:
    text = "FROM busybox\n# syntax=docker/dockerfile:1\n"
    (tmp_path / "Dockerfile").write_text(text)
    assert use_builtin_frontend(tmp_path) is None
    assert (tmp_path / "Dockerfile").read_text() == text
