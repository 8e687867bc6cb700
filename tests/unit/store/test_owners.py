"""Layer owners under a rootless daemon (dockyard.store.owners): which ids a map may give, what
a record keeps, and the helper's side applied to a real tree (run here as root, where the
helper's ``lchown`` behaves as it does as root of a user namespace). The daemon end to end is
tests/integration/rootless."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dockyard.linux import idmap
from dockyard.store.owners import OwnerLog, OwnerMap, apply_records, unmapped_message

SINGLE = idmap.UserNamespace([(0, 1001, 1)], [(0, 1001, 1)], use_helpers=False)
RANGED = idmap.UserNamespace([(0, 1001, 1), (1, 100000, 65536)],
                             [(0, 1001, 1), (1, 100000, 65536)], use_helpers=True)
NET_RAW = bytes.fromhex("01000002" "00200000" "00000000" "00000000" "00000000")


def test_owner_map_keeps_mapped_ids_and_counts_the_others() -> None:
    ranged = OwnerMap(RANGED)
    assert ranged.owner("a", 1000, 42) == (1000, 42)
    assert ranged.owner("far", 70000, 42) == (0, 42)
    assert ranged.unmapped == 1 and ranged.example == "far (70000:42)"
    single = OwnerMap(SINGLE)
    assert single.owner("b", 1000, 1000) == (0, 0) and single.owner("c", 0, 0) == (0, 0)
    assert single.unmapped == 1
    assert "only id 0 is" in unmapped_message(single, "layer x") and "/etc/subuid" in \
        unmapped_message(single, "layer x")
    assert "1 entry owned by ids outside" in unmapped_message(ranged, "ADD a.tar")
    unchecked = OwnerMap(None)
    assert unchecked.owner("d", 70000, 70000) == (70000, 70000) and unchecked.unmapped == 0


def test_owner_log_keeps_the_last_entry_of_a_path_in_tar_order() -> None:
    log = OwnerLog()
    log.add("a", 0, 0, 0o644, None)
    assert not log.needed()  # root's files are already right
    log.add("b", 1000, 1000, 0o644, None)
    log.add("a", 5, 5, 0o600, None)  # replaces a's record, and moves it after b's
    assert list(log.records) == ["b", "a"] and log.needed()
    log.forget("b")
    log.forget("a")
    log.add("c", 0, 0, 0o755, NET_RAW)  # file capabilities alone need the helper
    assert log.needed()


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("chown to other ids needs root")


def test_apply_records_puts_back_what_chown_clears(tmp_path: Path) -> None:
    _need_root()
    (tmp_path / "d").mkdir()
    for name, mode in (("suid", 0o4755), ("sgid", 0o2755), ("caps", 0o755)):
        path = tmp_path / "d" / name
        path.write_bytes(b"#!/bin/sh\n")
        path.chmod(mode)
    os.symlink("suid", tmp_path / "d" / "link")
    os.setxattr(tmp_path / "d" / "caps", "security.capability", NET_RAW)
    apply_records(str(tmp_path), [
        ("d/suid", 1000, 1000, 0o4755, None), ("d/sgid", 0, 42, 0o2755, None),
        ("d/caps", 1000, 0, 0o755, NET_RAW), ("d/link", 7, 7, None, None), ("d", 1000, 1000, 0o750, None),
    ])
    seen = {p.name: (p.lstat().st_uid, p.lstat().st_gid, stat.S_IMODE(p.lstat().st_mode))
            for p in (tmp_path / "d").iterdir()}
    assert seen["suid"] == (1000, 1000, 0o4755) and seen["sgid"] == (0, 42, 0o2755)
    assert seen["caps"] == (1000, 0, 0o755)
    assert seen["link"][:2] == (7, 7) and (tmp_path / "d/suid").stat().st_uid == 1000  # lchown
    assert os.getxattr(tmp_path / "d" / "caps", "security.capability")  # chown removed it; back
    assert (tmp_path / "d").stat().st_uid == 1000


def test_apply_records_never_follows_a_symlink_made_after_the_record(tmp_path: Path) -> None:
    """A path recorded, then replaced (by a later tar entry) with a symlink out of the tree, or
    removed, is skipped: the helper must not give away a file of the daemon's user."""
    _need_root()
    root, outside = tmp_path / "fs", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "victim").write_text("mine")
    os.symlink(str(outside), root / "d")
    os.symlink(str(outside / "victim"), root / "f")
    apply_records(str(root), [("d/victim", 1000, 1000, 0o644, None), ("gone/x", 1000, 1000, 0o644, None),
                              ("missing", 1000, 1000, 0o644, None), ("f", 1000, 1000, 0o4755, None)])
    assert (outside / "victim").stat().st_uid == 0
    assert stat.S_IMODE((outside / "victim").stat().st_mode) != 0o4755
    assert (root / "f").lstat().st_uid == 1000  # the symlink itself, lchown'd
