"""The network state the daemon keeps across restarts: networks, endpoints, sandboxes.

On disk, one JSON document rewritten atomically (temp → rename) on every change::

    <data-root>/network/state.json
        {"networks":  {<network id>: Network},
         "endpoints": {"<network id>/<container id>": Endpoint},   # the IPAM allocations
         "sandboxes": {<container id>: Sandbox}}                   # netns + published ports
    <data-root>/netns/<container id>                               # pinned netns (bind mount)

It is not fsynced: a start must stay cheap, and after a machine crash no container is running,
so the endpoints and sandboxes a lost write could leave behind are released by the containers'
teardown on the next start anyway. Networks themselves are written with fsync.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Network:
    id: str
    name: str
    driver: str                       # bridge | host | null
    created: str
    subnet: str = ""
    gateway: str = ""
    ip_range: str = ""
    bridge: str = ""                  # the Linux bridge's name
    internal: bool = False
    attachable: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)

    @property
    def predefined(self) -> bool:
        return self.name in ("bridge", "host", "none")


@dataclass
class Endpoint:
    network_id: str
    container_id: str
    name: str                         # the container's name, without "/"
    endpoint_id: str
    ip: str
    mac: str
    host_if: str                      # veth<7 hex> on the bridge
    ifname: str                       # eth0, eth1… in the container
    aliases: list[str] = field(default_factory=list)


@dataclass
class Sandbox:
    container_id: str
    netns: str                        # a pinned netns path, or "host" / "none"
    dir: str                          # the container's directory (hosts, resolv.conf, hostname)
    hostname: str
    ports: list[list[Any]] = field(default_factory=list)  # [proto, host_ip, host_port, container_port]


class State:
    def __init__(self, root: Path) -> None:
        self.path = root / "network" / "state.json"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.networks: dict[str, Network] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.sandboxes: dict[str, Sandbox] = {}
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return
        self.networks = {k: Network(**v) for k, v in data.get("networks", {}).items()}
        self.endpoints = {k: Endpoint(**v) for k, v in data.get("endpoints", {}).items()}
        self.sandboxes = {k: Sandbox(**v) for k, v in data.get("sandboxes", {}).items()}

    def save(self, durable: bool = False) -> None:
        data = {"networks": {k: asdict(v) for k, v in self.networks.items()},
                "endpoints": {k: asdict(v) for k, v in self.endpoints.items()},
                "sandboxes": {k: asdict(v) for k, v in self.sandboxes.items()}}
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def endpoints_of(self, network_id: str) -> list[Endpoint]:
        return [e for e in self.endpoints.values() if e.network_id == network_id]

    def endpoints_for(self, container_id: str) -> list[Endpoint]:
        return [e for e in self.endpoints.values() if e.container_id == container_id]
