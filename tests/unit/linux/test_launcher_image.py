"""The launcher is the image every shim and every container init is forked from: what it
imports is copied (page tables at each fork, torn down at each exec and exit), so modules only
an exec, a rootless start or an error path needs are imported there, not at start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dockyard

RUNTIME = Path(dockyard.__file__).resolve().parent.parent
HEAVY = ("subprocess", "shutil", "platform", "pickle", "bz2", "lzma",
         "dockyard.linux.enter", "dockyard.linux.userns", "dockyard.linux.users",
         "dockyard.linux.devicebpf")  # a v2 host's start imports it (cgroups.CgroupV2)


def test_the_launcher_image_leaves_out_what_a_start_does_not_use() -> None:
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "import dockyard.linux.launcher, dockyard.containers.shim; "
            "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-S", "-c", code, str(RUNTIME)], check=True,
                         capture_output=True, text=True).stdout.split()
    assert "dockyard.linux.child" in out  # what the init runs is there before any fork
    assert [name for name in HEAVY if name in out] == []
