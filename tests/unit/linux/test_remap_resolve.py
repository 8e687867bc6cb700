"""``--userns-remap`` resolved as dockerd resolves it (dockyard.linux.remap): the user's
subordinate ranges stacked into a map, dockerd's start errors, and "default"'s dockremap user
and its first free range — on temporary copies of /etc/subuid and /etc/subgid (a user this
test adds has a unique name and is deleted after)."""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from dockyard.linux import remap


@pytest.fixture
def subids(tmp_path: Path) -> tuple[str, str]:
    uid_file, gid_file = tmp_path / "subuid", tmp_path / "subgid"
    uid_file.write_text("someone:100000:65536\ndaemon:200000:65536\ndaemon:300000:1000\n")
    gid_file.write_text("daemon:210000:65536\nnogroup:500000:65536\n")
    return str(uid_file), str(gid_file)


def test_a_users_ranges_are_stacked_from_container_id_0(subids: tuple[str, str]) -> None:
    root = remap.resolve("daemon", *subids)
    assert root is not None and (root.user, root.group) == ("daemon", "daemon")
    assert root.ns.uid_map == [(0, 200000, 65536), (65536, 300000, 1000)]
    assert root.ns.gid_map == [(0, 210000, 65536)] and root.ns.by_parent  # the launcher maps it
    assert (root.uid, root.gid, root.dir_name) == (200000, 210000, "200000.210000")
    by_number = remap.resolve(f"{pwd.getpwnam('daemon').pw_uid}:{grp.getgrnam('nogroup').gr_gid}", *subids)
    assert by_number is not None and (by_number.user, by_number.group) == ("daemon", "nogroup")
    assert by_number.ns.gid_map == [(0, 500000, 65536)]


@pytest.mark.parametrize(("text", "message"), [
    ("dytest-nosuchuser", ('Error during uid lookup for "dytest-nosuchuser": getent unable to find '
                          'entry "dytest-nosuchuser" in passwd database')),
    ("daemon:dytest-nosuchgroup", ('Error during groupname lookup for "dytest-nosuchgroup": getent '
                                  'unable to find entry "dytest-nosuchgroup" in group database')),
    ("nobody", 'Can\'t create ID mappings: no subuid ranges found for user "nobody"'),
    ("daemon:root", 'Can\'t create ID mappings: no subgid ranges found for group "root"'),
    (":x", 'invalid --userns-remap value ":x": a user is required'),
])
def test_start_errors_are_dockerds(text: str, message: str, subids: tuple[str, str]) -> None:
    with pytest.raises(InvalidArgument) as refused:
        remap.resolve(text, *subids)
    assert str(refused.value) == message


def test_root_is_no_remapping(subids: tuple[str, str]) -> None:
    assert remap.resolve("root", *subids) is None


@pytest.mark.parametrize(("ranges", "start"), [
    ([], 100000), ([(100000, 65536)], 165536), ([(100000, 1000)], 101000),
    ([(200000, 65536)], 100000), ([(150000, 10)], 150010),
    ([(165536, 65536), (100000, 65536)], 231072), ([(1000, 10)], 100000),
])
def test_the_first_free_range_is_dockerds(ranges: list[tuple[int, int]], start: int) -> None:
    assert remap.next_range_start(ranges) == start


def test_a_range_is_appended_and_the_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "subuid"
    path.write_text("a:100000:65536")  # no final newline
    os.chmod(path, 0o640)
    remap.add_range(str(path), "b", 165536)
    assert path.read_text() == "a:100000:65536\nb:165536:65536\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert remap.all_ranges(str(path)) == [(100000, 65536), (165536, 65536)]
    remap.add_range(str(tmp_path / "new"), "c", 100000)
    assert (tmp_path / "new").read_text() == "c:100000:65536\n"


@pytest.fixture
def new_user_name() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("adding a system user needs root")
    name = f"dyrm{os.getpid() % 100000}"
    yield name
    subprocess.run(["userdel", name], capture_output=True, check=False)
    subprocess.run(["groupdel", name], capture_output=True, check=False)


def test_default_makes_the_user_and_its_first_free_ranges(new_user_name: str, subids: tuple[str, str]) -> None:
    remap.ensure_default(new_user_name, *subids)
    made = pwd.getpwnam(new_user_name)
    assert made.pw_shell == "/bin/false" and made.pw_uid < 1000  # a system user, as dockerd's
    assert grp.getgrnam(new_user_name).gr_gid == made.pw_gid
    uid_text, gid_text = Path(subids[0]).read_text(), Path(subids[1]).read_text()
    assert uid_text.endswith(f"\n{new_user_name}:301000:65536\n")  # past each overlapping range
    assert gid_text.endswith(f"\n{new_user_name}:100000:65536\n")  # the first gap of subgid
    remap.ensure_default(new_user_name, *subids)  # again: nothing more
    assert Path(subids[0]).read_text() == uid_text and Path(subids[1]).read_text() == gid_text
