"""``--userns-remap``: the user whose subordinate ids a root daemon's containers run as.

Resolved once, at the daemon's start, as dockerd resolves it (``parseRemappedRoot`` and
``NewIdentityMapping``)::

    "default"            → user and group ``dockremap``: created if missing (a system user, as
                           dockerd's ``adduser --system``/``useradd -r``), and given the first
                           free 65536-id range at or after 100000 in /etc/subuid and /etc/subgid
                           if it has none there
    USER[:GROUP]         → that user (and group; the user's name when none is given)
    UID[:GID]            → the same, looked up by number
    "root"               → no remapping (dockerd: "root cannot be remapped with itself")

The map a container gets is the user's subuid ranges (the group's subgid ranges), in file
order, stacked from container id 0 (dockerd's ``createIDMap``): with ``dockremap:165536:65536``
container id 0 is host id 165536, 65535 is 231071. The daemon then keeps all its state under
``<data-root>/<uid>.<gid>`` (the first range's starts), images included.

Refusals are dockerd's one-line start errors (an unknown user or group, no ranges).

Making "default"'s user and ranges is safe against a second daemon starting at once and against
the shadow tools (``useradd``, ``usermod --add-subuids``), where dockerd's is not: daemons take
turns (a ``flock`` on /etc/.pwd.lock, which no other program uses that way), so only the first
adds the user and the next finds it; and the ranges are read, chosen and written holding
/etc/.pwd.lock as ``lckpwdf(3)`` does (a POSIX write lock: the shadow tools take it before they
read or write /etc/subuid and /etc/subgid), so no other writer slips between the read and the
write. The user itself is added by ``adduser``/``useradd``, which take that POSIX lock
themselves (hence not held then); one added meanwhile by anyone else is taken as it is.
"""

from __future__ import annotations

import errno
import fcntl
import grp
import logging
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from ..errors import InvalidArgument
from .idmap import SUBGID, SUBUID, Mapping, UserNamespace, subid_entries, subordinate_ranges

log = logging.getLogger(__name__)

DEFAULT_USER: Final = "dockremap"
RANGE_START: Final = 100000
RANGE_LENGTH: Final = 65536
PWD_LOCK: Final = "/etc/.pwd.lock"  # lckpwdf(3)'s
LOCK_TIMEOUT: Final = 15.0  # seconds, as lckpwdf waits
TURN_TIMEOUT: Final = 60.0  # a daemon's turn: longer than an adduser waiting out lckpwdf


@dataclass(frozen=True)
class RemappedRoot:
    """The resolved remap: who, and the map its containers (and the store's files) get."""

    user: str
    group: str
    ns: UserNamespace

    @property
    def uid(self) -> int:
        """The host uid of the containers' root."""
        return self.ns.uid_map[0][1]

    @property
    def gid(self) -> int:
        return self.ns.gid_map[0][1]

    @property
    def dir_name(self) -> str:
        """The data root's subdirectory, as dockerd names it."""
        return f"{self.uid}.{self.gid}"


def parse(text: str) -> tuple[str, str]:
    """``USER[:GROUP]`` → (user, group); the group is the user's when none is given."""
    user, _, group = text.partition(":")
    if not user:
        raise InvalidArgument(f'invalid --userns-remap value "{text}": a user is required')
    return user, group or user


def _user_name(user: str) -> str:
    try:
        return pwd.getpwuid(int(user)).pw_name if user.isdigit() else pwd.getpwnam(user).pw_name
    except KeyError:
        raise InvalidArgument(f'Error during uid lookup for "{user}": getent unable to find entry '
                              f'"{user}" in passwd database') from None


def _group_name(group: str) -> str:
    try:
        return grp.getgrgid(int(group)).gr_name if group.isdigit() else grp.getgrnam(group).gr_name
    except KeyError:
        raise InvalidArgument(f'Error during groupname lookup for "{group}": getent unable to find '
                              f'entry "{group}" in group database') from None


def stacked(ranges: list[tuple[int, int]]) -> list[Mapping]:
    """dockerd's createIDMap: each range after the previous one, from container id 0."""
    maps, inside = [], 0
    for start, count in ranges:
        maps.append((inside, start, count))
        inside += count
    return maps


def resolve(text: str, subuid: str = SUBUID, subgid: str = SUBGID) -> RemappedRoot | None:
    """The remap ``text`` names (None: "root", no remapping). "default" creates ``dockremap``
    and its ranges when missing (:func:`ensure_default`)."""
    if text == "default":
        ensure_default(DEFAULT_USER, subuid, subgid)
        user, group = DEFAULT_USER, DEFAULT_USER
    else:
        wanted_user, wanted_group = parse(text)
        user = _user_name(wanted_user)
        group = _group_name(wanted_group) if ":" in text else user
    if user == "root":
        log.warning("User namespaces: root cannot be remapped with itself; user namespaces are OFF")
        return None
    uid = pwd.getpwnam(user).pw_uid
    uids = subordinate_ranges(subuid, user, uid)
    if not uids:
        raise InvalidArgument(f'Can\'t create ID mappings: no subuid ranges found for user "{user}"')
    try:
        gid: int | None = grp.getgrnam(group).gr_gid
    except KeyError:
        gid = None
    gids = subordinate_ranges(subgid, group, -1 if gid is None else gid)
    if not gids:
        raise InvalidArgument(f'Can\'t create ID mappings: no subgid ranges found for group "{group}"')
    return RemappedRoot(user, group, UserNamespace(stacked(uids), stacked(gids), by_parent=True))


# ---- "default": the dockremap user and its ranges ---------------------------------------------


def ensure_default(name: str, subuid: str = SUBUID, subgid: str = SUBGID,
                   lock: str = PWD_LOCK) -> None:
    """The user ``name`` (dockremap) and its subordinate ranges, made if missing, as dockerd's
    ``createIDMap`` for "default" does — one daemon at a time, and the files read and written
    under ``lock`` as lckpwdf(3) holds it (see the module's docstring)."""
    with _locked(lock, fcntl.flock, "another daemon", TURN_TIMEOUT):  # daemons take turns
        uid = _existing_or_added(name)
        with pwd_locked(lock):  # no shadow tool between the read and the write
            for path in (subuid, subgid):
                if not subordinate_ranges(path, name, uid):
                    add_range(path, name, next_range_start(all_ranges(path)))


def _existing_or_added(name: str) -> int:
    """``name``'s uid, adding the system user first if missing; one that another program added
    meanwhile (adduser then fails: it exists) is taken as it is."""
    if _uid(name) is None:
        try:
            create_system_user(name)
        except InvalidArgument:
            if _uid(name) is None:
                raise
    return pwd.getpwnam(name).pw_uid


def _uid(name: str) -> int | None:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


@contextmanager
def pwd_locked(path: str = PWD_LOCK, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """``path`` (/etc/.pwd.lock) held as lckpwdf(3) holds it — the POSIX write lock the shadow
    tools take before they read or write /etc/passwd, /etc/subuid and the rest — for a
    read-modify-write of those files."""
    with _locked(path, fcntl.lockf, "another program (useradd, vipw, …)", timeout):
        yield


@contextmanager
def _locked(path: str, take: Callable[[int, int], object], holder: str,
            timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """An exclusive lock on ``path`` (made 0600 if missing, as lckpwdf makes it) of the kind
    ``take`` gives: ``fcntl.lockf`` (POSIX, lckpwdf's) or ``fcntl.flock`` (which the POSIX
    kind ignores, so its holder may still run useradd). Given up after ``timeout`` seconds,
    as lckpwdf gives up, naming the likely ``holder``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                take(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):  # POSIX allows either
                    raise
                if time.monotonic() > deadline:
                    raise InvalidArgument(f"Can't create ID mappings: {path} is held by {holder}; "
                                          f"gave up after {timeout:g} s") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # releases either kind


def create_system_user(name: str) -> None:
    """A system user with its own group, no home and no login, as dockerd adds dockremap
    (``adduser --system … --group`` where Debian's adduser exists, else ``useradd -r``)."""
    adduser, useradd = shutil.which("adduser"), shutil.which("useradd")
    if adduser is not None:
        argv = [adduser, "--system", "--shell", "/bin/false", "--no-create-home", "--disabled-login",
                "--disabled-password", "--group", name]
    elif useradd is not None:
        argv = [useradd, "-r", "-s", "/bin/false", "-U", name]
    else:
        raise InvalidArgument(f"Can't create ID mappings: cannot add user {name}: neither adduser "
                              "nor useradd is installed")
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InvalidArgument(f"Can't create ID mappings: error adding user {name}: "
                              f"{(done.stderr or done.stdout).strip() or done.returncode}")


def all_ranges(path: str) -> list[tuple[int, int]]:
    """Every ``(start, count)`` a subid file lists, whoever it is for."""
    return sorted((start, count) for _owner, start, count in subid_entries(path))


def next_range_start(ranges: list[tuple[int, int]]) -> int:
    """dockerd's findNextRangeStart: from 100000, past every range a 65536-id block at the
    candidate start would overlap (ranges sorted by start)."""
    start = RANGE_START
    for begin, count in sorted(ranges):
        if begin < start + RANGE_LENGTH and start < begin + count:
            start = begin + count
    return start


def add_range(path: str, name: str, start: int) -> None:
    """Append ``name:start:65536`` (what ``usermod --add-subuids`` writes), atomically (hold
    :func:`pwd_locked` around the read that chose ``start`` and this)."""
    _rewrite(path, lambda lines: [*lines, f"{name}:{start}:{RANGE_LENGTH}"])


def remove_ranges(path: str, name: str) -> None:
    """Drop every line of ``name`` (which ``userdel`` may leave), atomically, others' kept
    (hold :func:`pwd_locked`)."""
    _rewrite(path, lambda lines: [x for x in lines if x.split(":", 1)[0] != name])


def _rewrite(path: str, change: Callable[[list[str]], list[str]]) -> None:
    """The file's lines changed: written aside with the file's mode, synced, renamed over."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        lines, mode = [], 0o644
    tmp = f"{path}.dockyard-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("".join(f"{line}\n" for line in change(lines)))
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


__all__ = ["DEFAULT_USER", "PWD_LOCK", "RemappedRoot", "add_range", "all_ranges", "create_system_user",
           "ensure_default", "next_range_start", "parse", "pwd_locked", "remove_ranges", "resolve",
           "stacked"]
