"""The daemon's data root: a rootless one is private (0700, as dockerd's), and a wider one is
tightened when the daemon starts; a root daemon's is left as it is. (The rootless daemon end to
end checks the same on its real default path: tests/integration/rootless.)"""

from __future__ import annotations

import stat
from pathlib import Path

from dockyard.daemon import prepare_data_root


def test_a_rootless_data_root_is_private_and_tightened(tmp_path: Path) -> None:
    made = tmp_path / "share" / "dockyard"
    prepare_data_root(made, rootless=True)
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    made.chmod(0o755)
    prepare_data_root(made, rootless=True)
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    as_root = tmp_path / "lib" / "dockyard"
    as_root.mkdir(parents=True)
    as_root.chmod(0o755)
    prepare_data_root(as_root, rootless=False)  # a root daemon's is left as it is
    assert stat.S_IMODE(as_root.stat().st_mode) == 0o755
