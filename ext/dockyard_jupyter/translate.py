"""docker's command-line syntax → docker-py keyword arguments. Pure: no I/O but reading
``--env-file``, so every rule is unit-tested without a daemon."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any

from .errors import CommandUsage

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_bytes(text: str) -> int:
    """``512m`` / ``1g`` / ``1024`` as docker reads them (binary units)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmgt]?)b?", text.strip().lower())
    if not match:
        raise CommandUsage(f"invalid size: '{text}'")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def parse_key_values(items: list[str], flag: str, *, allow_bare: bool = False) -> dict[str, str]:
    """``K=V`` lists (``--label``, ``--build-arg``, ``--opt``); bare ``K`` only where docker
    allows it (taken from the environment for ``--build-arg``)."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise CommandUsage(f"invalid argument '{item}' for \"{flag}\" flag")
        if not sep:
            if not allow_bare:
                raise CommandUsage(f"invalid argument '{item}' for \"{flag}\" flag: "
                                   "expected KEY=VALUE")
            if key not in os.environ:
                continue
            value = os.environ[key]
        result[key] = value
    return result


def parse_env(items: list[str], env_files: list[str], cwd: Path) -> list[str]:
    """``-e K=V`` and ``-e K`` (taken from the kernel's environment), after ``--env-file``s."""
    entries: list[str] = []
    for name in env_files:
        path = resolve_path(name, cwd)
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise CommandUsage(f"open {name}: {exc.strerror}") from None
        entries += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    entries += items
    out: list[str] = []
    for entry in entries:
        key, sep, _ = entry.partition("=")
        if sep:
            out.append(entry)
        elif key in os.environ:
            out.append(f"{key}={os.environ[key]}")
    return out


def resolve_path(path: str, cwd: Path) -> Path:
    expanded = Path(os.path.expanduser(path))
    return expanded if expanded.is_absolute() else (cwd / expanded).resolve()


def _is_host_path(source: str) -> bool:
    """docker treats a bare word as a named volume; a path has a slash or starts with . or ~."""
    return "/" in source or source.startswith((".", "~"))


def parse_volume(spec: str, cwd: Path) -> str:
    """``-v SRC:DST[:MODE]`` with SRC relative to the notebook's directory when it is a path."""
    parts = spec.split(":")
    if len(parts) == 1:
        return spec
    if len(parts) > 3 or not parts[0] or not parts[1]:
        raise CommandUsage(f"invalid volume specification: '{spec}'")
    if _is_host_path(parts[0]):
        parts[0] = str(resolve_path(parts[0], cwd))
    return ":".join(parts)


def parse_publish(specs: list[str]) -> dict[str, Any]:
    """``-p [IP:][HOST:]CONTAINER[/PROTO]`` → docker-py's ``ports`` mapping."""
    ports: dict[str, Any] = {}
    for spec in specs:
        rest, _, proto = spec.partition("/")
        parts = rest.rsplit(":", 2)
        if not parts[-1].isdigit():
            raise CommandUsage(f"invalid containerPort: {parts[-1]}")
        key = f"{parts[-1]}/{proto or 'tcp'}"
        host: Any = None
        if len(parts) == 2:
            host = int(parts[0]) if parts[0] else None
        elif len(parts) == 3:
            host = (parts[0], int(parts[1])) if parts[1] else (parts[0],)
        if key not in ports:
            ports[key] = host
        else:
            existing = ports[key]
            ports[key] = (existing if isinstance(existing, list) else [existing]) + [host]
    return ports


def parse_tmpfs(items: list[str]) -> dict[str, str]:
    return {path: opts for path, _, opts in (item.partition(":") for item in items)}


def parse_filters(items: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandUsage(f"bad format of filter (expected name=value): {item}")
        filters.setdefault(key, []).append(value)
    return filters


def parse_restart(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    name, _, count = text.partition(":")
    policy: dict[str, Any] = {"Name": name}
    if count:
        policy["MaximumRetryCount"] = int(count)
    return policy


def run_kwargs(ns: argparse.Namespace, cwd: Path) -> dict[str, Any]:
    """Keyword arguments for ``client.containers.create`` from ``%docker run`` flags."""
    kw: dict[str, Any] = {
        "command": ns.command or None, "name": ns.name, "tty": ns.tty,
        "stdin_open": ns.interactive, "environment": parse_env(ns.env, ns.env_file, cwd),
        "volumes": [parse_volume(v, cwd) for v in ns.volume],
        "ports": parse_publish(ns.publish), "labels": parse_key_values(ns.label, "--label"),
        "working_dir": ns.workdir, "user": ns.user, "hostname": ns.hostname,
        "entrypoint": ns.entrypoint, "platform": ns.platform, "privileged": ns.privileged,
        "init": ns.init or None, "read_only": ns.read_only, "cap_add": ns.cap_add or None,
        "cap_drop": ns.cap_drop or None, "dns": ns.dns or None, "devices": ns.device or None,
        "tmpfs": parse_tmpfs(ns.tmpfs) or None, "restart_policy": parse_restart(ns.restart),
        "stop_signal": ns.stop_signal, "extra_hosts": _extra_hosts(ns.add_host),
    }
    if ns.network:
        kw["network_mode" if ns.network in {"none", "host", "bridge"} else "network"] = ns.network
    if ns.memory:
        kw["mem_limit"] = parse_bytes(ns.memory)
    if ns.shm_size:
        kw["shm_size"] = parse_bytes(ns.shm_size)
    if ns.cpus:
        kw["nano_cpus"] = int(ns.cpus * 1e9)
    if ns.stop_timeout is not None:
        kw["stop_timeout"] = ns.stop_timeout
    kw["healthcheck"] = parse_healthcheck(ns)
    return {k: v for k, v in kw.items() if v not in (None, [], {}, False)}


_DURATION_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
                   "h": 3600 * 10**9}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str | None, flag: str) -> int:
    """A Go duration (``1m30s``, ``300ms``, ``-1s``) in nanoseconds; 0 when not given."""
    if not text or text in ("0", "+0", "-0"):
        return 0
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    parts = _DURATION.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise CommandUsage(f'invalid argument "{text}" for "{flag}" flag: time: invalid '
                           f'duration "{text}"')
    return sign * round(sum(float(n) * _DURATION_UNITS[u] for n, u in parts))


def parse_healthcheck(ns: argparse.Namespace) -> dict[str, Any] | None:
    """``--health-*``/``--no-healthcheck`` as docker-py's ``healthcheck`` (the docker CLI's
    checks and words); ``None`` leaves the image's."""
    durations = {key: parse_duration(getattr(ns, f"health_{key}"), f"--health-{key.replace('_', '-')}")
                 for key in ("interval", "timeout", "start_period")}
    retries = ns.health_retries or 0
    given = bool(ns.health_cmd or retries or any(durations.values()))
    if ns.no_healthcheck:
        if given:
            raise CommandUsage("--no-healthcheck conflicts with --health-* options")
        return {"test": ["NONE"]}
    if not given:
        return None
    order = ("interval", "timeout", "retries", "start_period")  # the docker CLI's
    for key, value in ((k, retries if k == "retries" else durations[k]) for k in order):
        if value < 0:
            raise CommandUsage(f"--health-{key.replace('_', '-')} cannot be negative")
    return {"test": ["CMD-SHELL", ns.health_cmd] if ns.health_cmd else None, "retries": retries,
            **durations}


def _extra_hosts(items: list[str]) -> dict[str, str] | None:
    hosts: dict[str, str] = {}
    for item in items:
        name, sep, addr = item.partition(":")
        if not sep:
            raise CommandUsage(f"invalid argument '{item}' for \"--add-host\" flag")
        hosts[name] = addr
    return hosts or None


def build_kwargs(ns: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for docker-py's low-level ``APIClient.build``."""
    kw: dict[str, Any] = {
        "tag": ns.tag[0] if ns.tag else None,
        "buildargs": parse_key_values(ns.build_arg, "--build-arg", allow_bare=True) or None,
        "labels": parse_key_values(ns.label, "--label") or None,
        "target": ns.target, "nocache": ns.no_cache, "pull": ns.pull,
        "platform": ns.platform, "decode": True, "rm": getattr(ns, "rm", True),
        "forcerm": getattr(ns, "force_rm", True),
    }
    if getattr(ns, "network", None):
        kw["network_mode"] = ns.network
    return {k: v for k, v in kw.items() if v is not None}


def split_repo_tag(name: str) -> tuple[str, str | None]:
    """``host:5000/repo:tag`` → (``host:5000/repo``, ``tag``); digests stay in the repository."""
    if "@" in name:
        return name, None
    repo, sep, tag = name.rpartition(":")
    if sep and "/" not in tag:
        return repo, tag
    return name, None
