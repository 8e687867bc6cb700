"""``docker pull -a`` side by side with a private dockerd 20.10: the CLI sends ``fromImage``
with no tag, which dockerd reads as every tag of the repository (a reference with neither tag
nor digest); dockyard pulled ``latest`` alone, and failed where the repository has none."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("dockyard_clean_images")]


def test_pull_all_tags(both: dict[str, tuple[DockerCLI, Any]], dockyard_registry_factory: Any) -> None:
    seen = {}
    for side, (cli, _client) in both.items():
        registry = dockyard_registry_factory()
        repo = f"{registry.host}/dyall/bb"
        for tag in ("one", "two"):
            assert cli("tag", "busybox", f"{repo}:{tag}").returncode == 0
            pushed = cli("push", f"{repo}:{tag}")
            assert pushed.returncode == 0, pushed.stderr
            assert cli("rmi", f"{repo}:{tag}").returncode == 0
        pulled = cli("pull", "-a", repo)
        listed = cli("images", "--format", "{{.Repository}} {{.Tag}}").stdout.splitlines()
        seen[side] = [pulled.returncode, pulled.stderr,
                      [line.replace(registry.host, "REG") for line in pulled.stdout.splitlines()[-2:]],
                      sorted(line.split()[1] for line in listed if line.startswith(f"{repo} "))]
        cli("rmi", f"{repo}:one", f"{repo}:two")
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"] == [0, "", ["Status: Downloaded newer image for REG/dyall/bb", "REG/dyall/bb"], ["one", "two"]]
