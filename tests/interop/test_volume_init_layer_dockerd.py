"""A container's root at its create is the image with dockerd's init layer over it, for its
volumes too, as a private dockerd 20.10 makes them: a new volume mounted at ``/etc`` or ``/dev``
gets the init layer's files with the image's (``mtab`` → ``/proc/mounts``, the empty mountpoints
of ``hosts``, ``hostname``, ``resolv.conf`` and ``console``, ``pts/``, ``shm/``), and an anonymous
volume over one of those files is refused at the create."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.slow

LISTING = "cd /x && for f in *; do stat -c '%n %A %u:%g %s %N' \"$f\"; done"


@pytest.mark.parametrize("destination", ["/etc", "/dev"])
def test_a_volumes_first_copy_has_the_init_layer_as_dockerd(both: dict[str, Any], destination: str) -> None:
    answers = {}
    for side, (docker, _client) in both.items():
        name = f"initcopy-{destination.strip('/')}"
        assert docker("volume", "create", name).returncode == 0
        try:
            docker("run", "--rm", "--pull", "never", "--network", "none", "-v", f"{name}:{destination}",
                   "busybox", "true")  # dockerd's runc finds no /dev/null under a /dev volume: the copy is made
            listed = docker("run", "--rm", "--pull", "never", "--network", "none", "-v", f"{name}:/x",
                            "busybox", "sh", "-c", LISTING)
            answers[side] = (listed.returncode, listed.stdout)
        finally:
            docker("volume", "rm", name)
    assert answers["dockyard"] == answers["dockerd"]
    assert answers["dockerd"][0] == 0
    expected = {"/etc": "'mtab' -> '/proc/mounts'", "/dev": "console -rwxr-xr-x 0:0 0"}[destination]
    assert expected in answers["dockerd"][1]


@pytest.mark.parametrize("path", ["/etc/hosts", "/.dockerenv", "/dev/console"])
def test_an_anonymous_volume_over_an_init_layer_file_is_refused_as_dockerd(both: dict[str, Any],
                                                                           path: str) -> None:
    answers = {}
    for side, (docker, _client) in both.items():
        made = docker("create", "--pull", "never", "--network", "none", "-v", path, "busybox", "true")
        if made.returncode == 0:
            docker("rm", "-v", made.stdout.strip())
        answers[side] = (made.returncode, re.sub(r"exists /\S+/merged/", "exists <root>/", made.stderr))
    assert answers["dockyard"] == answers["dockerd"]
    assert "cannot mount volume over existing file, file exists <root>/" in answers["dockerd"][1]
