"""The daemon's data root: a root daemon's is 0710 (as dockerd's /var/lib/docker), a rootless
one private (0700), and a wider one is tightened when the daemon starts. (The rootless daemon
end to end checks the same on its real default path: tests/integration/rootless; the root
daemon's boundary against another user: tests/integration/test_daemon.py.)"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dockyard.daemon import prepare_data_root


@pytest.mark.parametrize(("rootless", "mode"), [(True, 0o700), (False, 0o710)])
def test_a_data_root_is_made_private_and_tightened(tmp_path: Path, rootless: bool, mode: int) -> None:
    made = tmp_path / "share" / "dockyard"
    prepare_data_root(made, rootless=rootless)
    assert stat.S_IMODE(made.stat().st_mode) == mode
    made.chmod(0o755)
    prepare_data_root(made, rootless=rootless)
    assert stat.S_IMODE(made.stat().st_mode) == mode
    made.chmod(0o700)  # narrower: left as it is
    prepare_data_root(made, rootless=rootless)
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
