"""examples/quickstart.sh, the short CLI tour README mentions, runs end to end and fails loudly."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from dockyard.testing.daemon import DaemonProcess

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "quickstart.sh"


@pytest.mark.slow
def test_quickstart_runs_end_to_end() -> None:
    # In a network namespace of its own: the daemon's default bridge and NAT stay off the host.
    r = subprocess.run(["unshare", "--net", "bash", str(SCRIPT)], capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Loaded image: busybox:latest" in r.stdout
    assert r.stdout.count("busybox      latest") >= 2  # dockyard images and docker images
    assert "\nhello from a dockyard container\n" in r.stdout
    ps = r.stdout.split("$ dockyard ps -a\n", 1)[1].splitlines()
    assert re.split(r"\s{2,}", ps[0]) == ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS",
                                          "NAMES"]
    assert re.fullmatch(r"[0-9a-f]{12}   busybox   \"sh -c .+…\"   .+ ago   "
                        r"Exited \(0\) .+ ago\s+quickstart", ps[1]), ps[1]
    assert re.search(r"\$ dockyard logs quickstart\nwritten to the log at \d\d:\d\d:\d\d\n", r.stdout)
    assert "$ dockyard rm quickstart\nquickstart\n" in r.stdout
    assert r.stdout.rstrip().endswith("quickstart OK")


def test_quickstart_fails_when_the_daemon_cannot_start() -> None:
    with DaemonProcess() as busy:  # holds the data root's lock
        r = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60,
                           check=False, env={**_env(), "DOCKYARD_DATA_ROOT": str(busy.root)})
    assert r.returncode != 0
    assert "already running" in r.stderr and "quickstart FAILED" in r.stderr


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)
