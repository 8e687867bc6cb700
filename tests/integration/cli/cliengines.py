"""What the dockyard CLI's tests import from their directory: ``engines`` (a test's daemons by
verb group) and ``Engine`` (one daemon as a test drives it). A module of its own, not the
conftest: ``from conftest import`` finds whichever conftest was imported first."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from dockyard.cli.main import main

# Verb groups → the daemons they are tested against (dockyard once its endpoints are in the tree).
SERVED: dict[str, tuple[str, ...]] = {
    "containers": ("dockerd", "dockyard"),
    "archive": ("dockerd", "dockyard"),  # cp, diff, commit, export
    "mounts": ("dockerd", "dockyard"),  # --tmpfs, -v, --mount
    "top-ps-args": ("dockerd", "dockyard"),
    "detach-keys": ("dockerd", "dockyard"),
    "networks": ("dockerd", "dockyard"),
    "objects": ("dockerd", "dockyard"),  # inspect's lookup over every object kind
}


def engines(group: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("engine", SERVED[group], indirect=True)


@dataclass
class Engine:
    """One daemon as the CLI tests see it."""

    name: str
    host: str
    capfd: pytest.CaptureFixture[str]

    def cli(self, *argv: str) -> tuple[int, str, str]:
        """``dockyard -H host argv…`` in this process: (status, stdout, stderr)."""
        self.capfd.readouterr()
        code = main(["-H", self.host, *argv])
        out, err = self.capfd.readouterr()
        return code, out, err

    def ok(self, *argv: str) -> str:
        code, out, err = self.cli(*argv)
        assert code == 0, f"dockyard {' '.join(argv)} → {code}: {err}"
        return out

    def proc(self, *argv: str, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """The CLI as a separate process (stdin, signals, terminals)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("timeout", 60)
        kwargs.setdefault("text", True)
        return subprocess.run([sys.executable, "-m", "dockyard.cli.main", "-H", self.host, *argv],
                              check=False, **kwargs)

    def client(self) -> Any:
        import docker

        return docker.APIClient(base_url=self.host, version="auto", timeout=60)
