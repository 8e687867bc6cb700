"""The network state the daemon keeps across restarts: networks, endpoints, sandboxes.

On disk, one JSON document rewritten atomically (temp → rename) on every change::

    <data-root>/network/state.json
        {"networks":  {<network id>: Network},
         "endpoints": {"<network id>/<container id>": Endpoint},   # the IPAM allocations
         "sandboxes": {<container id>: Sandbox}}                   # netns + published ports
    <data-root>/netns/<container id>                               # pinned netns (bind mount)

Container starts and stops only queue the new document for a writer thread (a rename costs
1–2 ms on a busy disk, twice per container); it is written within ~10 ms (coalescing a burst
into one write), in order, and
``flush`` (daemon stop) waits for it. It is not fsynced: after a machine crash no container
runs, so what a lost write leaves behind is released by the containers' teardown on the next
start. Network create/remove write synchronously with fsync.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..containers.spec import field_names

COALESCE = 0.01
"""Seconds the writer waits before writing a queued snapshot: a stream of starts and stops
(two snapshots per container) is written about once per container, not twice; a daemon killed
meanwhile loses at most this much (see above)."""


@dataclass
class Network:
    id: str
    name: str
    driver: str                       # bridge | host | null
    created: str
    subnet: str = ""
    gateway: str = ""
    ip_range: str = ""
    user_subnet: bool = True          # the create named its subnet: --ip may pick an address
    bridge: str = ""                  # the Linux bridge's name
    internal: bool = False
    attachable: bool = False
    ipv6: bool = False                # EnableIPv6: endpoints get an address from ``subnet6`` too
    subnet6: str = ""                 # the IPv6 pool as given (kept without EnableIPv6, as dockerd)
    gateway6: str = ""                # as given ("": the pool's first address, not shown)
    ip_range6: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    gateway_given: bool = True        # inspect shows an IPv4 Gateway only if asked for or pooled
    aux: dict[str, str] = field(default_factory=dict)   # AuxiliaryAddresses: held, never handed out
    aux6: dict[str, str] = field(default_factory=dict)
    ipam_options: dict[str, str] | None = field(default_factory=dict)  # IPAM.Options as given
    config_only: bool = False         # --config-only: an IPAM/options template, no bridge, no endpoints
    config_from: str = ""             # --config-from: the name of the template it was made from

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
    ip6: str = ""                     # on an EnableIPv6 network
    links: list[str] = field(default_factory=list)  # EndpointsConfig Links: "name[:alias]"


@dataclass
class Sandbox:
    container_id: str
    netns: str                        # a pinned netns path, or "host" / "none"
    dir: str                          # the container's directory (hosts, resolv.conf, hostname)
    hostname: str
    ports: list[list[Any]] = field(default_factory=list)  # [proto, host_ip, host_port, container_port]
    domainname: str = ""
    extra_hosts: list[list[str]] = field(default_factory=list)  # --add-host: [ip, names]
    dns: list[str] = field(default_factory=list)                # --dns
    dns_search: list[str] = field(default_factory=list)         # --dns-search
    dns_options: list[str] = field(default_factory=list)        # --dns-option
    next_if: int = 0                  # ethN names are never reused while it runs, as dockerd's
    gateway: str = ""                 # the network whose endpoint holds the default route
    links: list[list[str]] = field(default_factory=list)
    """Its legacy links' /etc/hosts entries: [ip, ip6, alias, names, child id]
    (``containers.links.HostEntry``), as its start found the children."""


class State:
    def __init__(self, root: Path) -> None:
        self.path = root / "network" / "state.json"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.networks: dict[str, Network] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.sandboxes: dict[str, Sandbox] = {}
        self._cv = threading.Condition()
        self._write_lock = threading.Lock()
        self._pending: tuple[int, str] | None = None
        self._writing = False
        self._writer: threading.Thread | None = None
        self._seq = self._written = 0
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
        """Snapshot now (the caller holds the manager's lock); write now when ``durable``,
        else let the writer thread do it."""
        data = {"networks": {k: _shallow(v) for k, v in self.networks.items()},
                "endpoints": {k: _shallow(v) for k, v in self.endpoints.items()},
                "sandboxes": {k: _shallow(v) for k, v in self.sandboxes.items()}}
        with self._cv:
            self._seq += 1
            item = (self._seq, json.dumps(data))
            if not durable:
                self._pending = item
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write_loop, name="network-state",
                                                    daemon=True)
                    self._writer.start()
                self._cv.notify_all()
                return
            self._pending = None
        self._write(item, durable=True)

    def flush(self) -> None:
        """Wait until every queued snapshot is on disk."""
        with self._cv:
            self._cv.wait_for(lambda: self._pending is None and not self._writing)

    def _write_loop(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._pending is not None)
            time.sleep(COALESCE)  # snapshots queued meanwhile replace this one: one write a burst
            with self._cv:
                item, self._pending = self._pending, None
                self._writing = True
            try:
                assert item is not None
                self._write(item, durable=False)
            finally:
                with self._cv:
                    self._writing = False
                    self._cv.notify_all()

    def _write(self, item: tuple[int, str], durable: bool) -> None:
        """temp → (fsync) → rename, skipping a snapshot older than the one on disk."""
        seq, text = item
        with self._write_lock:
            if seq <= self._written:
                return
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
                if durable:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, self.path)
            self._written = seq

    def endpoints_of(self, network_id: str) -> list[Endpoint]:
        return [e for e in self.endpoints.values() if e.network_id == network_id]

    def endpoints_for(self, container_id: str) -> list[Endpoint]:
        return [e for e in self.endpoints.values() if e.container_id == container_id]


def _shallow(item: Network | Endpoint | Sandbox) -> dict[str, Any]:
    """The fields of ``item`` as they are: ``save`` encodes the snapshot at once, under the
    manager's lock, so ``asdict``'s deep copy of every value (three snapshots per container,
    most of their cost) buys nothing."""
    return {name: getattr(item, name) for name in field_names(item)}
