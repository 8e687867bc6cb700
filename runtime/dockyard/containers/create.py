"""``POST /containers/create`` semantics as dockerd applies them: the request's Config merged
with the image's, HostConfig defaults and dockerd's validation wording, container names, and the
:class:`~dockyard.containers.spec.ContainerSpec` a start needs.

Pure functions (no engine, no I/O except the user lookup in the image's files), so the rules
can be read and tested in one place.
"""

from __future__ import annotations

import os
import random
import re
import signal
from typing import Any, Final

from ..errors import InvalidArgument
from ..linux import users
from ..linux.cgroups import Limits
from .spec import DEFAULT_PATH, ContainerSpec, Mount, User

NAME_RE: Final = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
RESTART_POLICIES: Final = ("", "no", "always", "on-failure", "unless-stopped")

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
    merged: dict[str, str] = {}
    for item in [*image_env, *env]:
        key = item.partition("=")[0]
        merged[key] = item
    return list(merged.values())


def merge_config(request: dict[str, Any], image: dict[str, Any], image_name: str) -> dict[str, Any]:
    """The container's Config: the request's fields, the image's where the request is empty.
    An explicit Entrypoint drops the image's Cmd (Docker's rule)."""
    cfg = dict(request)
    cfg["Image"] = image_name
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
    if cfg["WorkingDir"] and not cfg["WorkingDir"].startswith("/"):
        raise InvalidArgument(f"the working directory '{cfg['WorkingDir']}' is invalid, it needs "
                              "to be an absolute path")
    return cfg


def command(cfg: dict[str, Any]) -> list[str]:
    """Entrypoint + Cmd; ``--entrypoint ""`` (sent as ``[""]``) is an explicit empty one."""
    entrypoint = cfg.get("Entrypoint") or []
    return [*(entrypoint if entrypoint != [""] else []), *(cfg.get("Cmd") or [])]


def parse_signal(value: str | int | None, default: int = signal.SIGTERM) -> int:
    """``"SIGKILL"``, ``"KILL"``, ``"9"`` or 9 → 9; dockerd's 400 otherwise."""
    if value in (None, ""):
        return default
    text = str(value).strip().upper()
    if text.isdigit():
        number = int(text)
        if 0 < number < 65:
            return number
    else:
        name = text if text.startswith("SIG") else "SIG" + text
        member = getattr(signal.Signals, name, None)
        if member is not None:
            return int(member)
    raise InvalidArgument(f"Invalid signal: {value}")


# ---- HostConfig ------------------------------------------------------------------------------


def host_config_defaults(hc: dict[str, Any], default_network: str = "bridge") -> dict[str, Any]:
    """``default_network``: what "default" (or no mode) means — "bridge", "none" when rootless."""
    hc = dict(hc)
    hc["NetworkMode"] = hc.get("NetworkMode") or default_network
    if hc["NetworkMode"] == "default":
        hc["NetworkMode"] = default_network
    hc["RestartPolicy"] = hc.get("RestartPolicy") or {"Name": "no", "MaximumRetryCount": 0}
    hc["RestartPolicy"].setdefault("MaximumRetryCount", 0)
    hc["LogConfig"] = hc.get("LogConfig") or {"Type": "json-file", "Config": {}}
    if not hc["LogConfig"].get("Type"):
        hc["LogConfig"]["Type"] = "json-file"
    for key in ("Memory", "NanoCpus", "CpuShares", "CpuQuota", "CpuPeriod", "MemorySwap"):
        hc[key] = hc.get(key) or 0
    for key in ("AutoRemove", "Privileged", "ReadonlyRootfs", "PublishAllPorts"):
        hc[key] = bool(hc.get(key))
    hc.setdefault("PidsLimit", None)
    hc.setdefault("Binds", None)
    hc.setdefault("CapAdd", None)
    hc.setdefault("CapDrop", None)
    hc.setdefault("PortBindings", {})
    hc.setdefault("ShmSize", 67108864)
    hc.setdefault("Runtime", "runc")
    hc.setdefault("ConsoleSize", [0, 0])
    hc.setdefault("IpcMode", "private")
    hc.setdefault("CgroupnsMode", "private")
    return hc


def validate_host_config(hc: dict[str, Any]) -> None:
    """dockerd's checks and wording for what we honour."""
    policy = hc["RestartPolicy"]
    name = policy.get("Name") or ""
    if name not in RESTART_POLICIES:
        raise InvalidArgument(f"invalid restart policy: unknown policy '{name}'; use one of "
                              "'no', 'always', 'on-failure', or 'unless-stopped'")
    retries = int(policy.get("MaximumRetryCount") or 0)
    if retries < 0:
        raise InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    if retries and name != "on-failure":
        raise InvalidArgument("invalid restart policy: maximum retry count can only be used "
                              "with 'on-failure'")
    if hc["AutoRemove"] and name not in ("", "no"):
        raise InvalidArgument("conflicting options: cannot specify both --restart and --rm")
    nano, ncpu = hc["NanoCpus"], os.cpu_count() or 1
    if nano and (nano < 10_000_000 or nano > ncpu * 1_000_000_000):
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only "
                              f"{ncpu} CPUs available")
    if nano and (hc["CpuQuota"] or hc["CpuPeriod"]):
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if hc["Memory"] and 0 < hc["MemorySwap"] < hc["Memory"]:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, "
                              "see usage")
    limits(hc).validate()


def limits(hc: dict[str, Any]) -> Limits:
    nano = hc.get("NanoCpus") or 0
    quota = nano * 100_000 // 1_000_000_000 if nano else (hc.get("CpuQuota") or None)
    period = 100_000 if nano else (hc.get("CpuPeriod") or None)
    pids = hc.get("PidsLimit")
    return Limits(memory=hc.get("Memory") or None, cpu_quota=quota or None,
                  cpu_period=period if quota else None, cpu_shares=hc.get("CpuShares") or None,
                  pids=pids if pids and pids > 0 else None)


# ---- the spec a start needs ------------------------------------------------------------------


def build_spec(record: Any, network: str, mounts: list[Mount], hostname: str) -> ContainerSpec:
    """The runtime's view of ``record`` (resolved user, env, limits, mounts)."""
    cfg, hc = record.config, record.host_config
    layers_top_down = [record.upper_dir, *reversed(record.lower_dirs)]
    user = users.resolve(cfg.get("User") or "", layers_top_down, hc.get("GroupAdd") or [])
    env = list(cfg.get("Env") or [])
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, f"PATH={DEFAULT_PATH}")
    env.append(f"HOSTNAME={hostname}")
    if cfg.get("Tty") and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={user.home}")
    return ContainerSpec(
        id=record.id, lower_dirs=list(record.lower_dirs), upper_dir=record.upper_dir,
        work_dir=record.work_dir, rootfs_dir=record.rootfs, args=command(cfg), env=env,
        cwd=cfg.get("WorkingDir") or "/",
        user=User(user.uid, user.gid, list(user.additional_gids)), hostname=hostname,
        read_only=hc["ReadonlyRootfs"], cap_add=list(hc.get("CapAdd") or []),
        cap_drop=list(hc.get("CapDrop") or []), privileged=hc["Privileged"],
        mounts=mounts, network=network, limits=limits(hc), tty=bool(cfg.get("Tty")))
