"""``POST /containers/create`` semantics as dockerd applies them: the request's Config merged
with the image's, HostConfig defaults and dockerd's validation wording, container names, and the
:class:`~dockyard.containers.spec.ContainerSpec` a start needs.

Pure functions (no engine, no I/O except the user lookup in the image's files and, for a
cpuset, the host's CPUs), so the rules can be read and tested in one place.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import stat
from pathlib import Path
from typing import Any, Final, cast

from .. import gojson, gosignal
from ..build.syntax import strip_space
from ..config import DEFAULT_SHM_SIZE, DaemonConfig
from ..distribution.manifests import serves
from ..errors import Conflict, DockyardError, InvalidArgument, NotFound
from ..gostrconv import atoi as go_atoi
from ..gostrconv import quote as go_quote
from ..linux import capabilities, cgroups, syscalls, users
from ..linux.cgroups import Limits
from ..network import ports
from ..oci.platform import Platform
from ..volumes import parse as mountspec
from . import health, logopts, unsupported
from .spec import DEFAULT_PATH, MASKED_PATHS, READONLY_PATHS, ContainerSpec, Mount, User

# \Z where Go's regexp has $: Python's $ also takes a trailing newline
NAME_RE: Final = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")
RESTART_POLICIES: Final = ("", "no", "always", "on-failure", "unless-stopped")
_DAEMON_DEFAULTS: Final = DaemonConfig(data_root=Path("/"), hosts=[])  # a daemon started without any

# Generated names are "<adjective>_<surname>" as dockerd makes them (lists are our own).
_ADJECTIVES: Final = (
    "agile", "bold", "brave", "bright", "calm", "clever", "cool", "crisp", "eager", "fair",
    "fancy", "gentle", "happy", "keen", "kind", "lively", "lucid", "merry", "modest", "neat",
    "nimble", "noble", "patient", "placid", "proud", "quick", "quiet", "serene", "sharp",
    "shy", "silent", "sleek", "steady", "sunny", "swift", "tender", "tidy", "vivid", "warm",
    "witty", "zealous",
)
_SURNAMES: Final = (
    "babbage", "bohr", "curie", "darwin", "dijkstra", "einstein", "euler", "faraday",
    "fermat", "feynman", "gauss", "goodall", "hamilton", "hopper", "hypatia", "kepler",
    "knuth", "lamarr", "leakey", "lovelace", "maxwell", "meitner", "mendel", "newton",
    "noether", "pascal", "pasteur", "planck", "ritchie", "shannon", "tesla", "thompson",
    "torvalds", "turing", "volta", "wozniak", "yalow",
)


def generate_name(taken: set[str]) -> str:
    """A free "/adjective_surname" (a digit is appended after collisions, as dockerd)."""
    for attempt in range(100):
        name = f"/{random.choice(_ADJECTIVES)}_{random.choice(_SURNAMES)}"
        if attempt >= 10:
            name += str(random.randint(0, 9))
        if name not in taken:
            return name
    raise InvalidArgument("could not generate a container name")


def check_name(name: str) -> str:
    """``"/name"`` for a valid requested name, else dockerd's 400."""
    if not NAME_RE.match(name):
        raise InvalidArgument(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] "
                              "are allowed")
    return name if name.startswith("/") else "/" + name


# ---- Config ----------------------------------------------------------------------------------


def _env_merge(image_env: list[str], env: list[str]) -> list[str]:
    """The request's variables first, then the image's it does not name (dockerd's order; a
    bare ``NAME``, sent for ``-e NAME`` when the client has no such variable, names one too)."""
    named = {item.partition("=")[0] for item in env}
    return [*env, *(item for item in image_env if item.partition("=")[0] not in named)]


def process_env(env: list[str]) -> list[str]:
    """What the process gets from Config.Env: a bare ``NAME`` unsets NAME and is dropped, as
    dockerd's ReplaceOrAppendEnvValues does; a later ``NAME=v`` replaces an earlier one."""
    merged: dict[str, str | None] = {}
    for item in env:
        key, eq, _ = item.partition("=")
        merged.pop(key, None)
        merged[key] = item if eq else None
    return [item for item in merged.values() if item is not None]


def merged_env(defaults: list[str], env: list[str]) -> list[str]:
    """The process's variables as dockerd's CreateDaemonEnvironment orders them: its own
    (``defaults``: PATH, HOSTNAME, TERM, the links' — :func:`links.env`) first, a duplicate
    among them keeping its first place and last value (Go's setenv in runc), the container's
    replacing theirs in place (a bare ``NAME`` unsets one), the rest after."""
    last: dict[str, bool] = {}
    for item in env:
        key, eq, _ = item.partition("=")
        last[key] = bool(eq)
    merged = {item.partition("=")[0]: item for item in defaults}
    merged = {key: item for key, item in merged.items() if last.get(key, True)}
    merged.update((item.partition("=")[0], item) for item in process_env(env))
    return list(merged.values())


OMITEMPTY: Final = ("ArgsEscaped", "NetworkDisabled", "MacAddress", "StopSignal", "StopTimeout",
                    "Shell", "ExposedPorts", "Healthcheck")
"""The fields of Go's ``container.Config`` tagged ``omitempty``: dockerd's JSON leaves them
out when empty (a container's inspect, a committed image's config)."""
_POINTERS: Final = ("StopTimeout", "Healthcheck")  # empty only when nil: a 0 timeout shows


def go_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` as dockerd writes a ``container.Config``: its empty omitempty fields left out."""
    return {key: value for key, value in config.items()
            if key not in OMITEMPTY or (value is not None if key in _POINTERS else bool(value))}


def check_config(request: dict[str, Any]) -> None:
    """dockerd 20.10's ``validateContainerConfig`` of a create's own Config, before it looks
    the image up, in its order: the working directory, the stop signal, each ``Env`` entry (an
    empty name: ``=x`` or ""), the health check."""
    _check_working_dir(str(request.get("WorkingDir") or ""))
    parse_signal(request.get("StopSignal") or None)
    for entry in request.get("Env") or []:
        if not str(entry).partition("=")[0]:
            raise InvalidArgument(f"invalid environment variable: {entry}")
    health.validate(request.get("Healthcheck"))


def merge_config(request: dict[str, Any], image: dict[str, Any], image_name: str) -> dict[str, Any]:
    """The container's Config: the request's fields (checked: :func:`check_config`), the
    image's where the request is empty. An explicit Entrypoint drops the image's Cmd (Docker's
    rule)."""
    cfg = dict(request)
    cfg["Image"] = image_name
    cfg["Healthcheck"] = health.merge(request.get("Healthcheck"), image.get("Healthcheck"))
    if cfg["Healthcheck"] is None:
        del cfg["Healthcheck"]  # omitted, as dockerd's omitempty
    if not cfg.get("Entrypoint"):
        entrypoint = image.get("Entrypoint")
        cfg["Entrypoint"] = None if cfg.get("Entrypoint") == [] or not entrypoint \
            else list(entrypoint)
        if not cfg.get("Cmd"):
            cfg["Cmd"] = list(image["Cmd"]) if image.get("Cmd") else None
    cfg["Env"] = _env_merge(image.get("Env") or [], cfg.get("Env") or [])
    for key in ("WorkingDir", "User", "StopSignal"):
        cfg[key] = cfg.get(key) or image.get(key) or ""
    for key in ("Labels", "ExposedPorts", "Volumes"):
        merged = {**(image.get(key) or {}), **(cfg.get(key) or {})}
        cfg[key] = merged or ({} if key == "Labels" else None)
    for key in ("Tty", "OpenStdin", "StdinOnce", "AttachStdin", "AttachStdout", "AttachStderr"):
        cfg[key] = bool(cfg.get(key))
    cfg.setdefault("Domainname", "")
    cfg.setdefault("OnBuild", image.get("OnBuild"))
    if not command(cfg):
        raise InvalidArgument("No command specified")
    return cfg  # an image's relative WorkingDir is taken, as dockerd's: its start fails


RELATIVE_CWD: Final = ("failed to create shim task: OCI runtime create failed: runc create "
                       "failed: Cwd must be an absolute path: unknown")
"""runc 1.1's refusal of a relative working directory (an image's: a request's is refused at
create) through dockerd 20.10: each start fails so, exit code 128."""


def _check_working_dir(workdir: str) -> None:
    """dockerd's ``translateWorkingDir`` of a create's own: an absolute path, or none."""
    if workdir and not workdir.startswith("/"):
        raise InvalidArgument(f"the working directory '{workdir}' is invalid, it needs to be an "
                              "absolute path")


def command(cfg: dict[str, Any]) -> list[str]:
    """Entrypoint + Cmd; ``--entrypoint ""`` (sent as ``[""]``) is an explicit empty one."""
    entrypoint = cfg.get("Entrypoint") or []
    return [*(entrypoint if entrypoint != [""] else []), *(cfg.get("Cmd") or [])]


def parse_signal(value: str | int | None, default: int = signal.SIGTERM) -> int:
    """A create's ``StopSignal``, a kill's ``signal`` as dockerd 20.10 reads them
    (:func:`dockyard.gosignal.parse`: ``"SIGKILL"``, ``"kill"``, ``"9"``, ``"+9"`` or 9 → 9;
    ``"65"`` and ``"-1"`` too); dockerd's 400 otherwise. None or "": ``default``."""
    if value in (None, ""):
        return default
    try:
        return gosignal.parse(str(value))
    except ValueError as e:
        raise InvalidArgument(str(e)) from None


def parse_kill_signal(value: str | None) -> int:
    """A kill's ``signal``: any nonzero integer is taken (``99``, ``-1``), which numbers Linux
    has is checked later, after the container is found (:func:`unsupported_signal`). None or
    "": SIGKILL."""
    return parse_signal(value, signal.SIGKILL)


def unsupported_signal(number: int) -> str | None:
    """dockerd's words for a number that names no Linux signal (Go's SignalMap: 1–31 and the
    real-time 34–64), printed as the unsigned 64-bit number it passes on; None for one."""
    if 1 <= number <= 31 or 34 <= number <= 64:
        return None
    return f"The linux daemon does not support signal {number % (1 << 64)}"


# ---- HostConfig ------------------------------------------------------------------------------


def cgroup_v1_host() -> bool:
    """Whether the host has cgroup v1 hierarchies (legacy or hybrid, as this one): dockerd's
    "not unified", under which its cgroup namespace defaults differ."""
    return bool(cgroups.detected().v1)


def default_cgroupns(hc: dict[str, Any], daemon: DaemonConfig) -> str:
    """A container's cgroup namespace mode when its create names none, as dockerd 20.10 picks
    it: on a cgroup v1 host a privileged container shares the host's (whatever the daemon's
    default); otherwise ``--default-cgroupns-mode``."""
    if hc.get("Privileged") and cgroup_v1_host():
        return "host"
    return daemon.default_cgroupns_mode


def host_config_defaults(hc: dict[str, Any], daemon: DaemonConfig | None = None) -> dict[str, Any]:
    """``daemon``: its container defaults (``--default-shm-size``, ``--log-driver``/``--log-opt``,
    ``--default-ipc-mode``, ``--default-cgroupns-mode``), recorded as dockerd records them.
    ``--default-ulimit`` is not: see :func:`merged_ulimits`.

    As dockerd 20.10 keeps them: no (or an empty) NetworkMode is recorded as "default" — what
    the docker CLI and docker-py send — and shown so; whoever needs the network resolves it
    (``NetworkManager.mode``: the bridge, "none" when rootless). No RestartPolicy, or one
    without a name, is ``{"Name": "", …}`` (the docker CLI sends "no"); no PortBindings stay
    null (the docker CLI sends ``{}``), and each binding is Go's struct: ``HostIp`` and
    ``HostPort`` both, nothing else."""
    daemon = daemon or _DAEMON_DEFAULTS
    hc = dict(hc)
    hc["NetworkMode"] = hc.get("NetworkMode") or "default"
    policy = hc.get("RestartPolicy") or {}
    hc["RestartPolicy"] = {"Name": policy.get("Name") or "",
                           "MaximumRetryCount": policy.get("MaximumRetryCount") or 0}
    hc["LogConfig"] = _log_config(hc.get("LogConfig") or {}, daemon)
    for key in ("Memory", "NanoCpus", "CpuShares", "CpuQuota", "CpuPeriod", "MemorySwap"):
        hc[key] = hc.get(key) or 0
    for key in ("AutoRemove", "Privileged", "ReadonlyRootfs", "PublishAllPorts"):
        hc[key] = bool(hc.get(key))
    if (hc.get("PidsLimit") or 0) <= 0:
        hc["PidsLimit"] = None  # 0 and -1 mean unlimited: dockerd keeps no value
    hc.setdefault("Binds", None)
    hc.setdefault("CapAdd", None)
    hc.setdefault("CapDrop", None)
    hc["PortBindings"] = ports.go_port_map(hc.get("PortBindings"))  # Go's nat.PortMap
    hc["ShmSize"] = hc.get("ShmSize") or daemon.default_shm_size
    hc["Runtime"] = hc.get("Runtime") or unsupported.RUNTIMES[0]  # "": the daemon's default
    if not hc.get("StorageOpt"):
        hc.pop("StorageOpt", None)  # dockerd's omitempty
    hc.pop("InitPath", None)  # docker-py's init_path: no field of dockerd's HostConfig
    if hc.get("DeviceRequests"):  # each a whole DeviceRequest, as dockerd's struct shows it
        hc["DeviceRequests"] = [{"Driver": "", "Count": 0, "DeviceIDs": None, "Capabilities": None,
                                 "Options": None, **r} for r in hc["DeviceRequests"]]
    hc.setdefault("ConsoleSize", [0, 0])
    # the docker CLI sends "" for what it leaves to the daemon: dockerd fills in its defaults
    hc["IpcMode"] = hc.get("IpcMode") or daemon.default_ipc_mode
    hc["CgroupnsMode"] = hc.get("CgroupnsMode") or default_cgroupns(hc, daemon)  # build_spec's cgroupns
    if hc["Memory"] > 0 and hc["MemorySwap"] == 0:  # dockerd's default: swap as much as memory
        hc["MemorySwap"] = (hc["Memory"] * 2 + (1 << 63)) % (1 << 64) - (1 << 63)  # Go's int64
    if hc.get("MemorySwappiness") == -1:
        hc["MemorySwappiness"] = None  # the CLI's "unset"
    hc.setdefault("MemorySwappiness", None)
    if not hc["Privileged"]:
        if hc.get("MaskedPaths") is None:
            hc["MaskedPaths"] = list(MASKED_PATHS)
        if hc.get("ReadonlyPaths") is None:
            hc["ReadonlyPaths"] = list(READONLY_PATHS)
    return hc


def validate_host_config(hc: dict[str, Any], remap: Any = None) -> None:
    """dockerd's checks and wording for what we honour, made before it looks the image up
    (its ``verifyContainerSettings``), in its order: ``validateHostConfig``'s — AutoRemove
    beside a restart policy, the ``Mounts``, the extra hosts, the published ports, the restart
    policy, the capabilities — then its platform's: the resources, SHM size, OOM score, what
    the daemon's user namespace (``remap``) rules out (:func:`check_userns`), runtime,
    ``Tmpfs`` destinations, cgroup namespace mode. The log driver's and the security
    options' come after (:func:`check_after_image`); a ``Binds`` entry's when the mounts are
    registered."""
    _check_auto_remove(hc["RestartPolicy"], hc["AutoRemove"])
    for spec in hc.get("Mounts") or []:
        mountspec.check_mount(spec)
    for entry in hc.get("ExtraHosts") or []:
        check_extra_host(str(entry))
    ports.check_bindings(hc)
    _check_restart_policy(hc["RestartPolicy"])
    for key in ("CapAdd", "CapDrop"):
        try:
            capabilities.check_available(hc.get(key) or [])
        except InvalidArgument as exc:
            raise InvalidArgument(f"invalid {key}: {exc}") from None
    check_resources(hc)
    if (hc.get("ShmSize") or 0) < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    adj = hc.get("OomScoreAdj") or 0  # after the resources and the SHM size, as dockerd
    if not -1000 <= adj <= 1000:
        raise InvalidArgument(f"Invalid value {adj}, range for oom score adj is [-1000, 1000]")
    check_userns(hc, remap)
    unsupported.check_runtime(hc)
    for destination in hc.get("Tmpfs") or {}:
        mountspec.check_tmpfs_destination(str(destination))
    if hc.get("CgroupnsMode") not in ("host", "private"):  # "": the daemon's, filled in
        raise InvalidArgument(f"invalid cgroup namespace mode: {hc.get('CgroupnsMode')}")


def check_extra_host(entry: str) -> None:
    """An ``ExtraHosts`` entry as dockerd 20.10's ``opts.ValidateExtraHost`` reads it: split at
    its first colon, a name, then ``host-gateway`` or an address Go's ``net.ParseIP`` takes
    once Go's spaces are trimmed (no zone, no brackets; ``name=ip`` is the newer docker CLI's,
    which sends it as ``name:ip``); both refusals quote as Go's %q."""
    name, sep, address = entry.partition(":")
    if not sep or not name:
        raise InvalidArgument(f"bad format for add-host: {go_quote(entry)}")
    if address == "host-gateway":
        return
    try:
        ipaddress.ip_address(strip_space(address))
    except ValueError:
        valid = False
    else:
        valid = "%" not in address  # Go's net.ParseIP reads no zone
    if not valid:
        raise InvalidArgument(f"invalid IP address in add-host: {go_quote(address)}")


def check_after_image(hc: dict[str, Any]) -> None:
    """What dockerd 20.10 checks once it has the image: the log driver and its options
    (``mergeAndVerifyLogConfig``), then the security options (``parseSecurityOpt``)."""
    _check_log_config(hc["LogConfig"])
    security_opts(hc.get("SecurityOpt") or [])


def remapped(hc: dict[str, Any], remap: Any) -> bool:
    """Whether the container runs in the daemon's ``--userns-remap`` user namespace: every
    UsernsMode but "host" (dockerd 20.10 takes any other value, "private" or "foo", and
    remaps)."""
    return remap is not None and hc.get("UsernsMode") != "host"


def check_userns(hc: dict[str, Any], remap: Any) -> None:
    """dockerd's refusals, in its order and words, when its user namespace is in force
    (checked against dockerd 20.10 with ``--userns-remap=default``; IPC, UTS and cgroup
    namespace modes, capabilities and devices are taken)."""
    if not remapped(hc, remap):
        return
    if hc.get("Privileged"):
        raise InvalidArgument("privileged mode is incompatible with user namespaces.  You must run "
                              "the container in the host namespace when running privileged mode")
    if hc.get("NetworkMode") == "host":
        raise InvalidArgument("cannot share the host's network namespace when user namespaces are enabled")
    if hc.get("PidMode") == "host":
        raise InvalidArgument("cannot share the host PID namespace when user namespaces are enabled")


HOST_IPC_REMAPPED: Final = (
    'error during container init: error mounting "mqueue" to rootfs at "/dev/mqueue": mount '
    "mqueue:/dev/mqueue (via /proc/self/fd/10), flags: 0xe: operation not permitted")
"""runc 1.1's words, through dockerd 20.10, for a remapped ``--ipc host`` start (10: its fd)."""


def check_cwd_start(cfg: dict[str, Any]) -> None:
    """A start with a relative working directory fails as runc refuses its spec
    (:data:`RELATIVE_CWD`), before anything is made."""
    if not (cfg.get("WorkingDir") or "/").startswith("/"):
        from ..linux.launcher import StartFailed
        raise StartFailed(RELATIVE_CWD, "setup", 128)


def check_userns_start(hc: dict[str, Any]) -> None:
    """What dockerd 20.10 with ``--userns-remap`` takes at create and fails at every start
    (``hc`` is a remapped container's): ``--ipc host`` — runc mounts a /dev/mqueue of the
    host's IPC namespace from inside the container's user namespace, which the kernel refuses
    (EPERM). Failed here before anything is made, in dockerd's words, with its exit code 128
    (dockyard never joins the host's IPC namespace: the container would run with its own)."""
    if hc.get("IpcMode") == "host":
        from ..linux.launcher import StartFailed
        from .runtime import dockerd_start_error
        raise StartFailed(dockerd_start_error(HOST_IPC_REMAPPED), "setup", 128)


def security_opts(options: list[str]) -> tuple[str | None, bool]:
    """``SecurityOpt`` as dockerd's ``parseSecurityOpt`` reads it: the seccomp setting
    (None: the default profile; "unconfined"; a profile's JSON, which the docker CLI sends in
    place of the file's name) and no_new_privs; ``label=``/``apparmor=`` are taken and have no
    effect here (no SELinux or AppArmor), as on a host without them."""
    profile, no_new_privs = None, False
    for opt in options:
        if opt in ("no-new-privileges", "disable"):
            no_new_privs = no_new_privs or opt == "no-new-privileges"
            continue
        key, sep, value = opt.partition("=") if "=" in opt else opt.partition(":")
        if not sep:
            raise DockyardError(f'invalid --security-opt 1: "{opt}"')
        if key == "seccomp":  # "": the daemon's; "builtin" (current dockerd's name): the default
            profile = None if value == "" else value
        elif key == "no-new-privileges":
            try:
                no_new_privs = go_parse_bool(value)
            except ValueError:
                raise DockyardError(f'invalid --security-opt 2: "{opt}"') from None
        elif key not in ("label", "apparmor"):
            raise DockyardError(f'invalid --security-opt 2: "{opt}"')
    return profile, no_new_privs


def seccomp_setting(hc: dict[str, Any], daemon_profile: tuple[str, str] = ("", "")) -> str:
    """What the spec's ``seccomp`` says (``linux.seccomp.program_for``): nothing for
    ``--privileged`` or ``seccomp=unconfined``, else the default profile for the container's
    capabilities or the custom one compiled now — a profile dockerd or runc refuses fails the
    start, in their words, as under dockerd. ``daemon_profile``: ``--seccomp-profile`` as
    given and the file's content, for a container that names none."""
    from ..linux import seccomp
    profile, _nnp = security_opts(hc.get("SecurityOpt") or [])
    if profile is None and daemon_profile[0] not in ("", "builtin"):
        profile = seccomp.UNCONFINED if daemon_profile[0] == "unconfined" else daemon_profile[1]
    if profile == "builtin":
        profile = None
    if hc.get("Privileged") or profile == seccomp.UNCONFINED or not seccomp.supported():
        return ""
    caps = capabilities.resolve(hc.get("CapAdd") or [], hc.get("CapDrop") or [])
    mask = capabilities.mask(caps)
    if profile is None and mask == _DEFAULT_CAPS:  # compiled ahead in the launcher's image
        return f"{seccomp.DEFAULT}:{mask}"
    if profile is None:  # other capabilities: compiled here, once per set
        return seccomp.encode(seccomp.default_program(mask))
    return seccomp.encode(_custom_program(profile, tuple(caps)))


_DEFAULT_CAPS: Final = capabilities.mask(capabilities.DOCKER_DEFAULT)


@functools.lru_cache(maxsize=32)
def _custom_program(profile: str, caps: tuple[str, ...]) -> bytes | None:
    from ..linux import seccomp
    return seccomp.compile_profile(profile, caps)


def warnings(hc: dict[str, Any]) -> list[str]:
    """What dockerd's create answers beside the ID (the docker CLI prints "WARNING: …")."""
    out = []
    if hc.get("NetworkMode") == "host" and hc.get("PortBindings"):
        out.append("Published ports are discarded when using host network mode")
    return [*out, *unsupported.runtime_warnings(hc)]


OOM_UNLIMITED: Final = ("OOM killer is disabled for the container, but no memory limit is set, "
                        "this can result in the system running out of resources.")


# dockerd's built-in logging drivers, and the options its file drivers take
LOG_DRIVERS: Final = ("json-file", "local", "none", "syslog", "journald", "gelf", "fluentd",
                      "awslogs", "splunk", "gcplogs", "logentries")  # etwlogs: Windows only
_FILE_LOG_OPTS: Final = {
    "json-file": ("max-file", "max-size", "compress", "labels", "labels-regex", "env",
                  "env-regex", "tag"),
    "local": ("max-file", "max-size", "compress"),
}


def _log_config(config: dict[str, Any], daemon: DaemonConfig) -> dict[str, Any]:
    """dockerd's mergeAndVerifyLogConfig: no driver is the daemon's (``--log-driver``), and a
    container of the daemon's driver gets the daemon's ``--log-opt``s it does not set."""
    driver = config.get("Type") or daemon.log_driver
    options = dict(config.get("Config") or {})
    if driver == daemon.log_driver:
        options = {**daemon.log_opts, **options}
    return {**config, "Type": driver, "Config": options}


def _check_log_config(config: dict[str, Any]) -> None:
    driver = str(config.get("Type") or "json-file")
    if driver not in LOG_DRIVERS:
        raise InvalidArgument(f'error looking up logging plugin {driver}: plugin "{driver}" not found')
    check_log_opts(driver, config.get("Config") or {})


def check_log_opts(driver: str, options: dict[str, str]) -> None:
    """dockerd's ValidateLogOpts: ``mode``/``max-buffer-size`` for every driver, then the
    options a file driver knows, or a delivering driver's checks (``logopts.validate``);
    the cloud drivers' are taken as they are (those drivers fail the start)."""
    logopts.validate(driver, options)
    for key in options:
        if driver in _FILE_LOG_OPTS and key not in _FILE_LOG_OPTS[driver] \
                and key not in logopts.BUILTIN_OPTS:
            raise InvalidArgument(f"unknown log opt '{key}' for {driver} log driver")


def log_rotation(config: dict[str, Any]) -> list[int]:
    """``[max_size, max_files, compress, local]`` for the shim's writer, or ``[]`` when the log
    never rotates. dockerd 20.10 takes any value at create and refuses a bad one when its
    logger starts, so this runs at the start, with its words: a 500, exit code 128."""
    driver = config.get("Type") or "json-file"
    options = config.get("Config") or {}
    try:
        if driver == "local":
            return _local_rotation(options)
        if driver == "json-file" and "max-size" in options:
            return _json_file_rotation(options)
        if driver == "json-file":
            _json_file_rotation(options)  # max-file's and compress's checks
    except ValueError as exc:
        raise DockyardError(f"failed to initialize logging driver: {exc}") from None
    return []


def _json_file_rotation(options: dict[str, str]) -> list[int]:
    size = -1
    if "max-size" in options:
        size = from_human_size(options["max-size"])
        if size <= 0:
            raise ValueError("max-size must be a positive number")
    files = 1
    if "max-file" in options:
        files = go_atoi(options["max-file"])
        if files < 1:
            raise ValueError("max-file cannot be less than 1")
    compress = False
    if "compress" in options:
        compress = go_parse_bool(options["compress"])
        if compress and (files == 1 or size == -1):
            raise ValueError("compress cannot be true when max-file is less than 2 or "
                             "max-size is not set")
    return [size, files, compress, False]


def _local_rotation(options: dict[str, str]) -> list[int]:
    """The ``local`` driver: 20 MB, 5 files, compressed unless told otherwise."""
    size, files, compress = 20 * 1000 * 1000, 5, True
    if "max-size" in options:
        try:
            size = from_human_size(options["max-size"])
        except ValueError as exc:
            raise ValueError(f"invalid value for max-size: {options['max-size']}: {exc}") from None
    if "max-file" in options:
        try:
            files = go_atoi(options["max-file"])
        except ValueError as exc:
            raise ValueError(f"invalid value for max-file: {options['max-file']}: {exc}") from None
    if "compress" in options:
        try:
            compress = go_parse_bool(options["compress"])
        except ValueError as exc:
            raise ValueError(f"error reading compress log option: {exc}") from None
    if files < 0:
        raise ValueError("max file count cannot be less than 0")
    if compress and files <= 1:
        raise ValueError("compression cannot be enabled when max file count is 1")
    return [size, files, compress, True]


_HUMAN_SIZE: Final = re.compile(r"(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?")


def from_human_size(text: str) -> int:
    """go-units' ``FromHumanSize`` (decimal: ``1k`` and ``1KiB`` are 1000), which both of
    dockerd 20.10's file log drivers use for ``max-size``."""
    found = _HUMAN_SIZE.fullmatch(text)
    if found is None:
        raise ValueError(f"invalid size: '{text}'")
    number, unit = found.groups()
    if number.count(".") > 1:
        raise ValueError(f'strconv.ParseFloat: parsing "{number}": invalid syntax')
    return int(float(number) * 1000 ** ("kmgtp".index(unit.lower()) + 1 if unit else 0))


def go_parse_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``, with its error's words."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


def _check_auto_remove(policy: dict[str, Any], auto_remove: bool) -> None:
    """``validateHostConfig``'s first check: AutoRemove with a policy other than "" or "no"."""
    if auto_remove and (policy.get("Name") or "") not in ("", "no"):
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")


def _check_restart_policy(policy: dict[str, Any]) -> None:
    """dockerd 20.10's ``validateRestartPolicy``, in its order and words (a create's and an
    update's): a retry count only with on-failure, never negative ("" takes any), then the
    name."""
    name = policy.get("Name") or ""
    retries = int(policy.get("MaximumRetryCount") or 0)
    if name == "on-failure" and retries < 0:
        raise InvalidArgument("maximum retry count cannot be negative")
    if name in ("always", "unless-stopped", "no") and retries:
        raise InvalidArgument(f"maximum retry count cannot be used with restart policy '{name}'")
    if name not in RESTART_POLICIES:
        raise InvalidArgument(f"invalid restart policy '{name}'")


def check_platform(image: str, image_config: dict[str, Any], wanted: Platform) -> None:
    """A create's ``platform`` against the image's (dockerd's 404: the docker CLI's
    ``--pull missing`` then pulls that platform's image)."""
    actual = Platform(str(image_config.get("os") or ""), str(image_config.get("architecture") or ""),
                      str(image_config.get("variant") or ""))
    if not serves(wanted, actual):
        raise NotFound(f"image with reference {image} was found but does not match the specified "
                       f"platform: wanted {wanted}, actual: {actual}")


# what dockerd discards, with a warning, where the host's cgroups lack it (its sysinfo):
# the key, the feature (``cgroups.supported``; "": never there), the value it keeps instead
# (_KEPT: the value given, only warned of), the warning
_KEPT: Final = object()
_DISCARDABLE: Final[tuple[tuple[str, str, Any, str], ...]] = (
    ("MemorySwappiness", "swappiness", None,
     ("Your kernel does not support memory swappiness capabilities or the cgroup is not "
      "mounted. Memory swappiness discarded.")),
    ("MemoryReservation", "reservation", 0,
     ("Your kernel does not support memory soft limit capabilities or the cgroup is not "
      "mounted. Limitation discarded.")),
    # kept and shown, with no effect: runc 1.1 writes no kernel memory limit (nor dockyard)
    ("KernelMemory", "", _KEPT,
     "Specifying a kernel memory limit is deprecated and will be removed in a future release."),
    ("KernelMemory", "kmem", 0,
     ("Your kernel does not support kernel memory limit capabilities or the cgroup is not "
      "mounted. Limitation discarded.")),
    ("OomKillDisable", "oom_kill_disable", False,
     "Your kernel does not support OomKillDisable. OomKillDisable discarded."),
    ("CpuPercent", "", 0, "linux does not support CPU percent. Percent discarded."),  # Windows'
    ("BlkioWeight", "blkio_weight", 0,
     ("Your kernel does not support Block I/O weight or the cgroup is not mounted. "
      "Weight discarded.")),
    ("BlkioWeightDevice", "blkio_weight_device", [],
     ("Your kernel does not support Block I/O weight_device or the cgroup is not mounted. "
      "Weight-device discarded.")),
    *((key, f"blkio_{name}", [], (f"Your kernel does not support {what} or the cgroup is not "
       f"mounted. Block I/O {short} discarded."))
      for key, name, what, short in (
          ("BlkioDeviceReadBps", "read_bps", "BPS Block I/O read limit", "BPS read limit"),
          ("BlkioDeviceWriteBps", "write_bps", "BPS Block I/O write limit", "BPS write limit"),
          ("BlkioDeviceReadIOps", "read_iops", "IOPS Block read limit", "IOPS read limit"),
          ("BlkioDeviceWriteIOps", "write_iops", "IOPS Block write limit", "IOPS write limit"))),
)
# the per-device block I/O settings: the key, its value's field, where it goes (Limits.blkio_devices)
_BLKIO_DEVICES: Final = (("BlkioWeightDevice", "Weight", "weight"),
                         ("BlkioDeviceReadBps", "Rate", "read_bps"),
                         ("BlkioDeviceWriteBps", "Rate", "write_bps"),
                         ("BlkioDeviceReadIOps", "Rate", "read_iops"),
                         ("BlkioDeviceWriteIOps", "Rate", "write_iops"))


def check_blkio_types(hc: dict[str, Any]) -> None:
    """What dockerd's JSON decoder refuses in the per-device settings (a rate is a uint64, a
    weight a uint16), before anything else looks at the request: its 500 and words."""
    for key, name, _where in _BLKIO_DEVICES:
        go_type, top = ("uint16", 1 << 16) if name == "Weight" else ("uint64", 1 << 64)
        struct = "WeightDevice" if name == "Weight" else "ThrottleDevice"
        for entry in hc.get(key) or []:
            value = entry.get(name) if isinstance(entry, dict) else None
            if value is not None and not (type(value) is int and 0 <= value < top):
                shown = f"number {json.dumps(value)}" if type(value) in (int, float) \
                    else gojson.kind(value)
                raise DockyardError(f"json: cannot unmarshal {shown} into Go struct field "
                                    f"{struct}.HostConfig.{key}.{name} of type {go_type}")


def blkio_devices(hc: dict[str, Any]) -> dict[str, list[list[int]]]:
    """``--blkio-weight-device`` and the throttles (``--device-read-bps`` …) by device number,
    each path stat'ed at the start as dockerd does (its words for one missing: "stat /dev/x:
    no such file or directory"); a node that is no block device is the kernel's to refuse when
    the value is written, as under dockerd 20.10 (``cgroups._blkio_v1``)."""
    out: dict[str, list[list[int]]] = {}
    for key, name, where in _BLKIO_DEVICES:
        for entry in hc.get(key) or []:
            path = str(entry.get("Path") or "")
            try:
                rdev = os.stat(path).st_rdev
            except OSError as exc:
                raise DockyardError(f"stat {path}: {os.strerror(exc.errno or 0).lower()}") from None
            out.setdefault(where, []).append([os.major(rdev), os.minor(rdev),
                                              int(entry.get(name) or 0)])
    return out


def discard_unsupported(hc: dict[str, Any]) -> list[str]:
    """Drop from ``hc`` (in place) what this host's cgroups cannot apply, as dockerd's
    verifyPlatformContainerResources does before its range checks: its warnings, in order
    (an unset value, a number not above 0, or an OOM killer left on, warns of nothing; a
    swappiness, of 0 too) — an OOM killer disabled without a memory limit among them, at
    create as at an update."""
    have, out = cgroups.supported(), []
    for key, feature, kept, warning in _DISCARDABLE:
        if _asked(key, hc.get(key)) and feature not in have:
            if kept is not _KEPT:
                hc[key] = kept
            out.append(warning)
        if key == "OomKillDisable" and hc.get(key) and not hc.get("Memory"):  # kept: a warning
            out.append(OOM_UNLIMITED)
    return out


def _asked(key: str, value: Any) -> bool:
    if key == "MemorySwappiness":
        return value is not None
    if isinstance(value, int) and not isinstance(value, bool):
        return value > 0
    return bool(value)


MIN_MEMORY: Final = 6 * 1024 * 1024  # dockerd's linuxMinMemory


def check_resources(hc: dict[str, Any], update: bool = False) -> None:
    """dockerd 20.10's verifyPlatformContainerResources, at create and for ``docker update``'s
    request (a swap limit alone is fine there: the container has its memory limit): its checks
    in its order — memory, then CPU, cpuset, block I/O — each on the values it looks at (a
    negative one mostly passes: it means "unset" further on, or runc refuses it at the start).
    What the kernel refuses or clamps is refused at the start or the update, in runc's words."""
    _check_memory(hc, update)
    _check_cpu(hc)
    if hc.get("CpusetCpus") or hc.get("CpusetMems"):
        _check_cpuset(hc)
    if (hc.get("BlkioWeight") or 0) > 0 and not 10 <= hc["BlkioWeight"] <= 1000:
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")


def _check_memory(hc: dict[str, Any], update: bool) -> None:
    memory, swap = hc.get("Memory") or 0, hc.get("MemorySwap") or 0
    if memory and memory < MIN_MEMORY:  # a negative one too
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if memory > 0 and 0 < swap < memory:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, "
                              "see usage")
    if not memory and swap > 0 and not update:
        raise InvalidArgument("You should always set the Memory limit when using Memoryswap "
                              "limit, see usage")
    swappiness = hc.get("MemorySwappiness")
    if swappiness is not None and not 0 <= swappiness <= 100:
        raise InvalidArgument(f"Invalid value: {swappiness}, valid memory swappiness range is 0-100")
    reservation = hc.get("MemoryReservation") or 0
    if 0 < reservation < MIN_MEMORY:
        raise InvalidArgument("Minimum memory reservation allowed is 6MB")
    if memory > 0 and reservation > 0 and memory < reservation:
        raise InvalidArgument("Minimum memory limit can not be less than memory reservation "
                              "limit, see usage")
    if 0 < (hc.get("KernelMemory") or 0) < MIN_MEMORY:  # kept, without effect (runc 1.1's)
        raise InvalidArgument("Minimum kernel memory limit allowed is 6MB")


def _check_cpu(hc: dict[str, Any]) -> None:
    nano, ncpu = hc.get("NanoCpus") or 0, os.cpu_count() or 1
    period, quota = hc.get("CpuPeriod") or 0, hc.get("CpuQuota") or 0
    for value, what in ((period, "CPU Period"), (quota, "CPU Quota")):
        if nano > 0 and value > 0:
            raise InvalidArgument(f"Conflicting options: Nano CPUs and {what} cannot both be set")
    if nano < 0 or nano > ncpu * 1_000_000_000:  # below 0.01 is the kernel's to refuse
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only "
                              f"{ncpu} CPUs available")
    if period and not 1000 <= period <= 1_000_000:  # with a quota or not
        raise InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or larger "
                              "than 1s (i.e. 1000000)")
    if 0 < quota < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")


def _check_cpuset(hc: dict[str, Any]) -> None:
    """dockerd's words for a cpuset it cannot parse or that names CPUs or memory nodes the
    host's cpuset root lacks."""
    available = cgroups.cpuset_available()
    for key, what, words, have in (("CpusetCpus", "cpus", "CPUs", available[0]),
                                   ("CpusetMems", "mems", "memory nodes", available[1])):
        value = str(hc.get(key) or "")
        wanted = cgroups.parse_uint_list(value)
        if wanted is None:
            raise InvalidArgument(f"Invalid value {value} for cpuset {what}: invalid format: {value}")
        if not wanted <= (cgroups.parse_uint_list(have) or set()):
            raise InvalidArgument(f"Requested {words} are not available - requested {value}, "
                                  f"available: {have}")


# what ``docker update`` may change: its Resources (a value of 0 or "" leaves one as it is);
# the real-time ones are recorded for the next start only (dockerd 20.10 writes none live)
UPDATABLE: Final = ("CpuShares", "NanoCpus", "CpuPeriod", "CpuQuota", "CpusetCpus", "CpusetMems",
                    "Memory", "MemorySwap", "MemoryReservation", "KernelMemory", "BlkioWeight",
                    "CpuRealtimePeriod", "CpuRealtimeRuntime")


def update_host_config(hc: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """``POST /containers/{id}/update``: ``hc`` with the request applied by dockerd's rules
    (its UpdateHostConfig); a refused change is a :class:`Conflict` in dockerd's words."""
    check_resources(request, update=True)
    hc = dict(hc)
    for key, other, words in (("NanoCpus", "CpuPeriod", "Nano CPUs … CPU Period"),
                              ("NanoCpus", "CpuQuota", "Nano CPUs … CPU Quota"),
                              ("CpuPeriod", "NanoCpus", "CPU Period … NanoCPUs"),
                              ("CpuQuota", "NanoCpus", "CPU Quota … NanoCPUs")):
        if (request.get(key) or 0) > 0 and (hc.get(other) or 0) > 0:
            asked, kept = words.split(" … ")
            raise Conflict(f"Conflicting options: {asked} cannot be updated as {kept} has "
                           "already been set")
    memory = request.get("Memory") or 0
    if memory and memory > (hc.get("MemorySwap") or 0) and not request.get("MemorySwap"):
        raise Conflict("Memory limit should be smaller than already set memoryswap limit, "
                       "update the memoryswap at the same time")
    hc.update((key, request[key]) for key in UPDATABLE if request.get(key))
    if request.get("PidsLimit") is not None:
        hc["PidsLimit"] = max(request["PidsLimit"], 0)  # unlimited again reads back as 0
    policy = request.get("RestartPolicy") or {}
    if policy.get("Name"):
        _check_restart_policy(policy)
        if hc.get("AutoRemove") and policy["Name"] != "no":
            raise Conflict("Restart policy cannot be updated because AutoRemove is enabled "
                           "for the container")
        hc["RestartPolicy"] = {"Name": policy["Name"],
                               "MaximumRetryCount": int(policy.get("MaximumRetryCount") or 0)}
    return hc


def limits(hc: dict[str, Any]) -> Limits:
    """What a start writes to the container's cgroup: the record's resources as dockerd 20.10
    puts them in the OCI spec (getMemoryResources, getCPUResources: a memory, swap or
    reservation only above 0, a quota and period of ``NanoCpus`` unless ``CpuQuota`` or
    ``CpuPeriod`` says otherwise, negative shares refused in its words) and runc applies it
    (a zero left alone)."""
    shares = hc.get("CpuShares") or 0
    if shares < 0:
        raise DockyardError("shares: invalid argument")
    nano = hc.get("NanoCpus") or 0
    period, quota = (100_000, nano * 100_000 // 1_000_000_000) if nano > 0 else (0, 0)
    pids = hc.get("PidsLimit")
    return Limits(memory=_positive(hc.get("Memory")), memory_swap=_positive(hc.get("MemorySwap")),
                  memory_reservation=_positive(hc.get("MemoryReservation")),
                  cpu_quota=hc.get("CpuQuota") or quota or None,
                  cpu_period=hc.get("CpuPeriod") or period or None, cpu_shares=shares or None,
                  pids=pids if pids and pids > 0 else None,
                  cpuset_cpus=hc.get("CpusetCpus") or None, cpuset_mems=hc.get("CpusetMems") or None,
                  swappiness=hc.get("MemorySwappiness"),
                  oom_kill_disable=bool(hc.get("OomKillDisable")),
                  blkio_weight=hc.get("BlkioWeight") or None,
                  cpu_rt_period=hc.get("CpuRealtimePeriod") or None,
                  cpu_rt_runtime=hc.get("CpuRealtimeRuntime") or None)


def update_limits(request: dict[str, Any]) -> Limits:
    """What ``docker update`` writes to a running container's cgroup: the request alone, as
    dockerd 20.10 hands it to runc (toContainerdResources) — a swap bound only above 0, the
    shares as Go's uint64 (a negative one is far above the kernel's maximum), ``NanoCpus``'
    period and quota first — and runc's update writes what is not zero; no real-time
    settings, device rules, swappiness nor OOM killer switch."""
    nano = request.get("NanoCpus") or 0
    period, quota = (100_000, nano * 100_000 // 1_000_000_000) if nano else (0, 0)
    pids = request.get("PidsLimit")
    return Limits(memory=request.get("Memory") or None,
                  memory_swap=_positive(request.get("MemorySwap")),
                  memory_reservation=request.get("MemoryReservation") or None,
                  cpu_quota=quota or request.get("CpuQuota") or None,
                  cpu_period=period or request.get("CpuPeriod") or None,
                  cpu_shares=(request.get("CpuShares") or 0) % (1 << 64) or None,
                  pids=None if pids is None else pids if pids > 0 else -1,
                  cpuset_cpus=request.get("CpusetCpus") or None,
                  cpuset_mems=request.get("CpusetMems") or None,
                  blkio_weight=request.get("BlkioWeight") or None, devices=None)


def _positive(value: int | None) -> int | None:
    return value if value and value > 0 else None


def merged_ulimits(ulimits: list[dict[str, Any]] | None,
                   defaults: dict[str, dict[str, Any]]) -> list[dict[str, Any]] | None:
    """dockerd's mergeUlimits: the container's ``--ulimit``s, then each ``--default-ulimit``
    whose name the container does not set. Done at each start, exec and inspect, never
    recorded (a daemon restarted with other defaults gives them to every container)."""
    if not defaults:
        return ulimits
    named = {str(u.get("Name")) for u in ulimits or []}
    return [*(ulimits or []), *(u for name, u in defaults.items() if name not in named)]


def rlimits(hc: dict[str, Any], defaults: dict[str, dict[str, Any]] | None = None) -> list[list[int]]:
    """``--ulimit``s (and the daemon's ``defaults`` not overridden) as ``[resource, soft,
    hard]``, in order, for the init (and each exec) to set. dockerd takes any name at create;
    runc refuses an unknown one at the start."""
    out = []
    for ulimit in merged_ulimits(hc.get("Ulimits"), defaults or {}) or []:
        name = str(ulimit.get("Name") or "")
        resource = syscalls.RLIMITS.get(name.lower())
        if resource is None:
            raise DockyardError("failed to create shim task: OCI runtime create failed: runc create "
                                f"failed: wrong rlimit value: RLIMIT_{name.upper()}: unknown")
        out.append([resource, int(ulimit.get("Soft") or 0), int(ulimit.get("Hard") or 0)])
    return out


# ---- the spec a start needs ------------------------------------------------------------------


def cgroup_parent(record: Any, daemon: DaemonConfig | None = None,
                  start: bool = False) -> cgroups.Parent:
    """Where the container's cgroup goes (``--cgroup-parent``, else the daemon's), placed as
    dockerd's cgroupfs driver places it (:func:`cgroups.resolve_parent`): a relative one is
    below the daemon's own cgroup, which a restarted daemon may not share. So it is resolved
    once and kept in the record (``record.cgroup_parent``: the parent as given, and where it
    went): a start (``start``) resolves it again only when what is given changed (``docker
    update`` cannot, a daemon's ``--cgroup-parent`` can), and whatever finds the cgroup after
    (pause, update, top, the sweep of one a shim left, a re-adopting daemon) takes what the
    last start kept — or, for a record from before it was kept, resolves it as then.
    ``HostConfig.CgroupParent`` stays as given, as dockerd keeps it."""
    hc, kept = record.host_config, record.cgroup_parent
    if kept is not None and not start:
        return cast(cgroups.Parent, kept["resolved"])
    given = str(hc.get("CgroupParent") or (daemon.cgroup_parent if daemon is not None else ""))
    if kept is not None and kept["given"] == given:
        return cast(cgroups.Parent, kept["resolved"])
    resolved = cgroups.resolve_parent(given) if given else cgroups.DEFAULT_PARENT
    if start:
        record.cgroup_parent = {"given": given, "resolved": resolved}
    return resolved


def build_spec(record: Any, network: str, mounts: list[Mount], hostname: str,
               default_ulimits: dict[str, dict[str, Any]] | None = None,
               daemon_seccomp: tuple[str, str] = ("", ""),
               parent: cgroups.Parent = cgroups.DEFAULT_PARENT,
               linked: list[str] | None = None) -> ContainerSpec:
    """The runtime's view of ``record`` (resolved user, env, limits, mounts); the daemon's
    ``--default-ulimit`` and ``--seccomp-profile`` for what the container does not say;
    ``parent``: its cgroup's (:func:`cgroup_parent`); ``linked``: its links' variables."""
    cfg, hc = record.config, record.host_config
    layers_top_down = [record.upper_dir, *reversed(record.lower_dirs)]
    user = users.resolve(cfg.get("User") or "", layers_top_down, hc.get("GroupAdd") or [])
    ours = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}", *(["TERM=xterm"] if cfg.get("Tty") else []),
            *(linked or [])]
    env = merged_env(ours, list(cfg.get("Env") or []))
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, f"PATH={DEFAULT_PATH}")
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={user.home}")
    masked, readonly = hc.get("MaskedPaths"), hc.get("ReadonlyPaths")
    args, init = command(cfg), _init(hc)
    devices = [_device(d) for d in hc.get("Devices") or []]
    resources = limits(hc)
    resources.blkio_devices = blkio_devices(hc)
    resources.devices = cgroups.device_rules(bool(hc.get("Privileged")), [
        *(rule for _mount, rules in devices for rule in rules),
        *(str(r) for r in hc.get("DeviceCgroupRules") or [])])
    return ContainerSpec(
        id=record.id, lower_dirs=list(record.lower_dirs), upper_dir=record.upper_dir,
        work_dir=record.work_dir, rootfs_dir=record.rootfs,
        args=[INIT_PATH, "--", *args] if init else args, env=env,
        cwd=cfg.get("WorkingDir") or "/",
        user=User(user.uid, user.gid, list(user.additional_gids)), hostname=hostname,
        domainname=str(cfg.get("Domainname") or ""), rlimits=rlimits(hc, default_ulimits),
        oom_score_adj=int(hc.get("OomScoreAdj") or 0),
        sysctls={str(k): str(v) for k, v in (hc.get("Sysctls") or {}).items()},
        read_only=hc["ReadonlyRootfs"], cap_add=list(hc.get("CapAdd") or []),
        cap_drop=list(hc.get("CapDrop") or []), privileged=hc["Privileged"],
        no_new_privs=security_opts(hc.get("SecurityOpt") or [])[1], seccomp=seccomp_setting(hc, daemon_seccomp),
        masked_paths=list(MASKED_PATHS if masked is None else masked),
        readonly_paths=list(READONLY_PATHS if readonly is None else readonly),
        mounts=[*shm_mounts(hc.get("ShmSize") or 0), *init, *(m for m, _r in devices), *mounts],
        network=network, limits=resources,
        cgroupns="host" if hc.get("CgroupnsMode") == "host" else "private",
        cgroup_parent=parent,
        tty=bool(cfg.get("Tty")), log_rotation=log_rotation(hc.get("LogConfig") or {}),
        log_delivery=logopts.delivery(hc.get("LogConfig") or {}, record))


INIT_PATH: Final = "/sbin/docker-init"


def _device(device: dict[str, Any]) -> tuple[Mount, list[str]]:
    """``--device HOST[:CONTAINER][:PERMISSIONS]``: the host's node bound at the container's
    path, and the device cgroup rule that lets the container use it (every node below a
    directory, as dockerd walks one)."""
    host = str(device.get("PathOnHost") or "")
    access = str(device.get("CgroupPermissions") or "rwm")
    if not os.path.exists(host):
        raise DockyardError("error gathering device information while adding custom device "
                            f'"{host}": no such file or directory')
    paths = [os.path.join(top, name) for top, _dirs, names in os.walk(host) for name in names] \
        if os.path.isdir(host) else [host]
    rules = []
    for path in paths:
        st = os.stat(path)
        kind = "c" if stat.S_ISCHR(st.st_mode) else "b" if stat.S_ISBLK(st.st_mode) else ""
        if kind:
            rules.append(f"{kind} {os.major(st.st_rdev)}:{os.minor(st.st_rdev)} {access}")
        elif path == host:
            raise DockyardError("error gathering device information while adding custom "
                                f'device "{host}": not a device node')
    mount = Mount("bind", str(device.get("PathInContainer") or host), host, options=["norbind"])
    return mount, rules


def _init(hc: dict[str, Any]) -> list[Mount]:
    """``--init``: the daemon's ``docker-init`` (tini, as dockerd's) bound read-only at
    /sbin/docker-init to run as PID 1, reaping zombies and passing signals on."""
    if not hc.get("Init"):
        return []
    found = shutil.which("docker-init")
    if found is None:
        raise DockyardError('exec: "docker-init": executable file not found in $PATH')
    return [Mount("bind", INIT_PATH, os.path.realpath(found), read_only=True)]


def shm_mounts(size: int) -> list[Mount]:
    """``--shm-size`` (0: the default): a /dev/shm of that size over the runtime's 64 MiB one
    (the options are dockerd's; the user's own mounts come after it, so ``--tmpfs /dev/shm``
    still wins)."""
    if size in (0, DEFAULT_SHM_SIZE):
        return []
    return [Mount("tmpfs", "/dev/shm", options=["mode=1777", f"size={size}"])]
