"""What the runtime needs to start one container — already resolved (users, capabilities'
inputs, layer paths), so starting it needs no image store and no policy decisions.

It crosses a process boundary (caller → launcher helper) as JSON: ``to_json``/``from_json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, Final

from ..errors import InvalidArgument
from ..linux.cgroups import Limits
from ..linux.idmap import UserNamespace

DEFAULT_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Docker's defaults (moby oci/defaults.go): hidden behind /dev/null or an empty read-only tmpfs…
MASKED_PATHS: Final = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)
# …and made read-only.
READONLY_PATHS: Final = (
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
)


@dataclass
class Mount:
    """A ``--mount``: ``type`` is ``bind`` or ``tmpfs``; ``options`` are tmpfs data
    (``size=64m``, ``mode=1777``) or bind propagation/recursion (``rbind`` is the default)."""

    type: str
    target: str
    source: str = ""
    read_only: bool = False
    options: list[str] = field(default_factory=list)
    subpath: str = ""              # a volume's VolumeOptions.Subpath (the launcher opens it)
    implied: bool = False
    """A bind's ``rslave`` that dockerd gives a source in its root unasked
    (``volumes.parse.check_daemon_root``): where the source's mount is neither shared nor a
    slave, the start falls back to private (``volumes.propagation``) instead of refusing."""


@dataclass
class User:
    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)


@dataclass
class ContainerSpec:
    id: str
    lower_dirs: list[str]                  # unpacked layer dirs, lowest first
    upper_dir: str
    work_dir: str
    args: list[str]
    rootfs_dir: str = ""                   # overlay mountpoint; default: <upper>/../merged
    env: list[str] = field(default_factory=lambda: [f"PATH={DEFAULT_PATH}"])
    cwd: str = "/"
    user: User = field(default_factory=User)
    hostname: str = ""
    domainname: str = ""                   # the UTS namespace's NIS domain (--domainname)
    sysctls: dict[str, str] = field(default_factory=dict)  # --sysctl (linux.sysctls)
    rlimits: list[list[int]] = field(default_factory=list)  # [RLIMIT_*, soft, hard] (--ulimit)
    oom_score_adj: int = 0                 # --oom-score-adj (written, 0 too: linux.child)
    read_only: bool = False
    masked_paths: list[str] = field(default_factory=lambda: list(MASKED_PATHS))
    readonly_paths: list[str] = field(default_factory=lambda: list(READONLY_PATHS))
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    no_new_privs: bool = False
    seccomp: str = ""                      # linux.seccomp.program_for: "", "default:<caps>", "bpf:…"
    mounts: list[Mount] = field(default_factory=list)
    rootfs_propagation: str = ""
    """The propagation of the container's root mount (the OCI spec's ``rootfsPropagation``, as
    dockerd sets it from its binds': ``volumes.propagation``): "" is runc's ``rslave``."""
    network: str = "none"                  # "none" (new netns), "host", or a netns path to join
    netns_pin: str = ""
    """With ``network`` "none" and a remapped ``userns``: where the launcher pins the init's new
    network namespace — made by its clone, so the container's user namespace owns it, as runc
    makes it (its root then has CAP_NET_RAW/CAP_NET_ADMIN there) — for the daemon to wire
    (veth, addresses, routes) before the init goes on (``linux.remapstart.release``)."""
    pid_ns: str = ""
    """The PID namespace (``--pid``): "" one of its own, "host", or a path to join
    (``/proc/<pid>/ns/pid``: ``container:x``). ``ipc_ns`` likewise (``--ipc``)."""
    ipc_ns: str = ""
    uts_ns: str = ""                       # "" one of its own, or "host" (no hostname set)
    shm: str = ""
    """/dev/shm: "" a tmpfs of its own, "none" none (``--ipc none``), else the path bound
    there (``containers.nsmodes``: the host's, a shareable container's)."""
    limits: Limits = field(default_factory=Limits)
    userns: UserNamespace | None = None    # rootless / --userns-remap (who maps: its doc)
    userns_join: str = ""
    """A remapped container on another's network (``container:``) or a remapped or rootless
    one in another's PID or IPC namespace (``--pid``/``--ipc container:``): that container's
    user namespace (``/proc/<pid>/ns/user``), joined instead of a new one, as dockerd has runc
    do — to share a network, PID or IPC namespace they share the user namespace that owns it,
    whose root has its capabilities there (``linux.namespaces.clone_in``); its maps are that
    namespace's."""
    cgroup_parent: str | dict[str, str] = "dockyard"  # from the root; v1: maybe per controller
    cgroupns: str = "private"              # "host": no cgroup namespace of its own (no embryo)
    die_with_parent: bool = True           # SIGKILL the init if its launcher dies
    tty: bool = False                      # a pty from the container's devpts as stdio + console
    log_rotation: list[int] = field(default_factory=list)
    """The shim's log: ``[max_size, max_files, compress, local]`` (``logfile.RotatingLog``);
    empty: one file that grows (json-file without ``max-size``)."""
    log_delivery: dict[str, Any] = field(default_factory=dict)
    """A log driver that delivers (syslog, gelf, fluentd): its settings, resolved at the start
    (``logopts.delivery``), for the shim's ``logdrivers.Delivery``; empty for the others."""

    @property
    def own_namespaces(self) -> bool:
        """PID, IPC and UTS namespaces and a /dev/shm of its own, as an embryo has them (a
        spec sharing one starts by a clone)."""
        return not (self.pid_ns or self.ipc_ns or self.uts_ns or self.shm)

    def validate(self) -> None:
        """Reject specs the kernel would reject later with a less clear message."""
        if not self.args:
            raise InvalidArgument("No command specified")
        if not self.lower_dirs:
            raise InvalidArgument("a container needs at least one image layer")
        for path in [*self.lower_dirs, self.upper_dir, self.work_dir, self.cwd]:
            if not path.startswith("/"):
                raise InvalidArgument(f"path {path!r} is not absolute")
        for m in self.mounts:
            if m.type not in ("bind", "tmpfs"):
                raise InvalidArgument(f"mount type {m.type!r} is not supported")
            if not m.target.startswith("/"):
                raise InvalidArgument(f"invalid mount config for type \"{m.type}\": "
                                      f"invalid mount path: '{m.target}' mount path must be absolute")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a JSON message (what ``from_dict`` takes back): ``asdict``'s result
        without its deep copy of every string (~0.5 ms of a start's daemon time here)."""
        return _plain(self)  # type: ignore[no-any-return]

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> ContainerSpec:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContainerSpec:
        data = dict(data)
        data["user"] = User(**data.get("user", {}))
        data["limits"] = Limits(**data.get("limits", {}))
        data["mounts"] = [Mount(**m) for m in data.get("mounts", [])]
        if data.get("userns") is not None:
            ns = data["userns"]
            data["userns"] = UserNamespace([(a, b, c) for a, b, c in ns["uid_map"]],
                                           [(a, b, c) for a, b, c in ns["gid_map"]],
                                           ns["use_helpers"], ns.get("by_parent", False))
        return cls(**data)


_LEAVES: Final = (str, int, float, bool, type(None))
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def field_names(value: Any) -> tuple[str, ...]:
    """A dataclass instance's field names, looked up once per type: what turns a spec (here)
    or a network record (``network.state``) into a plain dict without ``asdict``'s copies."""
    names = _FIELD_NAMES.get(type(value))
    if names is None:
        names = _FIELD_NAMES[type(value)] = tuple(f.name for f in fields(value))
    return names


def _plain(value: Any) -> Any:
    """``dataclasses.asdict`` for what a spec holds: dataclasses become dicts, lists and
    tuples are copied, leaves (immutable) are shared."""
    if isinstance(value, _LEAVES):
        return value
    if isinstance(value, list):
        return [v if isinstance(v, _LEAVES) else _plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return {name: _plain(getattr(value, name)) for name in field_names(value)}
