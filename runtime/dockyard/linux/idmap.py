"""User-namespace id maps for rootless containers and a root daemon's ``--userns-remap``.

A rootless daemon maps in one of two ways, chosen from /etc/subuid and /etc/subgid:

* the user has subordinate ranges → ``0 → the user`` plus ``1.. → the range``, written by the
  setuid helpers ``newuidmap``/``newgidmap`` (only they may map ids the user does not own);
* no ranges → a single-id map ``0 → the user``, which an unprivileged process may write for
  itself (after ``setgroups deny``); files of other owners then show up as ``nobody``.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass, field
from typing import Final

from ..errors import Unavailable

Mapping = tuple[int, int, int]  # (id inside, id outside, count)
OVERFLOW_ID: Final = 65534  # what the kernel shows for an id a namespace's map lacks
SUBUID: Final = "/etc/subuid"
SUBGID: Final = "/etc/subgid"


@dataclass
class UserNamespace:
    """A container's user namespace: its maps, and who writes them. Maps with more than the
    writer's own id must be written from outside the new namespace, by the launcher, which
    then tells the init to go on (setgroups stays allowed: ``--group-add`` works):

    * ``use_helpers``: through the setuid ``newuidmap``/``newgidmap`` (a rootless launcher
      mapping the user's subordinate ranges, :func:`rootless`);
    * ``by_parent``: itself, to ``/proc/<pid>/uid_map`` (a root launcher: ``--userns-remap``,
      :func:`remapped`; a root launcher sets it on any map it is given, since only it can
      write one there); it also puts the init in its cgroup and sets its rlimits then, and
      makes its overlay and joins its network namespace before the clone (``linux.remapstart``).

    Neither: the init maps itself, a single id (``write_own``, setgroups denied)."""

    uid_map: list[Mapping] = field(default_factory=list)
    gid_map: list[Mapping] = field(default_factory=list)
    use_helpers: bool = False
    by_parent: bool = False

    @property
    def from_outside(self) -> bool:
        """The launcher writes the maps (and supplementary groups may be set)."""
        return self.use_helpers or self.by_parent

    def outside(self, uid: int, gid: int) -> tuple[int, int]:
        """The host's ids of the namespace's ``uid``:``gid`` (e.g. its root's, for the owner of
        a container's upper dir); -1 for an id the maps lack."""
        host_uid, host_gid = host_id(self.uid_map, uid), host_id(self.gid_map, gid)
        return -1 if host_uid is None else host_uid, -1 if host_gid is None else host_gid


def remapped(uid: int, gid: int, count: int = 65536) -> UserNamespace:
    """A root daemon's ``--userns-remap`` namespace: ids ``0..count-1`` are the host's
    ``uid..``/``gid..`` (dockerd maps the first subordinate range of ``dockremap`` so),
    written by the launcher."""
    return UserNamespace([(0, uid, count)], [(0, gid, count)], by_parent=True)


def host_id(maps: list[Mapping], value: int) -> int | None:
    """The id outside (the host's) of id ``value`` inside, or None if ``maps`` lack it."""
    for inside, outside, count in maps:
        if inside <= value < inside + count:
            return outside + value - inside
    return None


def namespace_id(maps: list[Mapping], host: int) -> int | None:
    """The id inside of host id ``host``, or None if no range of ``maps`` covers it (the kernel
    shows :data:`OVERFLOW_ID` then)."""
    for inside, outside, count in maps:
        if outside <= host < outside + count:
            return inside + host - outside
    return None


def subid_entries(path: str) -> list[tuple[str, int, int]]:
    """``(owner, start, count)`` of each well-formed line of a subid file (none when the file
    is missing)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            entries.append((parts[0], int(parts[1]), int(parts[2])))
    return entries


def subordinate_ranges(path: str, user: str, uid: int) -> list[tuple[int, int]]:
    """``(start, count)`` ranges listed for ``user`` (by name or uid) in a subid file."""
    return [(start, count) for owner, start, count in subid_entries(path)
            if owner in (user, str(uid)) and count > 0]


def rootless(uid: int | None = None, gid: int | None = None,
             subuid: str = SUBUID, subgid: str = SUBGID) -> UserNamespace:
    """The map a rootless container of the calling user gets."""
    uid = os.getuid() if uid is None else uid
    gid = os.getgid() if gid is None else gid
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    uids, gids = subordinate_ranges(subuid, name, uid), subordinate_ranges(subgid, name, uid)
    if not uids or not gids:
        return UserNamespace([(0, uid, 1)], [(0, gid, 1)], use_helpers=False)
    return UserNamespace(_stack(uid, uids), _stack(gid, gids), use_helpers=True)


def _stack(own: int, ranges: list[tuple[int, int]]) -> list[Mapping]:
    maps: list[Mapping] = [(0, own, 1)]
    inside = 1
    for start, count in ranges[:4]:  # the kernel accepts at most a few hundred lines; keep it short
        maps.append((inside, start, count))
        inside += count
    return maps


def _format(maps: list[Mapping]) -> str:
    return "".join(f"{a} {b} {c}\n" for a, b, c in maps)


def write_own(ns: UserNamespace) -> None:
    """In the child, map itself (single-id maps only: the kernel allows no more unprivileged)."""
    with open("/proc/self/setgroups", "w", encoding="ascii") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w", encoding="ascii") as f:
        f.write(_format(ns.uid_map))
    with open("/proc/self/gid_map", "w", encoding="ascii") as f:
        f.write(_format(ns.gid_map))


def write_for(pid: int, ns: UserNamespace) -> None:
    """From the parent: write ``pid``'s maps, through newuidmap/newgidmap when ranges are used."""
    if not ns.use_helpers:
        for name, maps in (("uid_map", ns.uid_map), ("gid_map", ns.gid_map)):
            with open(f"/proc/{pid}/{name}", "w", encoding="ascii") as f:
                f.write(_format(maps))
        return
    import shutil  # here: the launcher, which every shim and init is forked from, stays
    import subprocess  # without them (and their imports) unless a rootless start needs them

    for tool, maps in (("newuidmap", ns.uid_map), ("newgidmap", ns.gid_map)):
        exe = shutil.which(tool)
        if exe is None:
            raise Unavailable(f"{tool} not found: /etc/subuid and /etc/subgid give this user "
                              "subordinate ids, which only the setuid helpers newuidmap and "
                              "newgidmap may map; install them (Debian: apt-get install uidmap)")
        argv = [exe, str(pid)] + [str(n) for m in maps for n in m]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise Unavailable(f"{tool} failed: {done.stderr.strip() or done.returncode}")


def userns_unavailable_reason(proc: str = "/proc") -> str | None:
    """Why unprivileged user namespaces cannot be created here, or ``None`` if they can."""
    checks = [
        ("sys/user/max_user_namespaces", "0",
         ("user namespaces are disabled: sysctl user.max_user_namespaces is 0 "
         "(set it, e.g. sysctl -w user.max_user_namespaces=15000)")),
        ("sys/kernel/unprivileged_userns_clone", "0",
         ("unprivileged user namespaces are disabled: sysctl kernel.unprivileged_userns_clone "
         "is 0 (sysctl -w kernel.unprivileged_userns_clone=1)")),
        ("sys/kernel/apparmor_restrict_unprivileged_userns", "1",
         ("AppArmor restricts unprivileged user namespaces: sysctl "
         "kernel.apparmor_restrict_unprivileged_userns is 1 (set it to 0 or add a profile)")),
    ]
    for path, bad, reason in checks:
        try:
            with open(os.path.join(proc, path), encoding="ascii") as f:
                if f.read().strip() == bad:
                    return reason
        except OSError:
            continue
    return None


def mapped(maps: list[Mapping], value: int) -> bool:
    """Whether id ``value`` (inside the namespace) is in ``maps``."""
    return any(inside <= value < inside + count for inside, _, count in maps)


def missing_ids_hint(ns: UserNamespace) -> str:
    """What to change so that more ids are mapped (the end of every "not mapped" message)."""
    if ns.by_parent:
        return "the daemon's --userns-remap range does not reach it"
    if not ns.use_helpers:
        return ("only id 0 is (this user has no subordinate ids in /etc/subuid and /etc/subgid; "
                "add a range, e.g. usermod --add-subuids 100000-165535 --add-subgids "
                "100000-165535 USER, and install newuidmap/newgidmap)")
    return "the ranges in /etc/subuid and /etc/subgid do not reach it"


def check_mapped(ns: UserNamespace, uid: int, gids: list[int]) -> None:
    """Refuse, before starting, a user the namespace cannot represent (the kernel would only
    say EINVAL from setresuid deep inside the container's set-up)."""
    if mapped(ns.uid_map, uid) and all(mapped(ns.gid_map, g) for g in gids):
        return
    if ns.by_parent:
        raise Unavailable(f"user {uid} or one of groups {gids} is outside the remapped user "
                          f"namespace's id map: {missing_ids_hint(ns)}")
    if not ns.use_helpers:
        raise Unavailable(f"user {uid}:{gids[0] if gids else 0} is not mapped in the rootless "
                          f"user namespace: {missing_ids_hint(ns)}")
    raise Unavailable(f"user {uid} or one of groups {gids} is outside the user namespace's "
                      "id map (/etc/subuid, /etc/subgid)")
