"""``docker run``/``create`` flags, and their translation into an Engine API create body.

Pure (no daemon, no docker-py): the body is what ``POST /containers/create`` takes — ``Config``
fields at the top, ``HostConfig`` and ``NetworkingConfig`` inside — spelled and defaulted as the
docker CLI sends them, so the same body means the same container on dockerd and on dockyard.
Bad values raise ``InvalidArgument`` with the docker CLI's wording.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_PULL = ("always", "missing", "never")
_HEALTH_DURATIONS = (  # (flag, help), in the body's order
    ("interval", "time between running the check"),
    ("timeout", "maximum time to allow one check to run"),
    ("start-period", "start period for the container to initialize before starting health-retries countdown"),
    ("start-interval", "time between running the check during the start period"),
)


def add_create_flags(p: argparse.ArgumentParser) -> None:
    """The flags ``run`` and ``create`` share (``-h`` is ``--hostname``, as in docker)."""
    p.add_argument("--help", action="help", help="show this help message and exit")
    p.add_argument("-i", "--interactive", action="store_true", help="keep STDIN open even if not attached")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    p.add_argument("--name", help="assign a name to the container")
    p.add_argument("-e", "--env", action="append", default=[], help="set environment variables")
    p.add_argument("--env-file", action="append", default=[], help="read in a file of environment variables")
    p.add_argument("-v", "--volume", action="append", default=[], help="bind mount a volume")
    p.add_argument("--mount", action="append", default=[], help="attach a filesystem mount to the container")
    p.add_argument("--tmpfs", action="append", default=[], help="mount a tmpfs directory")
    p.add_argument("-p", "--publish", action="append", default=[], help="publish a container's port(s) to the host")
    p.add_argument("-P", "--publish-all", action="store_true", help="publish all exposed ports to random ports")
    p.add_argument("--expose", action="append", default=[], help="expose a port or a range of ports")
    p.add_argument("--network", "--net", help="connect a container to a network")
    p.add_argument("--network-alias", action="append", default=[], help="add network-scoped alias")
    p.add_argument("-w", "--workdir", help="working directory inside the container")
    p.add_argument("-u", "--user", help="username or UID (format: <name|uid>[:<group|gid>])")
    p.add_argument("--entrypoint", help="overwrite the default ENTRYPOINT of the image")
    p.add_argument("-h", "--hostname", help="container host name")
    p.add_argument("-l", "--label", action="append", default=[], help="set meta data on a container")
    p.add_argument("-m", "--memory", help="memory limit")
    p.add_argument("--cpus", help="number of CPUs")
    p.add_argument("-c", "--cpu-shares", type=int, help="CPU shares (relative weight)")
    p.add_argument("--pids-limit", type=int, help="tune container pids limit (-1 for unlimited)")
    p.add_argument("--cap-add", action="append", default=[], help="add Linux capabilities")
    p.add_argument("--cap-drop", action="append", default=[], help="drop Linux capabilities")
    p.add_argument("--privileged", action="store_true", help="give extended privileges to this container")
    p.add_argument("--security-opt", action="append", default=[], help="security options")
    p.add_argument("--read-only", action="store_true", help="mount the container's root filesystem as read only")
    p.add_argument("--restart", default="no", help="restart policy to apply when a container exits")
    p.add_argument("--rm", action="store_true", help="automatically remove the container when it exits")
    p.add_argument("--init", action="store_true", help="run an init inside the container")
    p.add_argument("--stop-signal", help="signal to stop the container")
    p.add_argument("--stop-timeout", type=int, help="timeout (in seconds) to stop a container")
    p.add_argument("--platform", help="set platform if server is multi-platform capable")
    p.add_argument("--health-cmd", help="command to run to check health")
    for what, text in _HEALTH_DURATIONS:
        p.add_argument(f"--health-{what}", help=f"{text} (ms|s|m|h) (default 0s)")
    p.add_argument("--health-retries", type=int, help="consecutive failures needed to report unhealthy")
    p.add_argument("--no-healthcheck", action="store_true", help="disable any container-specified HEALTHCHECK")
    p.add_argument("--pull", default="missing", choices=_PULL, help='pull image before running (default "missing")')
    p.add_argument("-q", "--quiet", action="store_true", help="suppress the pull output")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]")


# ---- values -------------------------------------------------------------------------------


def ram_bytes(text: str) -> int:
    """go-units' ``RAMInBytes``: ``512m``, ``1g``, ``1.5GiB``, ``1024`` (binary units)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?", text.strip().lower())
    if not match:
        raise InvalidArgument(f"invalid size: '{text}'")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def nano_cpus(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise InvalidArgument(f'invalid argument "{text}" for "--cpus" flag: failed to parse {text} as a rational number') from None
    return round(value * 1e9)


def env_entry(item: str) -> str:
    """``NAME=value`` as is; a bare ``NAME`` takes the caller's value, as docker does."""
    if not item or item.startswith("="):
        raise InvalidArgument(f"invalid environment variable: {item}")
    if "=" in item or item not in os.environ:
        return item
    return f"{item}={os.environ[item]}"


def env_file(path: str) -> list[str]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InvalidArgument(f"open {path}: {exc.strerror.lower() if exc.strerror else exc}") from None
    lines = [line.lstrip() for line in text.splitlines()]
    return [env_entry(line) for line in lines if line and not line.startswith("#")]


def restart_policy(text: str) -> dict[str, Any]:
    name, _, count = text.partition(":")
    if name not in {"", "no", "always", "unless-stopped", "on-failure"}:
        raise InvalidArgument(f"invalid restart policy '{name}'")
    if count and name != "on-failure":
        raise InvalidArgument("invalid restart policy format: maximum retry count can only be used with 'on-failure'")
    if count and not count.isdigit():
        raise InvalidArgument("invalid restart policy format: maximum retry count must be an integer")
    return {"Name": name if name != "no" else "no", "MaximumRetryCount": int(count or 0)}


def _port_range(text: str) -> list[int]:
    start, _, end = text.partition("-")
    try:
        first, last = int(start), int(end or start)
    except ValueError:
        raise InvalidArgument(f"invalid containerPort: {text}") from None
    if not 0 < first <= last <= 65535:
        raise InvalidArgument(f"invalid range specified for container port: {text}")
    return list(range(first, last + 1))


def parse_publish(spec: str) -> list[tuple[str, str, str]]:
    """``[ip:][hostPort:]containerPort[/proto]`` → ``(container_key, host_ip, host_port)`` rows."""
    body, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in {"tcp", "udp", "sctp"}:
        raise InvalidArgument(f"invalid proto: {proto}")
    ip = ""
    if body.startswith("["):  # [::1]:8080:80
        ip, _, body = body[1:].partition("]:")
    parts = body.rsplit(":", 2) if not ip else body.split(":")
    if not ip and len(parts) == 3:
        ip, parts = parts[0], parts[1:]
    container = parts[-1]
    host = parts[0] if len(parts) > 1 else ""
    ports = _port_range(container)
    hosts = [str(p) for p in _port_range(host)] if host else [""] * len(ports)
    if len(hosts) == 1 and len(ports) > 1:
        hosts = hosts * len(ports)
    if len(hosts) != len(ports):
        raise InvalidArgument(f"invalid ranges specified for container and host Ports: {container} and {host}")
    return [(f"{c}/{proto}", ip, h) for c, h in zip(ports, hosts)]


def parse_mount(spec: str) -> dict[str, Any]:
    """docker's ``--mount`` CSV (``type=bind,source=/a,target=/b,readonly``) → an API Mount."""
    mount: dict[str, Any] = {"Type": "volume"}
    for field in spec.split(","):
        key, sep, value = field.partition("=")
        key = key.strip().lower()
        if key in {"readonly", "ro"}:
            mount["ReadOnly"] = value.lower() in {"", "1", "true"}
        elif not sep:
            raise InvalidArgument(f"invalid field '{field}' must be a key=value pair")
        elif key == "type":
            mount["Type"] = value
        elif key in {"source", "src"}:
            mount["Source"] = value
        elif key in {"target", "destination", "dst"}:
            mount["Target"] = value
        elif key == "bind-propagation":
            mount.setdefault("BindOptions", {})["Propagation"] = value
        elif key == "volume-nocopy":
            mount.setdefault("VolumeOptions", {})["NoCopy"] = value.lower() in {"", "1", "true"}
        elif key == "volume-driver":
            mount.setdefault("VolumeOptions", {}).setdefault("DriverConfig", {})["Name"] = value
        elif key == "tmpfs-size":
            mount.setdefault("TmpfsOptions", {})["SizeBytes"] = ram_bytes(value)
        elif key == "tmpfs-mode":
            mount.setdefault("TmpfsOptions", {})["Mode"] = int(value, 8)
        elif key != "consistency":
            raise InvalidArgument(f"unexpected key '{key}' in '{field}'")
    if "Target" not in mount:
        raise InvalidArgument("target is required")
    return mount


# ---- the body -----------------------------------------------------------------------------


def create_body(args: argparse.Namespace, detach: bool) -> dict[str, Any]:
    """The ``POST /containers/create`` body for parsed ``run``/``create`` flags."""
    if args.rm and args.restart not in {"", "no"}:
        raise InvalidArgument("Conflicting options: --restart and --rm")
    env = [e for path in args.env_file for e in env_file(path)] + [env_entry(e) for e in args.env]
    volumes: dict[str, dict[str, Any]] = {v: {} for v in args.volume if ":" not in v}
    exposed, bindings = _ports(args)
    body: dict[str, Any] = {
        "Hostname": args.hostname or "", "User": args.user or "",
        "AttachStdin": args.interactive and not detach, "AttachStdout": not detach,
        "AttachStderr": not detach, "Tty": args.tty, "OpenStdin": args.interactive,
        "StdinOnce": args.interactive and not detach, "Env": env, "Cmd": args.command or None,
        "Image": args.image, "Volumes": volumes or None, "WorkingDir": args.workdir or "",
        "Entrypoint": None if args.entrypoint is None else [args.entrypoint],
        "Labels": _labels(args.label), "ExposedPorts": exposed or None,
        "HostConfig": host_config(args, bindings),
    }
    if args.stop_signal:
        body["StopSignal"] = args.stop_signal
    if args.stop_timeout is not None:
        body["StopTimeout"] = args.stop_timeout
    checks = healthcheck(args)
    if checks is not None:
        body["Healthcheck"] = checks
    if args.network and args.network_alias:
        body["NetworkingConfig"] = {"EndpointsConfig": {args.network: {"Aliases": args.network_alias}}}
    return body


def healthcheck(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--health-*`` and ``--no-healthcheck`` as the docker CLI turns them into
    ``Config.Healthcheck`` (``None``: the image's stays), with its checks and words."""
    durations = {what: _duration(getattr(args, "health_" + what.replace("-", "_")), what)
                 for what, _ in _HEALTH_DURATIONS}
    retries = args.health_retries or 0
    if args.no_healthcheck:
        if args.health_cmd or retries or any(durations.values()):
            raise InvalidArgument("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not (args.health_cmd or retries or any(durations.values())):
        return None
    for what in ("interval", "timeout"):
        if durations[what] < 0:
            raise InvalidArgument(f"--health-{what} cannot be negative")
    if retries < 0:
        raise InvalidArgument("--health-retries cannot be negative")
    for what in ("start-period", "start-interval"):
        if durations[what] < 0:
            raise InvalidArgument(f"--health-{what} cannot be negative")
    checks = {"Test": ["CMD-SHELL", args.health_cmd] if args.health_cmd else None,
              "Interval": durations["interval"], "Timeout": durations["timeout"],
              "StartPeriod": durations["start-period"],
              "StartInterval": durations["start-interval"], "Retries": retries}
    return {key: value for key, value in checks.items() if value}  # Go's omitempty


def _duration(text: str | None, what: str) -> int:
    """A Go duration flag, refused in the docker CLI's words."""
    if not text:
        return 0
    from ..build.flags import parse_duration
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise InvalidArgument(f'invalid argument "{text}" for "--health-{what}" flag: {exc}') from None


def host_config(args: argparse.Namespace, bindings: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "Binds": [v for v in args.volume if ":" in v] or None,
        "Mounts": [parse_mount(m) for m in args.mount] or None,
        "NetworkMode": args.network or "default", "PortBindings": bindings or None,
        "PublishAllPorts": args.publish_all, "RestartPolicy": restart_policy(args.restart),
        "AutoRemove": args.rm, "CapAdd": args.cap_add or None, "CapDrop": args.cap_drop or None,
        "Privileged": args.privileged, "ReadonlyRootfs": args.read_only,
    }
    if args.tmpfs:
        config["Tmpfs"] = {t.partition(":")[0]: t.partition(":")[2] for t in args.tmpfs}
    if args.memory:
        config["Memory"] = ram_bytes(args.memory)
    if args.cpus:
        config["NanoCpus"] = nano_cpus(args.cpus)
    if args.cpu_shares is not None:
        config["CpuShares"] = args.cpu_shares
    if args.pids_limit is not None:
        config["PidsLimit"] = args.pids_limit
    if args.init:
        config["Init"] = True
    if args.security_opt:
        config["SecurityOpt"] = security_opts(args.security_opt)
    return config


def security_opts(options: list[str]) -> list[str]:
    """The docker CLI's ``--security-opt``: a ``seccomp=`` file is sent as its JSON, compacted."""
    out = []
    for opt in options:
        key, sep, value = opt.partition("=")
        if not sep and key != "no-new-privileges":
            key, sep, value = opt.partition(":")
        if (not sep or not value) and key != "no-new-privileges":
            raise InvalidArgument(f'Invalid --security-opt: "{opt}"')
        if key == "seccomp" and value not in ("builtin", "unconfined"):
            opt = f"seccomp={_compact_json(value)}"
        out.append(opt)
    return out


def _compact_json(path: str) -> str:
    from .. import gojson

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise InvalidArgument(f"opening seccomp profile ({path}) failed: open {path}: {reason}") from None
    try:
        return gojson.compact(text)
    except ValueError as exc:
        raise InvalidArgument(f"compacting json for seccomp profile ({path}) failed: {exc}") from None


def _labels(items: list[str]) -> dict[str, str]:
    return {k: v for k, _, v in (item.partition("=") for item in items)}


def _ports(args: argparse.Namespace) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, str]]]]:
    exposed: dict[str, dict[str, Any]] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in args.publish:
        for key, ip, port in parse_publish(spec):
            exposed[key] = {}
            bindings.setdefault(key, []).append({"HostIp": ip, "HostPort": port})
    for spec in args.expose:
        number, _, proto = spec.partition("/")
        exposed.update({f"{p}/{proto or 'tcp'}": {} for p in _port_range(number)})
    return exposed, bindings
