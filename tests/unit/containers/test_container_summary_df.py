"""What ``/containers/json`` (and so ``/system/df``) says of a container: dockerd's Command
quoting and sizes (root filesystem, writable layer, volumes) that count a hard-linked file once."""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.containers import views
from dockyard.diskusage import files_size


def test_command_quotes_the_args_that_hold_a_space_as_dockerd_does() -> None:
    assert views.summary_command(["sh", "-c", "echo hi > /x; sleep 1"]) == "sh -c 'echo hi > /x; sleep 1'"
    assert views.summary_command(["/bin/my prog", "a"]) == "/bin/my prog a"
    assert views.summary_command([]) == ""


def test_files_size_counts_each_inode_once(tmp_path: Path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "bin").mkdir(parents=True)
    upper.mkdir()
    (lower / "bin" / "busybox").write_bytes(b"x" * 1000)
    for applet in ("sh", "ls", "cat"):
        os.link(lower / "bin" / "busybox", lower / "bin" / applet)
    (upper / "f").write_bytes(b"y" * 10)
    os.symlink("busybox", lower / "bin" / "echo")
    assert files_size([str(lower), str(upper)]) == 1000 + 10 + len("busybox")

