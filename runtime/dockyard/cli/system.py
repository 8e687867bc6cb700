"""System verbs: ``version``, ``info``, ``system df`` (and ``system info``)."""

from __future__ import annotations

import argparse
import platform
import sys
from typing import Any

from .. import API_VERSION, __version__
from ..units import bytes_size
from . import formatting as fmt
from .client import connect

Sub = argparse._SubParsersAction

DF_TABLE = "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
DF_HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
              "Reclaimable": "RECLAIMABLE"}


def client_info(api_version: str | None) -> dict[str, Any]:
    return {"Platform": {"Name": "dockyard"}, "Version": __version__,
            "ApiVersion": api_version or API_VERSION, "DefaultAPIVersion": API_VERSION,
            "GoVersion": f"python{platform.python_version()}", "Os": "linux",
            "Arch": _go_arch(), "Context": "default"}


def _go_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


# ---- version --------------------------------------------------------------------------------


def version(args: argparse.Namespace) -> int:
    api = connect(args)
    data = {"Client": client_info(api.api_version), "Server": api.version()}
    if args.format:
        template, _ = fmt.expand_format(args.format, "")
        print(fmt.render(template, data))
        return 0
    sys.stdout.write(version_text(data["Client"], data["Server"]))
    return 0


def version_text(client: dict[str, Any], server: dict[str, Any]) -> str:
    lines = ["Client:", f" Version:           {client['Version']}",
             f" API version:       {client['ApiVersion']}",
             f" Python version:    {platform.python_version()}",
             f" OS/Arch:           {client['Os']}/{client['Arch']}", "",
             f"Server: {server.get('Platform', {}).get('Name', '')}"]
    for component in server.get("Components") or []:
        details = component.get("Details") or {}
        lines += [f" {component.get('Name')}:", f"  Version:          {component.get('Version')}"]
        if component.get("Name") == "Engine":
            lines += [f"  API version:      {details.get('ApiVersion')} (minimum version {details.get('MinAPIVersion')})",
                      f"  Go version:       {details.get('GoVersion')}",
                      f"  OS/Arch:          {details.get('Os')}/{details.get('Arch')}"]
    return "\n".join(lines) + "\n"


# ---- info -----------------------------------------------------------------------------------


def info(args: argparse.Namespace) -> int:
    api = connect(args)
    data = api.info()
    if args.format:
        data["ClientInfo"] = client_info(api.api_version)
        template, _ = fmt.expand_format(args.format, "")
        print(fmt.render(template, data))
        return 0
    sys.stdout.write(info_text(data, client_info(api.api_version)))
    return 0


def info_text(data: dict[str, Any], client: dict[str, Any]) -> str:
    get = data.get
    lines = ["Client:", f" Version:    {client['Version']}", f" Context:    {client['Context']}", "",
             "Server:", f" Containers: {get('Containers', 0)}", f"  Running: {get('ContainersRunning', 0)}",
             f"  Paused: {get('ContainersPaused', 0)}", f"  Stopped: {get('ContainersStopped', 0)}",
             f" Images: {get('Images', 0)}", f" Server Version: {get('ServerVersion', '')}",
             f" Storage Driver: {get('Driver', '')}"]
    lines += [f"  {k}: {v}" for k, v in get("DriverStatus") or []]
    lines += [f" Logging Driver: {get('LoggingDriver', '')}", f" Cgroup Driver: {get('CgroupDriver', '')}",
              f" Cgroup Version: {get('CgroupVersion', '')}",
              f" Kernel Version: {get('KernelVersion', '')}",
              f" Operating System: {get('OperatingSystem', '')}", f" OSType: {get('OSType', '')}",
              f" Architecture: {get('Architecture', '')}", f" CPUs: {get('NCPU', 0)}",
              f" Total Memory: {bytes_size(get('MemTotal', 0))}", f" Name: {get('Name', '')}",
              f" ID: {get('ID', '')}", f" Docker Root Dir: {get('DockerRootDir', '')}",
              f" Debug Mode: {str(bool(get('Debug'))).lower()}",
              f" Experimental: {str(bool(get('ExperimentalBuild'))).lower()}",
              f" Live Restore Enabled: {str(bool(get('LiveRestoreEnabled'))).lower()}"]
    lines += [f"WARNING: {w}" for w in get("Warnings") or []]
    return "\n".join(lines) + "\n"


# ---- system df ------------------------------------------------------------------------------
# docker 28's formatter/disk_usage.go over the same /system/df answer: the summary rows, and the
# four ``-v`` tables; sizes are go-units' HumanSize (4 digits) except per-row sizes (3 digits).


def df(args: argparse.Namespace) -> int:
    usage = connect(args).df()
    if args.verbose:
        sys.stdout.write(df_verbose(usage))
        return 0
    sys.stdout.write(fmt.format_rows(args.format or "table " + DF_TABLE, df_rows(usage), DF_HEADERS, DF_TABLE))
    return 0


def df_rows(usage: dict[str, Any]) -> list[dict[str, str]]:
    """The TYPE/TOTAL/ACTIVE/SIZE/RECLAIMABLE rows, computed as the docker CLI computes them."""
    images = usage.get("Images") or []
    total = int(usage.get("LayersSize") or 0)
    used = sum(int(i.get("Size", 0)) - int(i.get("SharedSize", 0)) for i in images
               if i.get("Containers", 0) != 0 and -1 not in (i.get("Size", 0), i.get("SharedSize", 0)))
    containers = usage.get("Containers") or []
    ct_sizes = [(int(c.get("SizeRw") or 0), container_active(c)) for c in containers]
    volumes = [v.get("UsageData") or {} for v in usage.get("Volumes") or []]
    vol_sizes = [(int(u.get("Size", 0)), int(u.get("RefCount", 0)) > 0) for u in volumes
                 if u.get("Size", 0) != -1]
    cache = usage.get("BuildCache") or []
    in_use = sum(int(c.get("Size") or 0) for c in cache if c.get("InUse") and not c.get("Shared"))
    return [
        _df_row("Images", len(images), sum(1 for i in images if i.get("Containers", 0) > 0), total, total - used),
        _df_row("Containers", len(containers), sum(1 for c in containers if container_active(c)),
                sum(size for size, _ in ct_sizes), sum(size for size, active in ct_sizes if not active)),
        _df_row("Local Volumes", len(volumes), sum(1 for u in volumes if int(u.get("RefCount", 0)) > 0),
                sum(size for size, _ in vol_sizes), sum(size for size, active in vol_sizes if not active)),
        {**_df_row("Build Cache", len(cache), sum(1 for c in cache if c.get("InUse")), builder_size(cache), 0),
         "Reclaimable": fmt.human_size(builder_size(cache) - in_use, 4)},
    ]


def container_active(container: dict[str, Any]) -> bool:
    """docker counts running, paused and restarting containers as active."""
    state = str(container.get("State", ""))
    return any(word in state for word in ("running", "paused", "restarting"))


def builder_size(cache: list[dict[str, Any]]) -> int:
    """The docker CLI's build cache size: records not shared with anything else."""
    return sum(int(c.get("Size") or 0) for c in cache if not c.get("Shared"))


def _df_row(kind: str, count: int, active: int, size: int, reclaimable: int) -> dict[str, str]:
    text = fmt.human_size(reclaimable, 4)
    if size > 0:
        text += f" ({reclaimable * 100 // size}%)"
    return {"Active": str(active), "Reclaimable": text, "Size": fmt.human_size(size, 4),
            "TotalCount": str(count), "Type": kind}


IMAGES_VERBOSE = ("{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}"
                  "\t{{.UniqueSize}}\t{{.Containers}}")
CONTAINERS_VERBOSE = ("{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}"
                      "\t{{.Status}}\t{{.Names}}")
VOLUMES_VERBOSE = "{{.Name}}\t{{.Links}}\t{{.Size}}"
VOLUMES_HEADERS = {"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}
CACHE_VERBOSE = ("{{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}"
                 "\t{{.UsageCount}}\t{{.Shared}}")
CACHE_HEADERS = {"ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE", "CreatedSince": "CREATED",
                 "LastUsedSince": "LAST USED", "UsageCount": "USAGE", "Shared": "SHARED",
                 "InUse": "IN USE", "Parent": "PARENT", "Description": "DESCRIPTION"}


def df_verbose(usage: dict[str, Any], now: float | None = None) -> str:
    """``docker system df -v``: images, containers, local volumes and build cache tables."""
    from .ctformat import PS_HEADERS
    from .images import IMAGES_HEADERS

    images = [df_image_row(image) for image in usage.get("Images") or []]
    containers = [df_container_row(c, now) for c in usage.get("Containers") or []]
    volumes = [df_volume_row(v) for v in usage.get("Volumes") or []]
    cache = [df_cache_row(c, now) for c in sort_build_cache(usage.get("BuildCache") or [])]
    table = fmt.format_rows
    return (f"Images space usage:\n\n{table('table ' + IMAGES_VERBOSE, images, IMAGES_HEADERS, IMAGES_VERBOSE)}"
            f"\nContainers space usage:\n\n"
            f"{table('table ' + CONTAINERS_VERBOSE, containers, PS_HEADERS, CONTAINERS_VERBOSE)}"
            f"\nLocal Volumes space usage:\n\n"
            f"{table('table ' + VOLUMES_VERBOSE, volumes, VOLUMES_HEADERS, VOLUMES_VERBOSE)}"
            f"\nBuild cache usage: {fmt.human_size(builder_size(usage.get('BuildCache') or []), 4)}\n\n"
            f"{table('table ' + CACHE_VERBOSE, cache, CACHE_HEADERS, CACHE_VERBOSE)}")


def df_image_row(image: dict[str, Any]) -> dict[str, str]:
    """One row per image, under its first tag only (``docker images`` has one per tag)."""
    from .images import image_context, split_tag

    tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
    repo, tag = split_tag(tags[0]) if tags else ("", "")
    if not tag:
        repo, tag = "<none>", "<none>"
    return image_context(image, repo, tag, "<none>", False)


def df_container_row(container: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """A ``ps`` row without the virtual size, volumes counted by the ``local`` driver."""
    from .ctformat import ps_row

    row = ps_row({**container, "SizeRootFs": 0}, False)
    row["LocalVolumes"] = str(sum(1 for m in container.get("Mounts") or [] if m.get("Driver") == "local"))
    if now is not None:
        row["RunningFor"] = fmt.since(float(container.get("Created") or 0), now)
    return row


def df_volume_row(volume: dict[str, Any]) -> dict[str, str]:
    usage = volume.get("UsageData")
    if usage is None:
        return {"Name": str(volume.get("Name", "")), "Links": "N/A", "Size": "N/A"}
    return {"Name": str(volume.get("Name", "")), "Links": str(int(usage.get("RefCount", 0))),
            "Size": fmt.human_size(float(usage.get("Size", 0)), 4)}


def sort_build_cache(cache: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """docker's order: never-used records first, then by last use; ties by ID."""
    return sorted(cache, key=lambda c: (c.get("LastUsedAt") is not None,
                                        _unix(c.get("LastUsedAt")) if c.get("LastUsedAt") else 0.0,
                                        str(c.get("ID", ""))))


def df_cache_row(record: dict[str, Any], now: float | None = None) -> dict[str, str]:
    last_used = record.get("LastUsedAt")
    parents = record.get("Parents") or ([record["Parent"]] if record.get("Parent") else [])
    return {
        "ID": fmt.short_id(str(record.get("ID", ""))) + ("*" if record.get("InUse") else ""),
        "CacheType": str(record.get("Type", "")), "Description": str(record.get("Description", "")),
        "Size": fmt.human_size(float(record.get("Size") or 0)),
        "CreatedSince": fmt.since(_unix(record.get("CreatedAt")), now),
        "LastUsedSince": fmt.since(_unix(last_used), now) if last_used else "",
        "UsageCount": str(int(record.get("UsageCount") or 0)),
        "InUse": _go_bool(record.get("InUse")), "Shared": _go_bool(record.get("Shared")),
        "Parent": fmt.short_id(", ".join(parents)),
    }


def _unix(stamp: Any) -> float:
    """An RFC 3339 time (nanoseconds allowed, as dockerd sends) as a unix timestamp."""
    from datetime import datetime

    text = str(stamp or "1970-01-01T00:00:00Z")
    head, dot, frac = text.partition(".")
    if dot:  # fromisoformat takes at most 6 fraction digits
        digits = "".join(ch for ch in frac if ch.isdigit())
        text = f"{head}.{digits[:6]}{frac[len(digits):]}"
    return datetime.fromisoformat(text).timestamp()


def _go_bool(value: Any) -> str:
    return "true" if value else "false"


# ---- registration ----------------------------------------------------------------------------


def _add_version(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", help="format output with a Go template or 'json'")
    p.set_defaults(func=version)


def _add_info(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", help="format output with a Go template or 'json'")
    p.set_defaults(func=info)


def _add_df(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", help="format output with a Go template, 'table', or 'json'")
    p.add_argument("-v", "--verbose", action="store_true", help="show detailed information on space usage")
    p.set_defaults(func=df)


def _add_prune(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="remove all unused images not just dangling ones")
    p.add_argument("--volumes", action="store_true", help="prune anonymous volumes")
    p.add_argument("--filter", action="append", default=[], help="provide filter values (e.g. 'label=<key>=<value>')")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.set_defaults(func=_system_prune)


def _system_prune(args: argparse.Namespace) -> int:
    """``system prune`` runs with the container verbs (imported only then: ``version`` stays light)."""
    from .containers import system_prune
    from .running import endpoint_guard

    return endpoint_guard(system_prune)(args)


def register(sub: Sub[argparse.ArgumentParser]) -> None:
    _add_version(sub.add_parser("version", help="Show the dockyard version information"))
    _add_info(sub.add_parser("info", help="Display system-wide information"))
    group = sub.add_parser("system", help="Manage dockyard")
    system_sub = group.add_subparsers(dest="system_command", metavar="COMMAND")
    _add_df(system_sub.add_parser("df", help="Show dockyard disk usage"))
    _add_info(system_sub.add_parser("info", help="Display system-wide information"))
    _add_prune(system_sub.add_parser("prune", help="Remove unused data"))
    group.set_defaults(func=lambda _args: _usage(group))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


