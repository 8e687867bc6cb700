"""``docker run --platform`` side by side: the docker CLI against a private dockerd 20.10 and
against dockyard exits and words the same for a platform the image serves, one it does not
(``--pull never``: with the default ``missing`` both would try Docker Hub) and one that does
not parse."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.oci import platform as oci_platform
from dockyard.testing.daemon import DockerCLI
from dockyard.testing.dockerd import Dockerd

HERE = oci_platform.default()
OTHER = "linux/arm64" if HERE.architecture != "arm64" else "linux/amd64"


@pytest.mark.parametrize("platform", [f"linux/{HERE.architecture}", HERE.architecture, OTHER,
                                      "linux/s390x", "bogus"])
def test_run_platform_matches_dockerd(dockerd: Dockerd, dockyard_daemon: Any, client: Any,
                                      platform: str) -> None:
    said = {}
    for name, host in (("dockerd", dockerd.host), ("dockyard", dockyard_daemon.host)):
        done = DockerCLI(host)("run", "--rm", "--pull", "never", "--platform", platform,
                               "busybox", "echo", "ran")
        said[name] = (done.returncode, done.stdout, done.stderr)
    assert said["dockyard"] == said["dockerd"]
    assert said["dockerd"][0] == (0 if platform in (f"linux/{HERE.architecture}", HERE.architecture)
                                  else 125)
