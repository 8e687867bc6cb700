"""Per-container cgroups behind one small interface, for cgroup v1 and v2.

Which one applies is decided from what is *really mounted and writable* (``/proc/self/mountinfo``
plus each v2 root's ``cgroup.controllers``), not from the mere presence of a ``cgroup2`` mount:
a "hybrid" host — v1 controllers plus an empty v2 ``unified`` mount, as on the machines this
project is developed on — must use v1, while tools that only test for ``cgroup2`` would pick v2
and then find no ``memory`` controller there.

Layout (``<parent>`` defaults to ``dockyard``)::

    v1: /sys/fs/cgroup/<controller>/<parent>/<id>/   one dir per mounted hierarchy we use
        /sys/fs/cgroup/cpuset/<parent>/<id>/         its cpuset (runc makes one for every container)
    v2: /sys/fs/cgroup/<parent>/<id>/                one dir; controllers enabled on the way down

``<parent>`` is taken from each hierarchy's root, with or without a leading ``/``; a parent a
user names (``docker build --cgroup-parent``) is first placed as runc places it:
:func:`resolve_parent` (on v1 a relative one may be a different path in each hierarchy).

A v1 cpuset cgroup takes no task until its ``cpuset.cpus`` and ``cpuset.mems`` are set, and a
new one starts with both empty; every level is filled from its parent when made (as runc
does). Every container has one of its own, as under runc, made with the rest (an embryo's
ahead of its start, renamed with it): a container in a cgroup namespace of its own has it as
the namespace's root, so a cpuset a ``docker update`` gives it later shows in its
/sys/fs/cgroup/cpuset and /proc/self/cgroup as dockerd's does.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Final, Protocol

from ..errors import DockyardError, Unavailable
from . import mounts, syscalls

DEFAULT_PARENT: Final = "dockyard"  # the cgroup every container's goes under (--cgroup-parent)
Parent = str | dict[str, str]
"""A cgroup parent from the hierarchies' root: one path, or on v1 one per controller (a
relative ``--cgroup-parent`` where the daemon's cgroup differs between hierarchies)."""
V1_CONTROLLERS: Final = ("memory", "cpu", "cpuacct", "pids", "freezer")
V1_UNLIMITED: Final = ("blkio", "devices")  # and named ones (``name=systemd``): no limits here
V1_JOINED: Final = (*V1_CONTROLLERS, "devices", "blkio")
"""Every container's hierarchies (devices: its rules; blkio: its I/O counts for ``docker
stats`` and the throttles and weights it is given, :attr:`Limits.blkio_devices`)."""
BLKIO_THROTTLES: Final = {"read_bps": "rbps", "write_bps": "wbps", "read_iops": "riops",
                          "write_iops": "wiops"}
"""The throttles: v1's ``blkio.throttle.<name>_device`` → v2's ``io.max`` key, in runc's order."""
DEFAULT_DEVICES: Final = ("b *:* m", "c *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",
                          "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm",
                          "c 10:200 rwm", "c 136:* rwm")
"""A container's device rules as dockerd 20.10 has runc write them (its ``devices.list``):
every other node denied — ``mknod`` is allowed, using the node is not — but null, zero,
full, random, urandom, tty, console, ptmx, the ptys and tun. Sorted as runc sorts them
(:func:`device_rules`)."""
ALL_DEVICES: Final = ("a *:* rwm",)  # --privileged, or a rule of type "a"
V2_CONTROLLERS: Final = ("memory", "cpu", "pids", "io")  # every container's (where the host
#                                                          has them); cpuset when asked
_PROC_MOUNTINFO: Final = "/proc/self/mountinfo"


@dataclass
class Limits:
    """Resource limits as runc 1.1 takes them from dockerd's OCI spec: ``None`` leaves a
    setting as it is (a new cgroup's: no limit), as runc leaves a zero. They are checked
    before (``containers.create.check_resources``, in dockerd's words); what the kernel then
    refuses or clamps is refused here in runc's words (a cgroup file's value, cpu-shares)."""

    memory: int | None = None          # bytes (--memory)
    cpu_quota: int | None = None       # µs per period (--cpus × period, --cpu-quota)
    cpu_period: int | None = None      # µs (--cpu-period; 100000 with --cpus)
    cpu_shares: int | None = None      # relative weight (--cpu-shares): the kernel's 2..262144
    pids: int | None = None            # --pids-limit; 0 or -1 mean unlimited
    memory_swap: int | None = None     # memory+swap bytes (--memory-swap), -1 unlimited
    cpuset_cpus: str | None = None     # --cpuset-cpus, e.g. "0-1,3"
    cpuset_mems: str | None = None     # --cpuset-mems
    memory_reservation: int | None = None  # soft limit bytes (--memory-reservation)
    swappiness: int | None = None      # 0..100 (--memory-swappiness); v1 only
    oom_kill_disable: bool = False     # --oom-kill-disable; v1 only
    devices: list[str] | None = field(default_factory=lambda: list(DEFAULT_DEVICES))
    """The device rules (v1 ``devices.list`` lines, :func:`device_rules`; on v2 compiled to
    an eBPF program, :mod:`dockyard.linux.devicebpf`); ``None`` leaves them alone
    (``docker update``)."""
    blkio_weight: int | None = None    # 10..1000 (--blkio-weight), where the kernel has a file
    cpu_rt_period: int | None = None   # µs (--cpu-rt-period); v1 only
    cpu_rt_runtime: int | None = None  # µs (--cpu-rt-runtime); v1 only
    blkio_devices: dict[str, list[list[int]]] = field(default_factory=dict)
    """Per block device, ``[major, minor, value]`` each: ``"weight"`` (--blkio-weight-device)
    and the :data:`BLKIO_THROTTLES` (--device-read-bps …; 0 removes one), written as runc
    writes them (:func:`_blkio_v1`, :func:`_io_v2`)."""

    @property
    def empty(self) -> bool:
        return all(v is None for v in (self.memory, self.cpu_quota, self.cpu_shares, self.pids,
                                       self.cpuset_cpus, self.cpuset_mems,
                                       self.memory_reservation, self.swappiness,
                                       self.blkio_weight, self.cpu_rt_period,
                                       self.cpu_rt_runtime)) \
            and not self.oom_kill_disable and not self.blkio_devices

    @property
    def cpuset(self) -> bool:
        return bool(self.cpuset_cpus or self.cpuset_mems)


_DEVICE_RULE: Final = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")


def device_rules(privileged: bool = False, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """A container's device rules: ``--privileged`` (or any rule of type ``a``) every device;
    else :data:`DEFAULT_DEVICES` plus ``extra`` (``--device`` nodes' and
    ``--device-cgroup-rule`` lines, refused in dockerd's words when malformed), one line per
    node with the accesses merged and sorted as runc sorts them (major, minor — ``*`` first —
    then type), so that ``devices.list`` reads as under dockerd."""
    merged: dict[tuple[int, int, str], set[str]] = {}
    for rule in (*DEFAULT_DEVICES, *extra):
        match = _DEVICE_RULE.match(rule)
        if match is None:
            raise DockyardError(f"invalid device cgroup rule format: '{rule}'")
        kind, major, minor, access = match.groups()
        privileged = privileged or kind == "a"
        key = (-1 if major == "*" else int(major), -1 if minor == "*" else int(minor), kind)
        merged.setdefault(key, set()).update(access)
    if privileged:
        return list(ALL_DEVICES)
    return [f"{kind} {'*' if major < 0 else major}:{'*' if minor < 0 else minor} "
            + "".join(a for a in "rwm" if a in access)
            for (major, minor, kind), access in sorted(merged.items())]


def _write_devices(path: str, rules: list[str]) -> None:
    """Replace a v1 devices cgroup's list: all allowed, or all denied then each rule allowed
    (as runc does; the container's init has not run anything yet)."""
    if list(rules) == list(ALL_DEVICES):
        _write(f"{path}/devices.allow", "a")
        return
    _write(f"{path}/devices.deny", "a")
    for rule in rules:
        _write(f"{path}/devices.allow", rule)


@dataclass
class Hierarchies:
    """What the host has mounted: v1 controller → mountpoint, and v2 roots."""

    v1: dict[str, str] = field(default_factory=dict)
    v2: str | None = None
    v2_controllers: frozenset[str] = frozenset()

    @property
    def mode(self) -> str:
        """``"v1"``, ``"v2"`` or ``"none"``; hybrid hosts resolve to v1 (see module doc)."""
        used = [self.v1[c] for c in ("memory", "pids", "cpu") if c in self.v1]
        if used:
            return "v1" if all(os.access(m, os.W_OK) for m in used) else "none"
        if self.v2 is not None and os.access(self.v2, os.W_OK):
            return "v2"
        return "none"


def detect(mountinfo: str = _PROC_MOUNTINFO) -> Hierarchies:
    """Parse the mount table for cgroup file systems."""
    found = Hierarchies()
    with open(mountinfo, encoding="utf-8") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _source, options = (right.split() + ["", ""])[:3]
            mountpoint = mounts.unescape(left.split()[4])
            if fstype == "cgroup":
                for opt in options.split(","):
                    if opt in (*V1_CONTROLLERS, *V1_UNLIMITED, "cpuset") or opt.startswith("name="):
                        found.v1.setdefault(opt, mountpoint)
            elif fstype == "cgroup2" and found.v2 is None:
                found.v2 = mountpoint
                found.v2_controllers = frozenset(_read(f"{mountpoint}/cgroup.controllers").split())
    return found


@functools.cache
def detected() -> Hierarchies:
    """This host's hierarchies, read once per process: the mounts do not change under a daemon,
    and a container's stats, pause, exit and clean-up each ask (a read parses mountinfo)."""
    return detect()


@functools.cache
def supported() -> frozenset[str]:
    """The settings this host's cgroups take, found as dockerd's sysinfo finds them (a v1
    hierarchy's root has the file; on v2 the controller): a create or update asking for one
    missing has it discarded with dockerd's warning (``containers.create.discard_unsupported``)."""
    hier, found = detected(), set[str]()
    if "memory" in hier.v1:
        root = hier.v1["memory"]
        found.update(name for name, path in (("reservation", "memory.soft_limit_in_bytes"),
                                             ("swappiness", "memory.swappiness"),
                                             ("oom_kill_disable", "memory.oom_control"))
                     if os.path.exists(f"{root}/{path}"))
        if os.path.exists(f"{root}/memory.kmem.limit_in_bytes"):
            found.add("kmem")
    elif "memory" in hier.v2_controllers:
        found.add("reservation")  # v2 has no swappiness nor OOM-kill switch (dockerd's sysinfo)
    if "cpu" in hier.v1 and os.path.exists(f"{hier.v1['cpu']}/cpu.rt_runtime_us"):
        found.add("cpu_rt")  # real-time group scheduling (v2 has none)
    if "blkio" in hier.v1:
        root = hier.v1["blkio"]
        found.update(name for name, files in (("blkio_weight", ("blkio.weight", "blkio.bfq.weight")),
                                              ("blkio_weight_device", ("blkio.weight_device",
                                                                       "blkio.bfq.weight_device")),
                                              *((f"blkio_{t}", (f"blkio.throttle.{t}_device",))
                                                for t in BLKIO_THROTTLES))
                     if any(os.path.exists(f"{root}/{f}") for f in files))
    elif "memory" not in hier.v1 and "io" in hier.v2_controllers:  # v2: all with io
        found.update(("blkio_weight", "blkio_weight_device",
                      *(f"blkio_{t}" for t in BLKIO_THROTTLES)))
    return frozenset(found)


class Cgroup(Protocol):
    """One container's cgroup, whatever the version."""

    paths: list[str]

    def create(self, limits: Limits) -> None: ...
    def apply(self, limits: Limits) -> None: ...
    def update(self, limits: Limits) -> None: ...
    def join(self, pid: int = 0) -> None: ...
    def oom_killed(self) -> bool: ...
    def pids(self) -> list[int]: ...
    def memory_usage(self) -> int | None: ...
    def stats(self) -> Stats: ...
    def freeze(self, frozen: bool) -> None: ...
    def remove(self) -> None: ...


@dataclass
class Stats:
    """The figures ``docker stats`` shows, read from the container's cgroup."""

    memory_usage: int | None = None     # bytes
    memory_limit: int | None = None     # bytes; None = unlimited
    cpu_usage_ns: int | None = None     # total CPU time consumed
    pids: int | None = None             # tasks currently in the cgroup


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _wait_state(path: str, wanted: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while _read(path).strip() != wanted:
        if time.monotonic() > deadline:
            raise Unavailable(f"{path} did not reach {wanted!r} within {timeout} s")
        time.sleep(0.001)


def _read(path: str) -> str:
    """The file's text, "" when it cannot be read. Plain descriptors rather than ``open()``:
    a container's init and shim use these, and a text file object is a stack of three
    objects that a forked process pays for in copy-on-write faults."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        return syscalls.read_all(fd).decode("ascii", "replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def _write(path: str, value: str) -> None:
    """Write one cgroup file; a refusal says which value and file, in runc's words (what
    dockerd relays, e.g. from ``docker update``)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, value.encode("ascii"))
    except OSError as exc:
        raise OSError(exc.errno, f'failed to write "{value}": write {path}: '
                                 f"{os.strerror(exc.errno or 0).lower()}") from None
    finally:
        os.close(fd)


def parse_uint_list(text: str) -> set[int] | None:
    """``"0-2,5"`` as Docker reads a cpuset (its ``ParseUintList``); ``None`` when malformed."""
    found: set[int] = set()
    for part in text.split(",") if text else []:
        low, dash, high = part.partition("-")
        if not all(re.fullmatch(r"[+-]?[0-9]+", v) for v in ((low, high) if dash else (low,))):
            return None
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            return None
        found.update(range(first, last + 1))
    return found


def cpuset_available(hier: Hierarchies | None = None) -> tuple[str, str]:
    """The CPUs and memory nodes a container may ask for, as dockerd's sysinfo reads them: the
    cpuset root's ``cpuset.cpus``/``cpuset.mems`` (v1) or ``….effective`` (v2), else what the
    kernel has online."""
    hier = hier or detect()
    if "cpuset" in hier.v1:
        cpus, mems = (_read(f"{hier.v1['cpuset']}/cpuset.{n}").strip() for n in ("cpus", "mems"))
    elif hier.v2 is not None:
        cpus, mems = (_read(f"{hier.v2}/cpuset.{n}.effective").strip() for n in ("cpus", "mems"))
    else:
        cpus = mems = ""
    return (cpus or _read("/sys/devices/system/cpu/online").strip(),
            mems or _read("/sys/devices/system/node/online").strip() or "0")


def _adopt(pids: Callable[[], list[int]], procs: str) -> None:
    """Move every task ``pids()`` lists into the cgroup whose ``cgroup.procs`` is ``procs``
    (those already there stay), again until no new one shows up (a task forked meanwhile
    stays where its parent was)."""
    moved = {int(pid) for pid in _read(procs).split()}
    while todo := [pid for pid in pids() if pid not in moved]:
        for pid in todo:
            try:
                _write(procs, str(pid))
            except ProcessLookupError:
                pass  # gone meanwhile
            moved.add(pid)


def _counter(text: str, key: str) -> int:
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


def _rmdir(path: str, procs_file: str, patience: float = 5.0) -> None:
    """rmdir a cgroup, killing stragglers. The kernel refuses (EBUSY) while a task that left
    is still exiting: a moment usually, longer on a busy host — so retry for ``patience``
    seconds before the error stands (a container's cgroup left so, the daemon removes when
    the shim has gone: ``manager._shim_done``)."""
    deadline = time.monotonic() + patience
    attempt = 0
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
        for pid in _read(os.path.join(path, procs_file)).split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        attempt += 1
        time.sleep(0.001 * min(attempt, 20))


class CgroupV1:
    """One directory per mounted v1 hierarchy (co-mounted controllers share one).

    ``everywhere``: in every hierarchy, as runc puts a container — the ones without limits
    here (blkio, devices, ``name=systemd``, a hybrid host's v2 one) and cpuset too — for a
    container in the host's cgroup namespace, where its paths show. Any removal removes
    those too (a shim's view of the cgroup does not know how it was made)."""

    def __init__(self, container_id: str, hier: Hierarchies, parent: Parent = DEFAULT_PARENT,
                 everywhere: bool = False) -> None:
        self.hier, self.parent = hier, parent
        self.dirs = {c: _below(hier.v1[c], parent_in(parent, c), container_id)
                     for c in V1_JOINED if c in hier.v1}
        self.cpuset = _below(hier.v1["cpuset"], parent_in(parent, "cpuset"), container_id) \
            if "cpuset" in hier.v1 else None
        self.in_cpuset = False  # its cpuset cgroup is made: a join goes there too (not in paths)
        others = [_below(m, parent_in(parent, c), container_id) for c, m in hier.v1.items()
                  if c in V1_UNLIMITED or c.startswith("name=")]
        if hier.v2 is not None:  # hybrid: the empty v2 hierarchy beside v1's
            others.append(_below(hier.v2, parent_in(parent, ""), container_id))
        self.others = sorted(set(others) - set(self.dirs.values()))
        self.everywhere = everywhere
        self.paths = sorted(set(self.dirs.values()) | (set(self.others) if everywhere else set()))
        self.devices: list[str] | None = None  # the device rules written here, when known

    def rename(self, container_id: str) -> CgroupV1:
        """The same cgroups (tasks included) under another name: v1 allows a rename within
        one parent, which costs far less than moving a task (see ``linux.launcher.Embryo``)."""
        other = CgroupV1(container_id, self.hier, self.parent)
        pairs = {self.dirs[c]: other.dirs[c] for c in self.dirs}
        if self.cpuset is not None and other.cpuset is not None:  # made with the rest
            pairs[self.cpuset] = other.cpuset
            other.in_cpuset = True
        for old, new in pairs.items():
            os.rename(old, new)
        other.devices = self.devices
        return other

    @classmethod
    def spare(cls, name: str, hier: Hierarchies) -> CgroupV1:
        """An embryo's cgroup (``dockyard/spare-<pid>``): made with the default device rules
        (:data:`DEFAULT_DEVICES`), so a start writes them only for a spec with others."""
        cg = cls(name, hier)
        cg.devices = list(DEFAULT_DEVICES)
        return cg

    def create(self, limits: Limits) -> None:
        for path in self.paths:
            os.makedirs(path, exist_ok=True)
        if self.cpuset is not None:  # its own, as runc's: a cgroup namespace is rooted there
            _cpuset_dirs(self.cpuset, self.hier.v1["cpuset"])
            self.in_cpuset = True
        self.apply(limits)

    def apply(self, limits: Limits) -> None:
        """Write ``limits`` at a start; on failure the cgroups are removed (killing what is in
        them) and a refusal is in runc's words there (:func:`_prochooks`)."""
        try:
            self._apply(limits)
        except OSError as exc:
            self.remove()
            raise _prochooks(exc) from None
        except BaseException:
            self.remove()
            raise

    def update(self, limits: Limits) -> None:
        """``docker update`` of a running container: unlike :meth:`apply`, a refused value
        leaves the cgroup (and what runs in it) alone — those written before it stay, as
        runc's ``update`` leaves them."""
        # dockerd 20.10 updates no device rules, nor the real-time settings it records
        self._apply(replace(limits, devices=None, cpu_rt_period=None, cpu_rt_runtime=None))

    def _need(self, controller: str) -> str:
        if controller not in self.dirs:
            raise Unavailable(f"cgroup v1 controller {controller!r} is not mounted "
                              f"(mount it under /sys/fs/cgroup/{controller})")
        return self.dirs[controller]

    def _apply(self, limits: Limits) -> None:
        if limits.cpu_rt_period or limits.cpu_rt_runtime:
            _rt_sched(self._need("cpu"), limits)
        devices = self.dirs.get("devices")
        if devices and limits.devices is not None and limits.devices != self.devices:
            _write_devices(devices, limits.devices)
            self.devices = list(limits.devices)
        if limits.memory is not None or limits.memory_swap is not None:
            _memory_v1(self._need("memory"), limits.memory, limits.memory_swap)
        if limits.memory_reservation is not None:
            _write(f"{self._need('memory')}/memory.soft_limit_in_bytes",
                   str(limits.memory_reservation))
        if limits.swappiness is not None:
            _write(f"{self._need('memory')}/memory.swappiness", str(limits.swappiness))
        if limits.oom_kill_disable:
            _write(f"{self._need('memory')}/memory.oom_control", "1")
        if limits.cpuset:
            self._set_cpuset(limits)
        if limits.cpu_shares or limits.cpu_period or limits.cpu_quota:
            _cpu_v1(self._need("cpu"), limits)
        if limits.pids is not None:
            value = "max" if limits.pids <= 0 else str(limits.pids)
            _write(f"{self._need('pids')}/pids.max", value)
        if limits.blkio_weight or limits.blkio_devices:
            _blkio_v1(self._need("blkio"), limits)

    def _set_cpuset(self, limits: Limits) -> None:
        """Write the cpuset, making its cgroup if need be, which then takes the container's
        tasks (an embryo at its start, every process at a ``docker update``; a cloned init
        joins it itself)."""
        if self.cpuset is None:
            raise Unavailable("cgroup v1 controller 'cpuset' is not mounted "
                              "(mount it under /sys/fs/cgroup/cpuset)")
        _cpuset_dirs(self.cpuset, self.hier.v1["cpuset"])
        for name, value in (("cpus", limits.cpuset_cpus), ("mems", limits.cpuset_mems)):
            if value:
                _write(f"{self.cpuset}/cpuset.{name}", value)
        _adopt(self.pids, f"{self.cpuset}/cgroup.procs")
        self.in_cpuset = True

    def join(self, pid: int = 0) -> None:
        for path in self.paths:
            _write(f"{path}/cgroup.procs", str(pid))
        if self.in_cpuset:
            _write(f"{self.cpuset}/cgroup.procs", str(pid))

    def oom_killed(self) -> bool:
        mem = self.dirs.get("memory")
        return bool(mem) and _counter(_read(f"{mem}/memory.oom_control"), "oom_kill") > 0

    def pids(self) -> list[int]:
        return sorted({int(p) for path in self.paths
                       for p in _read(f"{path}/cgroup.procs").split()})

    def memory_usage(self) -> int | None:
        return _int_or_none(_read(f"{self.dirs.get('memory', '/-')}/memory.usage_in_bytes"))

    def stats(self) -> Stats:
        limit = _int_or_none(_read(f"{self.dirs.get('memory', '/-')}/memory.limit_in_bytes"))
        return Stats(self.memory_usage(), limit if limit and limit < 1 << 62 else None,
                     _int_or_none(_read(f"{self.dirs.get('cpuacct', '/-')}/cpuacct.usage")),
                     _int_or_none(_read(f"{self.dirs.get('pids', '/-')}/pids.current")))

    def freeze(self, frozen: bool) -> None:
        """Pause/unpause with the v1 freezer (FREEZING settles into FROZEN)."""
        state = f"{self._need('freezer')}/freezer.state"
        _write(state, "FROZEN" if frozen else "THAWED")
        _wait_state(state, "FROZEN" if frozen else "THAWED")

    def remove(self) -> None:
        for path in {*self.paths, *self.others, *([self.cpuset] if self.cpuset else [])}:
            _rmdir(path, "cgroup.procs")


def _memory_v1(path: str, memory: int | None, swap: int | None) -> None:
    """The memory limit and the memory+swap bound, as runc 1.1 writes them (its
    ``setMemoryAndSwap``): the kernel wants memory+swap at least as high as memory, so with
    both given the bound goes first when it is unlimited or above the memory limit in place,
    else after it; a bound where the kernel accounts no swap is not written."""
    limit, memsw = f"{path}/memory.limit_in_bytes", f"{path}/memory.memsw.limit_in_bytes"
    writes = [(limit, memory), (memsw, swap if os.path.exists(memsw) else None)]
    if memory and swap and (swap == -1 or (_int_or_none(_read(limit)) or 0) < swap):
        writes.reverse()
    for name, value in writes:
        if value:
            _write(name, str(value))


def _cpu_v1(path: str, limits: Limits) -> None:
    """runc 1.1's v1 cpu settings, in its order: the shares, read back — the kernel clamps
    them to 2..262144, which runc refuses in its words ("the minimum allowed cpu-shares is
    2"), the value written staying —, then the period, then the quota (a period the kernel
    refuses beside a quota is tried again after the quota)."""
    if limits.cpu_shares:
        _write(f"{path}/cpu.shares", str(limits.cpu_shares))
        kept = _int_or_none(_read(f"{path}/cpu.shares"))
        if kept is not None and kept != limits.cpu_shares:
            bound = "maximum" if limits.cpu_shares > kept else "minimum"
            raise OSError(errno.EINVAL, f"the {bound} allowed cpu-shares is {kept}")
    period = f"{path}/cpu.cfs_period_us"
    retry = False
    if limits.cpu_period:
        try:
            _write(period, str(limits.cpu_period))
        except OSError as exc:
            if exc.errno != errno.EINVAL or not limits.cpu_quota:
                raise
            retry = True
    if limits.cpu_quota:
        _write(f"{path}/cpu.cfs_quota_us", str(limits.cpu_quota))
        if retry:
            _write(period, str(limits.cpu_period))


def _blkio_v1(path: str, limits: Limits) -> None:
    """Weights and throttles as runc writes them (v1): ``blkio.weight`` where the kernel has
    it, else BFQ's ``blkio.bfq.weight`` (this kernel's, in a child cgroup only — so dockerd's
    sysinfo, reading the root, says neither and the weights are dropped at create); one
    ``MAJ:MIN VALUE`` line per device. A refusal reads as runc's at the start ("error setting
    cgroup config for procHooks process"): the kernel's ENODEV for a node that is not a
    block device."""
    weight = "blkio.weight" if os.path.exists(f"{path}/blkio.weight") else "blkio.bfq.weight"
    if limits.blkio_weight:  # also docker update's: worded as any of its refusals
        _write(f"{path}/{weight}", str(limits.blkio_weight))
    writes = [(f"{weight}_device", f"{major}:{minor} {value}")
              for major, minor, value in limits.blkio_devices.get("weight", []) if value]
    writes += [(f"blkio.throttle.{name}_device", f"{major}:{minor} {value}")
               for name in BLKIO_THROTTLES
               for major, minor, value in limits.blkio_devices.get(name, [])]
    for name, value in writes:  # a start's only
        _write_prochooks(f"{path}/{name}", value)


def _rt_sched(path: str, limits: Limits) -> None:
    """``--cpu-rt-period`` then ``--cpu-rt-runtime``, as runc's v1 cpu controller writes them
    when it applies the cgroup (the period as an unsigned number): the kernel refuses a
    runtime its parent's does not leave room for (dockerd's own parent, as dockyard's, has
    none unless given some), which fails the start in runc's words."""
    writes = [("cpu.rt_period_us", str(limits.cpu_rt_period % (1 << 64)) if limits.cpu_rt_period else ""),
              ("cpu.rt_runtime_us", str(limits.cpu_rt_runtime) if limits.cpu_rt_runtime else "")]
    for name, value in writes:
        if not value:
            continue
        try:
            _write(f"{path}/{name}", value)
        except OSError as exc:
            raise OSError(exc.errno, f"{_START_FAILED}unable to apply cgroup configuration: "
                                     f"{exc.strerror}: unknown") from None


_START_FAILED: Final = ("failed to create shim task: OCI runtime create failed: runc create "
                       "failed: unable to start container process: ")


def _prochooks(exc: OSError) -> OSError:
    """A refusal when runc sets a new container's cgroup, in dockerd's whole words (the start
    fails with them, exit 128); one already in whole words (the real-time settings, which
    runc writes earlier) as it is."""
    if (exc.strerror or "").startswith(_START_FAILED):
        return exc
    return OSError(exc.errno, f"{_START_FAILED}error during container init: error setting "
                              f"cgroup config for procHooks process: {exc.strerror}: unknown")


def _write_prochooks(path: str, value: str) -> None:
    """:func:`_write`, a refusal in :func:`_prochooks`' words."""
    try:
        _write(path, value)
    except OSError as exc:
        raise _prochooks(exc) from None


def _io_v2(path: str, limits: Limits) -> None:
    """Weights and throttles as runc writes them on v2: a weight to BFQ's ``io.bfq.weight``
    when the kernel has it, else to ``io.weight`` converted from blkio's 10..1000 to
    1..10000; device weights only to BFQ's (``MAJ:MIN W`` lines); throttles as ``io.max``
    lines, one key each (``MAJ:MIN rbps=N``)."""
    bfq = os.path.exists(f"{path}/io.bfq.weight")
    if limits.blkio_weight:
        if bfq:
            _write(f"{path}/io.bfq.weight", str(limits.blkio_weight))
        else:
            _write(f"{path}/io.weight", str(1 + (limits.blkio_weight - 10) * 9999 // 990))
    for major, minor, value in limits.blkio_devices.get("weight", []) if bfq else []:
        _write_prochooks(f"{path}/io.bfq.weight", f"{major}:{minor} {value}")
    for name, key in BLKIO_THROTTLES.items():
        for major, minor, value in limits.blkio_devices.get(name, []):
            _write_prochooks(f"{path}/io.max", f"{major}:{minor} {key}={value}")


def _cpuset_dirs(path: str, root: str) -> None:
    """Make ``path`` and its ancestors below ``root`` in a v1 cpuset hierarchy, each given
    its parent's CPUs and memory nodes where it has none (no task may join it then): a level
    another start made a moment ago may not have them yet."""
    parent = os.path.dirname(path)
    if parent != root:
        _cpuset_dirs(parent, root)
    try:
        os.mkdir(path)
    except FileExistsError:
        pass
    for name in ("cpuset.cpus", "cpuset.mems"):
        if not _read(f"{path}/{name}").strip():
            _write(f"{path}/{name}", _read(f"{parent}/{name}").strip())


class CgroupV2:
    """One directory in the unified hierarchy; controllers must be enabled in every ancestor.
    The device rules are an eBPF program attached to it (:mod:`dockyard.linux.devicebpf`),
    in place when :meth:`create` returns, so before any task of the container joins."""

    def __init__(self, container_id: str, hier: Hierarchies, parent: str = DEFAULT_PARENT) -> None:
        assert hier.v2 is not None
        self.root = hier.v2
        self.available = hier.v2_controllers
        self.parent = _below(hier.v2, parent)
        self.path = os.path.join(self.parent, container_id)
        self.paths = [self.path]
        self.devices: list[str] | None = None  # the device rules installed here, when known

    def _need(self, controller: str) -> None:
        if controller not in self.available:
            listed = " ".join(sorted(self.available)) or "nothing"
            raise Unavailable(f"cgroup v2 controller {controller!r} is not available in "
                              f"{self.root} (its cgroup.controllers lists {listed}); "
                              "boot with systemd.unified_cgroup_hierarchy=1 or release it from v1")

    def create(self, limits: Limits) -> None:
        wanted = self._wanted(limits)
        for name in wanted:
            self._need(name)
        os.makedirs(self.parent, exist_ok=True)
        self._enable(set(V2_CONTROLLERS) | set(wanted))
        os.makedirs(self.path, exist_ok=True)
        self.apply(limits)

    def _enable(self, controllers: set[str]) -> None:
        """Let the container's cgroup use ``controllers`` (those this host has)."""
        enable = " ".join(f"+{c}" for c in sorted(controllers & self.available))
        if enable:
            levels = [self.root]  # and each one down to the parent (``--cgroup-parent a/b``)
            rel = os.path.relpath(self.parent, self.root)
            for name in rel.split("/") if rel != "." else []:
                levels.append(os.path.join(levels[-1], name))
            for level in levels:
                _write(f"{level}/cgroup.subtree_control", enable)

    def apply(self, limits: Limits) -> None:
        """Write ``limits``; on failure the cgroup is removed (killing what is in it)."""
        try:
            self._apply(limits)
        except BaseException:
            self.remove()
            raise

    def update(self, limits: Limits) -> None:
        """``docker update`` of a running container (a refused value changes nothing); a
        cpuset given the first time needs its controller enabled above the container."""
        if limits.cpuset and not os.path.exists(f"{self.path}/cpuset.cpus"):
            self._need("cpuset")
            self._enable({"cpuset"})
        self._apply(replace(limits, devices=None))  # dockerd updates no device rules

    @staticmethod
    def _wanted(limits: Limits) -> list[str]:
        memory = limits.memory is not None or limits.memory_reservation is not None
        wanted = ["memory"] if memory else []
        if limits.cpu_quota is not None or limits.cpu_shares or limits.cpu_period is not None:
            wanted.append("cpu")
        return wanted + (["pids"] if limits.pids is not None else []) + \
            (["cpuset"] if limits.cpuset else []) + \
            (["io"] if limits.blkio_weight or limits.blkio_devices else [])

    def _apply(self, limits: Limits) -> None:
        if limits.devices is not None and limits.devices != self.devices:
            from . import devicebpf  # v2 only: not in a v1 host's launcher image
            devicebpf.install(self.path, limits.devices)  # before any task of the container runs
            self.devices = list(limits.devices)
        if limits.memory is not None:
            _write(f"{self.path}/memory.max", str(limits.memory))
        swap = limits.memory_swap
        if swap is not None and (swap == -1 or limits.memory is not None) and \
                os.path.exists(f"{self.path}/memory.swap.max"):  # v2 limits swap alone
            _write(f"{self.path}/memory.swap.max",
                   "max" if swap == -1 else str(max(swap - (limits.memory or 0), 0)))
        if limits.memory_reservation is not None:  # runc's v2 conversion: the soft limit
            _write(f"{self.path}/memory.low", str(limits.memory_reservation))
        for name, value in (("cpus", limits.cpuset_cpus), ("mems", limits.cpuset_mems)):
            if value:
                _write(f"{self.path}/cpuset.{name}", value)
        if limits.cpu_quota or limits.cpu_period:  # runc's: no period keeps the one in place
            quota = str(limits.cpu_quota) if limits.cpu_quota and limits.cpu_quota > 0 else "max"
            period = f" {limits.cpu_period}" if limits.cpu_period else ""
            _write(f"{self.path}/cpu.max", f"{quota}{period}")
        if limits.cpu_shares:
            weight = 1 + ((max(limits.cpu_shares, 2) - 2) * 9999) // 262142
            _write(f"{self.path}/cpu.weight", str(weight))
        if limits.pids is not None:
            _write(f"{self.path}/pids.max", "max" if limits.pids <= 0 else str(limits.pids))
        if limits.blkio_weight or limits.blkio_devices:
            _io_v2(self.path, limits)

    def join(self, pid: int = 0) -> None:
        _write(f"{self.path}/cgroup.procs", str(pid))

    def oom_killed(self) -> bool:
        return _counter(_read(f"{self.path}/memory.events"), "oom_kill") > 0

    def pids(self) -> list[int]:
        return sorted(int(p) for p in _read(f"{self.path}/cgroup.procs").split())

    def memory_usage(self) -> int | None:
        return _int_or_none(_read(f"{self.path}/memory.current"))

    def stats(self) -> Stats:
        usage = _counter(_read(f"{self.path}/cpu.stat"), "usage_usec")
        return Stats(self.memory_usage(), _int_or_none(_read(f"{self.path}/memory.max")),
                     usage * 1000 if usage else None,
                     _int_or_none(_read(f"{self.path}/pids.current")))

    def freeze(self, frozen: bool) -> None:
        """Pause/unpause through ``cgroup.freeze``; ``cgroup.events`` says when it took."""
        _write(f"{self.path}/cgroup.freeze", "1" if frozen else "0")
        deadline = time.monotonic() + 5
        while _counter(_read(f"{self.path}/cgroup.events"), "frozen") != int(frozen):
            if time.monotonic() > deadline:
                raise Unavailable(f"{self.path} did not {'freeze' if frozen else 'thaw'} in 5 s")
            time.sleep(0.001)

    def remove(self) -> None:
        if os.path.exists(f"{self.path}/cgroup.kill") and self.pids():
            _write(f"{self.path}/cgroup.kill", "1")
        _rmdir(self.path, "cgroup.procs")


def _below(root: str, *parts: str) -> str:
    """``parts`` joined below a hierarchy's ``root``: a parent written ``/X`` (dockerd's form of
    an absolute one) is from the root too, never from ``/`` itself."""
    return os.path.join(root, *(p.strip("/") for p in parts if p.strip("/")))


def parent_in(parent: Parent, controller: str) -> str:
    """``parent``'s path in ``controller``'s v1 hierarchy."""
    return parent if isinstance(parent, str) else parent.get(controller, "/")


def resolve_parent(parent: str, own: str = "/proc/self/cgroup",
                   hier: Hierarchies | None = None) -> Parent:
    """A ``--cgroup-parent`` placed as runc places it under dockerd's cgroupfs driver, from
    the hierarchies' root: ``/X`` from the root; ``X`` below the daemon's own cgroup (``own``;
    its launcher, which makes the cgroups, is its child and stays there) — on v2 below that
    cgroup's parent (runc: the own one holds tasks, so no controller could be enabled below
    it), on v1 below the daemon's path in each hierarchy, which may differ from one to another
    (then one path per hierarchy, named ones and a hybrid host's v2 one — key ``""`` —
    included; one path where they agree). ``X`` is cleaned on its own first, as runc's
    ``CleanPath``: its ``..`` never climb above the daemon's cgroup (dockerd 20.10 here:
    ``../../p`` is ``<own>/p``)."""
    if parent.startswith("/"):
        return os.path.normpath(parent)
    parent = os.path.normpath("/" + parent).lstrip("/")
    hier = hier or detected()
    paths = {}
    with open(own, encoding="utf-8") as f:
        for line in f:
            _num, controllers, path = line.rstrip("\n").split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                paths[name] = path

    def below(base: str) -> str:
        return os.path.normpath(os.path.join("/", base.lstrip("/"), parent))

    if hier.mode == "v2":
        return below(os.path.dirname(paths.get("", "/")))
    named = [c for c in hier.v1 if c.startswith("name=") or c in V1_UNLIMITED]
    each = {c: below(paths.get(c, "/"))
            for c in (*V1_CONTROLLERS, "cpuset", *named, *([""] if hier.v2 else []))}
    return each.popitem()[1] if len(set(each.values())) == 1 else each


def for_container(container_id: str, hier: Hierarchies | None = None,
                  parent: Parent = DEFAULT_PARENT, mode: str | None = None,
                  everywhere: bool = False) -> Cgroup | None:
    """The cgroup a container with this id uses on this host (``None`` when none is usable).

    ``mode`` forces ``"v1"`` or ``"v2"`` (tests run both drivers on a hybrid host);
    ``everywhere``: see :class:`CgroupV1` (v2 has one hierarchy)."""
    hier = hier or detected()
    mode = mode or hier.mode
    if mode == "v1":
        return CgroupV1(container_id, hier, parent, everywhere)
    if mode == "v2" and hier.v2 is not None:
        return CgroupV2(container_id, hier, parent_in(parent, "memory"))
    return None
