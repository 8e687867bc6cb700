"""The plugin refuses a test run's lookups of names beyond this machine — in the test process
and in every Python process it starts — names the test each came during, and fails CI for
one; local names, IP literals and /etc/hosts names resolve as usual."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.testing import netguard

NESTED = '''
import socket, subprocess, sys

import pytest


def test_in_process():
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("registry-1.docker.io", 443)
    assert socket.getaddrinfo("localhost", 80) and socket.getaddrinfo("127.0.0.1", 80)


def test_quiet():
    pass


def test_in_a_child():
    probe = "import socket\\ntry:\\n    socket.gethostbyname('example.com')\\nexcept OSError:\\n    print('refused')"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout == "refused\\n"
'''


@pytest.mark.parametrize("ci", ["", "true"])
def test_lookups_are_refused_and_named_with_their_test(tmp_path: Path, ci: str) -> None:
    (tmp_path / "test_lookups.py").write_text(NESTED)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "test_lookups.py"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, check=False, env={**os.environ, "CI": ci})
    assert run.returncode == (1 if ci else 0), run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("name lookup of 'registry-1.docker.io' refused")
               and "during test_lookups.py::test_in_process from" in line for line in lines), run.stdout
    assert any(line.startswith("name lookup of 'example.com' refused")
               and "during test_lookups.py::test_in_a_child from" in line for line in lines), run.stdout
    assert not any("test_quiet" in line for line in lines)
    assert ("that fails CI" in run.stdout) == bool(ci)


@pytest.mark.parametrize(("host", "local"), [
    (None, True), ("localhost", True), ("LOCALHOST.", True), ("a.localhost", True),
    ("127.0.0.1", True), ("10.1.2.3", True), ("::1", True), ("[fe80::1%eth0]", True),
    (b"localhost", True), ("registry-1.docker.io", False), ("mirror.example", False),
])
def test_what_is_local(host: object, local: bool) -> None:
    assert netguard.is_local(host) is local


def test_this_session_is_guarded(tmp_path: Path) -> None:
    """The run these tests are in has the guard too (any test's stray lookup is refused); this
    one's goes to a log of its own, or it would fail the run."""
    log = tmp_path / "lookups.log"
    netguard.install(str(log))
    try:
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo("registry-1.docker.io", 443)
    finally:
        netguard.install(os.environ[netguard.LOG_ENV])
    assert [name for _, name, _ in netguard.read(str(log))] == ["'registry-1.docker.io'"]
