"""System verbs: ``version``, ``info``, ``system df`` (and ``system info``)."""

from __future__ import annotations

import argparse
import platform
import sys
from typing import Any

from .. import API_VERSION, __version__
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
              f" Total Memory: {_binary_size(get('MemTotal', 0))}", f" Name: {get('Name', '')}",
              f" ID: {get('ID', '')}", f" Docker Root Dir: {get('DockerRootDir', '')}",
              f" Debug Mode: {str(bool(get('Debug'))).lower()}",
              f" Experimental: {str(bool(get('ExperimentalBuild'))).lower()}",
              f" Live Restore Enabled: {str(bool(get('LiveRestoreEnabled'))).lower()}"]
    lines += [f"WARNING: {w}" for w in get("Warnings") or []]
    return "\n".join(lines) + "\n"


def _binary_size(size: float) -> str:
    """go-units' ``BytesSize`` (binary units), as ``docker info`` prints memory."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    unit = 0
    while size >= 1024 and unit < len(units) - 1:
        size /= 1024
        unit += 1
    return f"{size:.4g}{units[unit]}"


# ---- system df ------------------------------------------------------------------------------


def df(args: argparse.Namespace) -> int:
    usage = connect(args).df()
    if args.verbose:
        sys.stdout.write(df_verbose(usage))
        return 0
    sys.stdout.write(fmt.format_rows(args.format or "table " + DF_TABLE, df_rows(usage), DF_HEADERS, DF_TABLE))
    return 0


def df_rows(usage: dict[str, Any]) -> list[dict[str, str]]:
    images = usage.get("Images") or []
    total = int(usage.get("LayersSize") or 0)
    used = sum(int(i.get("Size", 0)) - max(int(i.get("SharedSize", 0)), 0)
               for i in images if i.get("Containers", 0) not in (0, -1))
    return [
        _df_row("Images", len(images), sum(1 for i in images if i.get("Containers", 0) > 0), total, total - used),
        _df_row("Containers", len(usage.get("Containers") or []), 0, 0, 0),
        _df_row("Local Volumes", len(usage.get("Volumes") or []), 0, 0, 0),
        _df_row("Build Cache", len(usage.get("BuildCache") or []), 0, 0, 0),
    ]


def _df_row(kind: str, count: int, active: int, size: int, reclaimable: int) -> dict[str, str]:
    text = fmt.human_size(reclaimable, 4)
    if size > 0:
        text += f" ({reclaimable * 100 // size}%)"
    return {"Active": str(active), "Reclaimable": text, "Size": fmt.human_size(size, 4),
            "TotalCount": str(count), "Type": kind}


IMAGES_VERBOSE = ("{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}"
                  "\t{{.UniqueSize}}\t{{.Containers}}")
CONTAINERS_VERBOSE = "CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES"
VOLUMES_VERBOSE = "VOLUME NAME\tLINKS\tSIZE"
CACHE_VERBOSE = "CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED"


def df_verbose(usage: dict[str, Any]) -> str:
    """``docker system df -v``; containers, volumes and build cache are empty so far."""
    from .images import IMAGES_HEADERS, image_rows

    rows = [row for image in usage.get("Images") or [] for row in image_rows(image, False, False)]
    images = fmt.format_rows("table " + IMAGES_VERBOSE, rows, IMAGES_HEADERS, IMAGES_VERBOSE)
    cache = sum(int(c.get("Size", 0)) for c in usage.get("BuildCache") or [])
    return (f"Images space usage:\n\n{images}\nContainers space usage:\n\n"
            f"{fmt.tabwrite([CONTAINERS_VERBOSE])}\nLocal Volumes space usage:\n\n"
            f"{fmt.tabwrite([VOLUMES_VERBOSE])}\nBuild cache usage: {fmt.human_size(cache, 4)}\n\n"
            f"{fmt.tabwrite([CACHE_VERBOSE])}")


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


def register(sub: Sub[argparse.ArgumentParser]) -> None:
    _add_version(sub.add_parser("version", help="Show the dockyard version information"))
    _add_info(sub.add_parser("info", help="Display system-wide information"))
    group = sub.add_parser("system", help="Manage dockyard")
    system_sub = group.add_subparsers(dest="system_command", metavar="COMMAND")
    _add_df(system_sub.add_parser("df", help="Show dockyard disk usage"))
    _add_info(system_sub.add_parser("info", help="Display system-wide information"))
    from .containers import add_system_prune

    add_system_prune(system_sub.add_parser("prune", help="Remove unused data"))
    group.set_defaults(func=lambda _args: _usage(group))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


