"""``--userns-remap=default`` making its user and ranges (dockyard.linux.remap.ensure_default)
with others at it at the same time, on the machine's real /etc/passwd, /etc/subuid and
/etc/subgid: daemons starting at once (real processes, let go together) add the user once and
one range each, and a shadow tool holding /etc/.pwd.lock as lckpwdf(3) does is waited for, its
line kept and its range avoided. Each test's users and their lines are removed after; every
other line (dockremap's own, say) must be as it was."""

from __future__ import annotations

import fcntl
import itertools
import os
import pwd
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from dockyard.linux import remap
from dockyard.linux.idmap import SUBGID, SUBUID, subid_entries

_CHILD = """
import sys
from dockyard.linux import remap
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.read(1)  # the go: every child is let go at once
remap.ensure_default(sys.argv[1])
"""


@pytest.fixture
def names() -> Iterator[list[str]]:
    """Unique user names, removed after — users, groups and their subid lines — with a check
    that nothing else in the subid files changed."""
    if os.geteuid() != 0:
        pytest.skip("adds system users and subordinate ranges, as root")
    before = {path: _lines_of(remap.DEFAULT_USER, path) for path in (SUBUID, SUBGID)}
    made: list[str] = []
    yield made
    for name in made:
        subprocess.run(["userdel", name], capture_output=True, check=False)
        subprocess.run(["groupdel", name], capture_output=True, check=False)
    _remove_lines(set(made))
    for path, ranges in before.items():  # (other tests may add and remove users of their own)
        assert _lines_of(remap.DEFAULT_USER, path) == ranges, path  # dockremap:165536:65536
        assert not [e for e in subid_entries(path) if e[0] in made], path


def _remove_lines(names: set[str]) -> None:
    """Drop ``names``' lines from the subid files, holding /etc/.pwd.lock as the tools do."""
    with remap.pwd_locked():
        for path in (SUBUID, SUBGID):
            for name in names:
                remap.remove_ranges(path, name)


def _lines_of(name: str, path: str) -> list[tuple[int, int]]:
    return [(start, count) for owner, start, count in subid_entries(path) if owner == name]


def _overlaps(path: str) -> list[tuple[str, str]]:
    entries = sorted(subid_entries(path), key=lambda e: e[1])
    return [(a[0], b[0]) for a, b in itertools.pairwise(entries) if b[1] < a[1] + a[2]]


def _children(names: list[str]) -> list[subprocess.Popen[str]]:
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, name], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in names]
    for proc in procs:  # all started and imported before any goes
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return procs


def _go_and_wait(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str]]:
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("g")
        proc.stdin.close()
    return [(proc.wait(timeout=120), proc.stderr.read() if proc.stderr else "") for proc in procs]


def test_daemons_starting_at_once_add_the_user_once(names: list[str]) -> None:
    """Four "daemons" of one missing user: each would add it (adduser or useradd) and its ranges."""
    name = f"dyrace{os.getpid() % 100000}"
    names.append(name)
    results = _go_and_wait(_children([name] * 4))
    assert [code for code, _ in results] == [0] * 4, results
    assert pwd.getpwnam(name).pw_shell == "/bin/false"
    for path in (SUBUID, SUBGID):
        assert len(_lines_of(name, path)) == 1 and _overlaps(path) == [], (path, Path(path).read_text())


def test_daemons_starting_at_once_give_each_user_a_range_of_its_own(names: list[str]) -> None:
    """Eight "daemons", two for each of four users without ranges: every one would pick the
    same first free range and write the file over the others' (the user is there already, so
    nothing slows the read, the pick and the write)."""
    users = [f"dyrng{i}{os.getpid() % 10000}" for i in range(4)]
    names += users
    for user in users:
        subprocess.run(["useradd", "-r", "-s", "/bin/false", "-U", user], check=True, capture_output=True)
    results = _go_and_wait(_children(users * 2))
    assert [code for code, _ in results] == [0] * 8, results
    for path in (SUBUID, SUBGID):
        assert [len(_lines_of(user, path)) for user in users] == [1] * 4, (path, Path(path).read_text())
        assert _overlaps(path) == [], (path, Path(path).read_text())


def _flock_holders(pid: int) -> bool:
    """Whether ``pid`` holds a flock on /etc/.pwd.lock (/proc/locks names the inode)."""
    st = os.stat(remap.PWD_LOCK)
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    with open("/proc/locks", encoding="ascii") as f:
        return any(line.split()[1] == "FLOCK" and line.split()[4] == str(pid) and
                   line.split()[5] == inode for line in f if "->" not in line)


def test_a_shadow_tool_holding_the_lock_is_waited_for_and_its_range_avoided(names: list[str]) -> None:
    """While this test holds /etc/.pwd.lock as useradd or usermod would (a POSIX write lock),
    a daemon's ensure_default has its turn (the flock) but reads nothing; the line the "tool"
    adds meanwhile — the very range the daemon would have picked — is kept and avoided."""
    daemon_user, tool_user = f"dyrlck{os.getpid() % 100000}", f"dyrtol{os.getpid() % 100000}"
    names += [daemon_user, tool_user]
    subprocess.run(["useradd", "-r", "-s", "/bin/false", "-U", daemon_user], check=True)
    fd = os.open(remap.PWD_LOCK, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        wanted = remap.next_range_start(remap.all_ranges(SUBUID))
        wanted_gid = remap.next_range_start(remap.all_ranges(SUBGID))
        [proc] = _children([daemon_user])
        _go_and_wait_started(proc)
        deadline = time.monotonic() + 60  # a bound on waiting, not a speed check
        while not _flock_holders(proc.pid):
            assert proc.poll() is None, "ensure_default finished while a shadow tool held the lock"
            assert time.monotonic() < deadline, "the daemon never took its turn"
            time.sleep(0.01)
        assert _lines_of(daemon_user, SUBUID) == []
        remap.add_range(SUBUID, tool_user, wanted)  # as usermod --add-subuids would
        remap.add_range(SUBGID, tool_user, wanted_gid)
    finally:
        os.close(fd)  # the tool is done
    assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    assert _lines_of(tool_user, SUBUID) == [(wanted, 65536)]
    assert _lines_of(tool_user, SUBGID) == [(wanted_gid, 65536)]
    assert len(_lines_of(daemon_user, SUBUID)) == 1 and _overlaps(SUBUID) == []
    assert len(_lines_of(daemon_user, SUBGID)) == 1 and _overlaps(SUBGID) == []


def _go_and_wait_started(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("g")
    proc.stdin.close()


def test_a_user_another_program_added_meanwhile_is_taken(names: list[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """adduser fails when the user appeared between the look-up and the add (useradd run by
    someone else, holding its own lock): the user is taken as it is, not a start error."""
    name = f"dyrmid{os.getpid() % 100000}"
    names.append(name)

    def someone_else_first(user: str) -> None:
        subprocess.run(["useradd", "-r", "-s", "/bin/false", "-U", user], check=True)
        raise InvalidArgument(f"Can't create ID mappings: error adding user {user}: exists")

    def fails(user: str) -> None:
        raise InvalidArgument(f"Can't create ID mappings: error adding user {user}: no")

    monkeypatch.setattr(remap, "create_system_user", someone_else_first)
    remap.ensure_default(name)
    assert pwd.getpwnam(name).pw_shell == "/bin/false"
    assert len(_lines_of(name, SUBUID)) == 1 and len(_lines_of(name, SUBGID)) == 1
    monkeypatch.setattr(remap, "create_system_user", fails)
    with pytest.raises(InvalidArgument, match="error adding user dyrnone"):  # a real failure stays one
        remap.ensure_default(f"dyrnone{os.getpid() % 100000}")


_HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
fcntl.lockf(fd, fcntl.LOCK_EX)
sys.stdout.write("held\\n"); sys.stdout.flush()
sys.stdin.read(1)
"""


def test_a_lock_held_for_good_is_given_up_on_in_words(names: list[str]) -> None:
    """As lckpwdf gives up (after 15 s; here sooner), with what holds it named (``names``: root
    only, nothing made)."""
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, remap.PWD_LOCK], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        words = (r"^Can't create ID mappings: /etc/.pwd.lock is held by another program \(useradd, "
                 r"vipw, …\); gave up after 0.1 s$")
        with pytest.raises(InvalidArgument, match=words), remap.pwd_locked(timeout=0.1):
            pass
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    with remap.pwd_locked(timeout=30):  # free again
        pass
