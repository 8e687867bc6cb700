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
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .. import gostrconv
from ..errors import InvalidArgument
from ..linux.sysctls import IPC_KEYS

T = TypeVar("T")

_PULL = ("always", "missing", "never")
_HEALTH_DURATIONS = (  # (flag, help), in the body's order
    ("interval", "time between running the check"),
    ("timeout", "maximum time to allow one check to run"),
    ("start-period", "start period for the container to initialize before starting health-retries countdown"),
    ("start-interval", "time between running the check during the start period"),
)


def add_create_flags(p: argparse.ArgumentParser) -> None:
    """``run``'s and ``create``'s flags with ``--help``, IMAGE and COMMAND (``-h`` is
    ``--hostname``, as in docker)."""
    p.add_argument("--help", action="help", help="show this help message and exit")
    add_container_flags(p)
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]")


def add_container_flags(p: argparse.ArgumentParser) -> None:
    """The one table of container flags, shared by ``dockyard run``/``create`` and the
    notebook's ``%docker run`` (which adds its own ``-d``, ``--raise-error``, IMAGE and
    COMMAND). Only flags whose HostConfig/Config field the daemon honours are here."""
    many: dict[str, Any] = {"action": "append", "default": []}
    p.add_argument("-i", "--interactive", action="store_true", help="keep STDIN open even if not attached")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    p.add_argument("--name", help="assign a name to the container")
    p.add_argument("-e", "--env", **many, help="set environment variables")
    p.add_argument("--env-file", **many, help="read in a file of environment variables")
    p.add_argument("-v", "--volume", **many, help="bind mount a volume (a host path starting with . is relative)")
    p.add_argument("--mount", **many, help="attach a filesystem mount to the container")
    p.add_argument("--tmpfs", **many, help="mount a tmpfs directory")
    p.add_argument("--volumes-from", **many, help="mount volumes from the specified container(s)")
    p.add_argument("-p", "--publish", **many, help="publish a container's port(s) to the host")
    p.add_argument("-P", "--publish-all", action="store_true", help="publish all exposed ports to random ports")
    p.add_argument("--expose", **many, help="expose a port or a range of ports")
    p.add_argument("--network", "--net", help="connect a container to a network")
    p.add_argument("--network-alias", **many, help="add network-scoped alias")
    p.add_argument("--ip", help="IPv4 address (e.g., 172.30.100.104)")
    p.add_argument("--mac-address", help="container MAC address (e.g., 92:d0:c6:0a:29:33)")
    p.add_argument("--add-host", **many, help="add a custom host-to-IP mapping (host:ip)")
    p.add_argument("--link", **many, help="add link to another container (name[:alias])")
    p.add_argument("--dns", **many, help="set custom DNS servers")
    p.add_argument("--dns-option", **many, help="set DNS options")
    p.add_argument("--dns-search", **many, help="set custom DNS search domains")
    p.add_argument("-h", "--hostname", help="container host name")
    p.add_argument("--domainname", help="container NIS domain name")
    p.add_argument("-w", "--workdir", help="working directory inside the container")
    p.add_argument("-u", "--user", help="username or UID (format: <name|uid>[:<group|gid>])")
    p.add_argument("--group-add", **many, help="add additional groups to join")
    p.add_argument("--entrypoint", help="overwrite the default ENTRYPOINT of the image")
    p.add_argument("-l", "--label", **many, help="set meta data on a container")
    p.add_argument("-m", "--memory", help="memory limit")
    p.add_argument("--memory-swap", help="swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    p.add_argument("--shm-size", help="size of /dev/shm")
    p.add_argument("--cpus", help="number of CPUs")
    p.add_argument("-c", "--cpu-shares", help="CPU shares (relative weight)")
    p.add_argument("--cpu-period", help="limit CPU CFS (Completely Fair Scheduler) period")
    p.add_argument("--cpu-quota", help="limit CPU CFS (Completely Fair Scheduler) quota")
    p.add_argument("--cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)")
    p.add_argument("--cpuset-mems", help="MEMs in which to allow execution (0-3, 0,1)")
    p.add_argument("--pids-limit", help="tune container pids limit (-1 for unlimited)")
    p.add_argument("--ulimit", **many, help="ulimit options (name=soft[:hard])")
    p.add_argument("--sysctl", **many, help="sysctl options (key=value)")
    p.add_argument("--device", **many, help="add a host device to the container")
    p.add_argument("--cap-add", **many, help="add Linux capabilities")
    p.add_argument("--cap-drop", **many, help="drop Linux capabilities")
    p.add_argument("--privileged", action="store_true", help="give extended privileges to this container")
    p.add_argument("--userns", help='user namespace to use: "host" opts out of the daemon\'s --userns-remap')
    p.add_argument("--cgroupns", help='cgroup namespace to use: "host", "private" '
                   "(default: the daemon's --default-cgroupns-mode)")
    p.add_argument("--security-opt", **many, help="security options")
    p.add_argument("--read-only", action="store_true", help="mount the container's root filesystem as read only")
    p.add_argument("--log-driver", help="logging driver for the container")
    p.add_argument("--log-opt", **many, help="log driver options")
    p.add_argument("--restart", default="no", help="restart policy to apply when a container exits")
    p.add_argument("--rm", action="store_true", help="automatically remove the container when it exits")
    p.add_argument("--init", action="store_true", help="run an init inside the container")
    p.add_argument("--stop-signal", help="signal to stop the container")
    p.add_argument("--stop-timeout", help="timeout (in seconds) to stop a container")
    p.add_argument("--platform", help="set platform if server is multi-platform capable")
    p.add_argument("--health-cmd", help="command to run to check health")
    for what, text in _HEALTH_DURATIONS:
        p.add_argument(f"--health-{what}", help=f"{text} (ms|s|m|h) (default 0s)")
    p.add_argument("--health-retries", help="consecutive failures needed to report unhealthy")
    p.add_argument("--no-healthcheck", action="store_true", help="disable any container-specified HEALTHCHECK")
    p.add_argument("--pull", default="missing", choices=_PULL, help='pull image before running (default "missing")')
    p.add_argument("-q", "--quiet", action="store_true", help="suppress the pull output")


# ---- values -------------------------------------------------------------------------------


def _daemon_rule(name: str, text: str) -> Any:
    """One of the parsers the daemon's flags use (``dockyard.config``: go-units' and the
    docker CLI's rules, shared with dockerd's flags), its ValueError as InvalidArgument."""
    from .. import config

    try:
        return getattr(config, name)(text)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None


def ram_bytes(text: str) -> int:
    """go-units' ``RAMInBytes`` as the docker 28 CLI has it (v0.5: a number, then an optional
    space and ``b``, or ``k``…``p`` with ``b``/``ib``): ``512m``, ``1.5GiB``, ``1024``.
    The daemon's own flags keep dockerd 20.10's reading (``config.parse_size``)."""
    cut = max(text.rfind(c) for c in "0123456789. ")
    if cut == -1:
        raise InvalidArgument(f"invalid size: '{text}'")
    number, suffix = text[:cut + 1].rstrip(" "), text[cut + 1:]
    if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", number) is None:
        raise InvalidArgument(f'strconv.ParseFloat: parsing "{number}": invalid syntax')
    size = float(number)
    if size < 0:
        raise InvalidArgument(f"invalid size: '{text}'")
    lowered = suffix.lower() if len(suffix) <= 3 else suffix
    unit = lowered[:1]
    if suffix and (len(suffix) > 3 or unit not in "bkmgtp" or (unit == "b" and len(suffix) > 1)
                   or lowered[1:] not in ("", "b", "ib")):
        raise InvalidArgument(f"invalid suffix: '{lowered}'")
    return int(size * 1024 ** "bkmgtp".index(unit)) if unit else int(size)


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


def env_file(path: str, cwd: Path | None = None) -> list[str]:
    """``--env-file``'s lines (a relative ``path`` is taken against ``cwd``)."""
    try:
        text = (Path(path) if cwd is None else cwd / path).read_text()
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
    try:  # the docker CLI's Atoi: +3 and -1 are counts
        retries = gostrconv.atoi(count) if count else 0
    except gostrconv.NumError:
        raise InvalidArgument("invalid restart policy format: maximum retry count must be an "
                              "integer") from None
    return {"Name": name if name != "no" else "no", "MaximumRetryCount": retries}


def _port_range(text: str) -> list[int]:
    """go-connections' ``nat.ParsePortRange`` as the docker 28 CLI vendors it, ValueError in
    its words (imported here: the network package would cost every CLI start ~17 ms)."""
    from ..network.ports import parse_port_range
    first, last = parse_port_range(text, cli=True)
    return list(range(first, last + 1))


def _port_rows(text: str, what: str) -> list[int]:
    """A ``-p`` side's ports; refused as the CLI's ``nat.ParsePortSpec`` words it."""
    try:
        return _port_range(text)
    except ValueError:
        raise InvalidArgument(f"invalid {what}: {text}") from None


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
    ports = _port_rows(container, "containerPort")
    hosts = [str(p) for p in _port_rows(host, "hostPort")] if host else [""] * len(ports)
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
        elif key == "volume-nocopy":
            mount.setdefault("VolumeOptions", {})["NoCopy"] = value.lower() in {"", "1", "true"}
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
        elif key == "volume-driver":
            mount.setdefault("VolumeOptions", {}).setdefault("DriverConfig", {})["Name"] = value
        elif key == "tmpfs-size":
            mount.setdefault("TmpfsOptions", {})["SizeBytes"] = ram_bytes(value)
        elif key == "tmpfs-mode":  # the CLI's strconv.ParseUint(value, 8, 32)
            try:
                mode = gostrconv.parse_uint(value, 32, base=8)
            except gostrconv.NumError:
                raise InvalidArgument(f"invalid value for {key}: {value}") from None
            mount.setdefault("TmpfsOptions", {})["Mode"] = mode
        elif key != "consistency":
            raise InvalidArgument(f"unexpected key '{key}' in '{field}'")
    if "Target" not in mount:
        raise InvalidArgument("target is required")
    return mount


def go_int(text: str) -> int:
    """An int flag of the docker CLI's (pflag: ``strconv.ParseInt(text, 0, 64)``: ``0x10``
    is 16, ``010`` 8), refused in its words."""
    try:
        return gostrconv.pflag_int(text)
    except gostrconv.NumError as exc:
        raise InvalidArgument(str(exc)) from None


def flag_value(flag: str, text: str, parse: Callable[[str], T]) -> T:
    """``parse(text)``, its refusal worded as the docker CLI's flag parser words it."""
    try:
        return parse(text)
    except InvalidArgument as exc:
        raise InvalidArgument(f'invalid argument "{text}" for "{flag}" flag: {exc}') from None


def sysctl(text: str) -> tuple[str, str]:
    """The docker CLI's ``ValidateSysctl``: only the IPC keys, ``net.*`` and ``fs.mqueue.*``
    (the daemon would take ``kernel.domainname`` too; the CLI never sends it)."""
    key, sep, value = text.partition("=")
    if sep and (key in IPC_KEYS or key.startswith(("net.", "fs.mqueue."))):
        return key, value
    raise InvalidArgument(f"sysctl '{text}' is not allowed")


def ulimit(text: str) -> dict[str, Any]:
    """go-units' ``ParseUlimit``: ``name=soft[:hard]`` (one value sets both)."""
    return dict(_daemon_rule("parse_ulimit", text))


def _device_mode(mode: str) -> bool:
    return 0 < len(mode) <= 3 and set(mode) <= set("rwm") and len(set(mode)) == len(mode)


def device(text: str) -> dict[str, str]:
    """``--device HOST[:CONTAINER][:MODE]`` (the docker CLI's validateDevice + parseDevice)."""
    parts = text.split(":")
    if len(parts) > 3 or not parts[0]:
        raise InvalidArgument(f"bad format for path: {text}")
    target, mode = parts[0], "rwm"
    if len(parts) == 3 and not _device_mode(parts[2]):
        raise InvalidArgument(f"bad mode specified: {parts[2]}")
    if len(parts) == 3:
        target, mode = parts[1], parts[2]
    elif len(parts) == 2 and _device_mode(parts[1]):
        mode = parts[1]
    elif len(parts) == 2:
        target = parts[1]
    if not target.startswith("/"):
        raise InvalidArgument(f"{target} is not an absolute path")
    return {"PathOnHost": parts[0], "PathInContainer": target, "CgroupPermissions": mode}


def ip_address(text: str) -> str:
    """The docker CLI's ``ValidateIPAddress``: the address in its canonical form."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise InvalidArgument(f"IP address is not correctly formatted: {text}") from None


def extra_host(text: str) -> str:
    """``--add-host name:ip`` or ``name=ip`` (an IPv6 address may be in brackets) → ``name:ip``."""
    name, sep, addr = text.partition("=")
    if not sep:
        name, sep, addr = text.partition(":")
    if not sep or not name or ":" in name:
        raise InvalidArgument(f'bad format for add-host: "{text}"')
    if addr == "host-gateway":
        return f"{name}:{addr}"
    if len(addr) > 2 and addr[0] == "[" and addr[-1] == "]":
        addr = addr[1:-1]
    try:
        ip_address(addr)
    except InvalidArgument:
        raise InvalidArgument(f'invalid IP address in add-host: "{addr}"') from None
    return f"{name}:{addr}"


def link(text: str) -> str:
    """The docker CLI's ``ValidateLink`` (``opts.ParseLink``, dockerd's reading too): the
    entry is sent as given."""
    from ..containers.links import parse
    from ..errors import DockyardError

    try:
        parse(text)
    except DockyardError as exc:
        raise InvalidArgument(str(exc)) from None
    return text


def dns_search(text: str) -> str:
    return str(_daemon_rule("check_dns_search", text))


def mac_address(text: str) -> str:
    if not re.fullmatch(r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}", text):
        raise InvalidArgument(f"{text} is not a valid mac address")
    return text


def capabilities(names: list[str]) -> list[str] | None:
    """``CAP_``-prefixed, upper case, sorted and unique, as the docker CLI sends them."""
    def canonical(name: str) -> str:
        name = name.strip().upper()
        return name if name == "ALL" or name.startswith("CAP_") else "CAP_" + name
    return sorted({canonical(n) for n in names}) or None


def key_values(items: list[str]) -> dict[str, str]:
    """``--label``/``--log-opt``'s ``k=v`` (a bare ``k`` is ``k=""``); the last one wins."""
    return {k: v for k, _, v in (item.partition("=") for item in items)}


def bind(spec: str, cwd: Path) -> str:
    """A ``-v`` bind whose host path starts with "." is made absolute against ``cwd``, as the
    docker CLI (23+) does against its working directory."""
    host, sep, rest = spec.partition(":")
    if sep and host.startswith(".") and host:
        host = os.path.normpath(os.path.join(cwd, host))
    return f"{host}{sep}{rest}"


# ---- the body -----------------------------------------------------------------------------


def create_body(args: argparse.Namespace, detach: bool, cwd: Path | None = None) -> dict[str, Any]:
    """The ``POST /containers/create`` body for parsed ``run``/``create`` flags (``create`` is
    ``run`` without ``-d``, as in docker). Relative paths (``-v ./x:/x``, ``--env-file``) are
    taken against ``cwd`` (default: the working directory). The docker CLI also sends every
    zero-valued field Go marshals; those are left out here, as the daemon reads them the same."""
    if args.rm and args.restart not in {"", "no"}:
        raise InvalidArgument("Conflicting options: --restart and --rm")
    base = Path.cwd() if cwd is None else cwd
    env = [e for path in args.env_file for e in env_file(path, base)] + [env_entry(e) for e in args.env]
    volumes: dict[str, dict[str, Any]] = {v: {} for v in args.volume if ":" not in v}
    exposed, bindings = _ports(args)
    body: dict[str, Any] = {
        "Hostname": args.hostname or "", "Domainname": args.domainname or "",
        "User": args.user or "", "AttachStdin": args.interactive and not detach,
        "AttachStdout": not detach, "AttachStderr": not detach, "Tty": args.tty,
        "OpenStdin": args.interactive, "StdinOnce": args.interactive and not detach, "Env": env,
        "Cmd": args.command or None, "Image": args.image, "Volumes": volumes or None,
        "WorkingDir": args.workdir or "",
        "Entrypoint": None if args.entrypoint is None else [args.entrypoint],
        "Labels": key_values(args.label), "ExposedPorts": exposed or None,
        "HostConfig": host_config(args, bindings, base),
    }
    if args.stop_signal:
        body["StopSignal"] = args.stop_signal
    if args.stop_timeout is not None:
        body["StopTimeout"] = flag_value("--stop-timeout", args.stop_timeout, go_int)
    checks = healthcheck(args)
    if checks is not None:
        body["Healthcheck"] = checks
    endpoint = _endpoint(args)
    if endpoint:
        body["NetworkingConfig"] = {"EndpointsConfig": {args.network or "default": endpoint}}
    return body


def _endpoint(args: argparse.Namespace) -> dict[str, Any]:
    """``--network-alias``, ``--ip`` and ``--mac-address``: the endpoint's settings on the
    container's network (API 1.44+ keeps the MAC address there); ``--link`` there too on a
    user-defined network, as the docker CLI sends it (beside ``HostConfig.Links``)."""
    from ..containers.links import user_defined

    endpoint: dict[str, Any] = {}
    if args.network_alias:
        endpoint["Aliases"] = list(args.network_alias)
    if args.link and user_defined(args.network or ""):
        endpoint["Links"] = [link(item) for item in args.link]
    if args.ip:
        endpoint["IPAMConfig"] = {"IPv4Address": args.ip}
    if args.mac_address:
        endpoint["MacAddress"] = mac_address(args.mac_address)
    return endpoint


def healthcheck(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--health-*`` and ``--no-healthcheck`` as the docker CLI turns them into
    ``Config.Healthcheck`` (``None``: the image's stays), with its checks and words."""
    durations = {what: _duration(getattr(args, "health_" + what.replace("-", "_")), what)
                 for what, _ in _HEALTH_DURATIONS}
    retries = flag_value("--health-retries", args.health_retries, go_int) \
        if args.health_retries else 0
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


def host_config(args: argparse.Namespace, bindings: dict[str, list[dict[str, str]]],
                cwd: Path) -> dict[str, Any]:
    config: dict[str, Any] = {
        "Binds": [bind(v, cwd) for v in args.volume if ":" in v] or None,
        "Mounts": [flag_value("--mount", m, parse_mount) for m in args.mount] or None,
        "NetworkMode": args.network or "default", "PortBindings": bindings or None,
        "PublishAllPorts": args.publish_all, "RestartPolicy": restart_policy(args.restart),
        "AutoRemove": args.rm, "CapAdd": capabilities(args.cap_add),
        "CapDrop": capabilities(args.cap_drop), "Privileged": args.privileged,
        "ReadonlyRootfs": args.read_only, "MemorySwappiness": -1,  # -1: the CLI's "not set"
    }
    lists = (("--add-host", "ExtraHosts", args.add_host, extra_host), ("--link", "Links", args.link, link),
             ("--dns", "Dns", args.dns, ip_address),
             ("--dns-search", "DnsSearch", args.dns_search, dns_search),
             ("--device", "Devices", args.device, device), ("--ulimit", "Ulimits", args.ulimit, ulimit))
    for flag, key, items, parse in lists:
        if items:
            config[key] = [parse(item) if key == "Devices" else flag_value(flag, item, parse)
                           for item in items]  # the CLI checks devices after the flags
    if config.get("Ulimits"):  # one per name, the last given, sorted as the CLI's map sends them
        config["Ulimits"] = sorted({u["Name"]: u for u in config["Ulimits"]}.values(),
                                   key=lambda u: str(u["Name"]))
    for key, items in (("DnsOptions", args.dns_option), ("GroupAdd", args.group_add),
                       ("VolumesFrom", args.volumes_from)):
        if items:
            config[key] = list(items)
    if args.sysctl:  # a map: the last value of a key wins
        config["Sysctls"] = dict(flag_value("--sysctl", item, sysctl) for item in args.sysctl)
    if args.tmpfs:
        config["Tmpfs"] = {t.partition(":")[0]: t.partition(":")[2] for t in args.tmpfs}
    config.update(_resources(args))
    if args.init:
        config["Init"] = True
    if args.log_driver or args.log_opt:
        config["LogConfig"] = log_config(args.log_driver or "", args.log_opt)
    if args.security_opt:
        config.update(security_config(args.security_opt))
    if args.userns:  # the CLI's UsernsMode.Valid: "" or "host"
        if args.userns != "host":
            raise InvalidArgument("--userns: invalid USER mode")
        config["UsernsMode"] = args.userns
    if args.cgroupns:  # the CLI's CgroupnsMode.Valid
        if args.cgroupns not in ("host", "private"):
            raise InvalidArgument("--cgroupns: invalid CGROUP mode")
        config["CgroupnsMode"] = args.cgroupns
    return config


_SIZES = (("-m, --memory", "memory", "Memory"), ("--memory-swap", "memory_swap", "MemorySwap"),
          ("--shm-size", "shm_size", "ShmSize"))
_INTS = (("-c, --cpu-shares", "cpu_shares", "CpuShares"), ("--cpu-period", "cpu_period", "CpuPeriod"),
         ("--cpu-quota", "cpu_quota", "CpuQuota"), ("--pids-limit", "pids_limit", "PidsLimit"))


def _resources(args: argparse.Namespace) -> dict[str, Any]:
    """Memory, CPU and pids limits: sizes in go-units' binary units (``--memory-swap -1``:
    unlimited), integers in Go's ParseInt words."""
    out: dict[str, Any] = {}
    for flag, attr, key in _SIZES:
        text = getattr(args, attr)
        if text:
            out[key] = -1 if key == "MemorySwap" and text == "-1" else flag_value(flag, text, ram_bytes)
    for flag, attr, key in _INTS:
        if getattr(args, attr) is not None:
            out[key] = flag_value(flag, getattr(args, attr), go_int)
    if args.cpus:
        out["NanoCpus"] = nano_cpus(args.cpus)
    for key, value in (("CpusetCpus", args.cpuset_cpus), ("CpusetMems", args.cpuset_mems)):
        if value:
            out[key] = value
    return out


def log_config(driver: str, options: list[str]) -> dict[str, Any]:
    """``--log-driver``/``--log-opt``; the ``none`` driver takes no options (the CLI's check)."""
    if driver == "none" and options:
        raise InvalidArgument("invalid logging opts for driver none")
    return {"Type": driver, "Config": key_values(options)}


def security_config(options: list[str]) -> dict[str, Any]:
    """``SecurityOpt`` and, for ``systempaths=unconfined``, empty MaskedPaths and
    ReadonlyPaths (the option itself is not sent), as the docker CLI does."""
    opts = security_opts(options)
    kept = [opt for opt in opts if opt != "systempaths=unconfined"]
    config: dict[str, Any] = {"SecurityOpt": kept}
    if len(kept) != len(opts):
        config["MaskedPaths"], config["ReadonlyPaths"] = [], []
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


def _ports(args: argparse.Namespace) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, str]]]]:
    exposed: dict[str, dict[str, Any]] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in args.publish:
        for key, ip, port in parse_publish(spec):
            exposed[key] = {}
            bindings.setdefault(key, []).append({"HostIp": ip, "HostPort": port})
    for spec in args.expose:
        if ":" in spec:
            raise InvalidArgument(f"invalid port format for --expose: {spec}")
        number, *rest = spec.split("/")  # nat.SplitProtoPort
        proto = rest[0] if rest and rest[0] and number else "tcp"
        try:
            numbers = _port_range(number)
        except ValueError as e:
            raise InvalidArgument(f"invalid range format for --expose: {spec}, error: {e}") from None
        exposed.update({f"{p}/{proto}": {} for p in numbers})
    return exposed, bindings
