"""iptables rules for a bridge network: MASQUERADE for outbound traffic, FORWARD accepts (or
drops, for ``--internal``), each tagged with a ``dockyard:<bridge>`` comment so removal and leak
checks find exactly ours, and a second daemon using the same bridge finds them in place.

They are installed when a network is created or restored (daemon start), never per container:
a container start runs no iptables command. Published ports go through the userland proxy
(:mod:`dockyard.network.proxy`), which also serves 127.0.0.1 without ``route_localnet``.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Final

from .errors import NetworkError, NetworkUnavailable

TAG: Final = "dockyard:"


def _iptables() -> str:
    path = shutil.which("iptables")
    if path is None:
        raise NetworkUnavailable("iptables is not installed: bridge networks need it for NAT "
                                 "(apt-get install iptables)")
    return path


def _rules(subnet: str, bridge: str, internal: bool) -> list[list[str]]:
    tag = ["-m", "comment", "--comment", TAG + bridge]
    if internal:
        return [["-t", "filter", "FORWARD", "-i", bridge, "!", "-o", bridge, *tag, "-j", "DROP"],
                ["-t", "filter", "FORWARD", "-o", bridge, "!", "-i", bridge, *tag, "-j", "DROP"]]
    return [["-t", "nat", "POSTROUTING", "-s", subnet, "!", "-o", bridge, *tag, "-j", "MASQUERADE"],
            ["-t", "filter", "FORWARD", "-i", bridge, *tag, "-j", "ACCEPT"],
            ["-t", "filter", "FORWARD", "-o", bridge, *tag, "-j", "ACCEPT"]]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_iptables(), "-w", *args], capture_output=True, text=True, check=False)


def install(subnet: str, bridge: str, internal: bool) -> None:
    """Insert the network's rules unless present (a restarted daemon finds them in place)."""
    for table, chain, *spec in ((r[1], r[2], *r[3:]) for r in _rules(subnet, bridge, internal)):
        if _run(["-t", table, "-C", chain, *spec]).returncode == 0:
            continue
        done = _run(["-t", table, "-I", chain, *spec])
        if done.returncode != 0:
            raise NetworkError(f"failed to program iptables for {bridge}: {done.stderr.strip()}")


def remove(bridge: str) -> None:
    """Delete every rule tagged with the bridge's name (idempotent)."""
    for table in ("nat", "filter"):
        for line in rules_tagged(table, f"{TAG}{bridge} "):
            _run(["-t", table, "-D", *line.split()[1:]])


def rules_tagged(table: str, tag: str = TAG) -> list[str]:
    """``iptables -S`` lines carrying ``tag`` (quotes stripped, ready to be re-used as args)."""
    listing = _run(["-t", table, "-S"])
    return [line.replace('"', "") for line in listing.stdout.splitlines() if tag in line.replace('"', "") + " "]
