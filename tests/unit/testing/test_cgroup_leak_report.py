"""The pytest plugin names a cgroup a test run left under ``dockyard/`` and the test during
which it appeared: a leak no test checks for still shows, with where to look — and fails the
run in CI."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from dockyard.linux import cgroups


@pytest.mark.parametrize("ci", ["", "true"])
def test_a_left_cgroup_is_reported_with_its_test(tmp_path: Path, ci: str) -> None:
    hier = cgroups.detect()
    root = hier.v1["pids"] if hier.mode == "v1" else hier.v2
    assert root is not None
    parent = os.path.join(root, "dockyard")
    os.makedirs(parent, exist_ok=True)
    leak = os.path.join(parent, f"leak-{uuid.uuid4().hex[:12]}")
    (tmp_path / "test_leaky.py").write_text(
        "import os\n\n"
        "def test_quiet():\n    pass\n\n"
        f"def test_leaky():\n    os.mkdir({leak!r})\n\n"
        "def test_after():\n    pass\n")
    try:
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "test_leaky.py"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=120, check=False, env={**os.environ, "CI": ci})
    finally:
        if os.path.isdir(leak):
            os.rmdir(leak)
    assert run.returncode == (1 if ci else 0), run.stdout + run.stderr
    assert ("a leak fails CI" in run.stdout) == bool(ci), run.stdout
    line = f"cgroup dockyard/{os.path.basename(leak)} left behind; it appeared during " \
           "test_leaky.py::test_leaky"
    assert line in run.stdout.splitlines(), run.stdout
