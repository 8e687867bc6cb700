"""``engine.networks``: the networks the Engine API manages, and the hooks that give each
container its network when it starts (``validate`` at create, ``setup`` before the init is
cloned, ``teardown`` after it exits).

Drivers: ``null`` (the ``none`` network: a fresh netns with only ``lo`` up), ``host`` (the
daemon's netns) and ``bridge`` (the default ``bridge`` network on the Linux bridge ``dockyard0``,
and user-defined networks on ``br-<id>``). A bridge endpoint is a veth pair whose container end
becomes ``eth0`` (``eth1``… for further networks). Per-container work is netlink only (~4 ms);
iptables runs when a network is created or restored. See docs/networking.md.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import hashlib
import ipaddress
import json
import logging
import os
import platform
import secrets
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

from ..containers import links as _links
from ..containers.events import bus_of
from ..containers.spec import Mount
from ..containers.trace import mark
from ..errors import Conflict, DockyardError, InvalidArgument, NotFound
from ..filters import Filters, check_keys, prune_until
from ..store.owners import to_host
from ..store.timefmt import filter_time, parse_unix
from . import files, ipam, nat, netlink, ports
from .errors import (
    Asker,
    ExternalConnectivity,
    NetworkAmbiguous,
    NetworkError,
    NetworkExists,
    NetworkForbidden,
    NetworkNotFound,
    NetworkUnavailable,
    PortAllocated,
)
from .nsconnect import SocketFactory
from .pool import NetnsPool
from .proxy import PortProxy, Published, Target, bind, check_protocol
from .state import Endpoint, Network, Sandbox, State
from .views import (
    DEFAULT_BRIDGE_OPTIONS,
    MACS,
    empty_settings,
    endpoint_settings,
    gateway6,
    network_json,
    prefixlen,
    prefixlen6,
)

log = logging.getLogger("dockyard.network")
T = TypeVar("T")

PREDEFINED = ("bridge", "host", "none", "default")
"""Names no create may take (dockerd's IsPreDefinedNetwork; "default" is the network mode)."""
DEFAULT_BRIDGE = "dockyard0"
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
NO_SUBNET_FOR_IP = ("user specified IP address is supported only when connecting to networks with "
                    "user configured subnets")


class ContainerLike(Protocol):
    """What the hooks read from H1's ContainerRecord."""

    id: str
    name: str
    config: dict[str, Any]
    host_config: dict[str, Any]
    dir: Path
    network_settings: dict[str, Any]


@dataclass
class NetworkSetup:
    netns: str                                   # "none" | "host" | a netns path to join
    mounts: list[Mount] = field(default_factory=list)
    hostname: str = ""
    pending: Callable[[], None] | None = None    # the set-up's rest, when ``setup`` deferred it
    pin: bool = False
    """``netns`` is not made yet: the container's clone makes it and pins it there (``setup``'s
    ``userns``), and ``finish`` must run after that."""

    def finish(self) -> None:
        """What ``setup(defer=True)`` left: the endpoints, the /etc files, published ports and
        events. Runs once; a failure has torn the sandbox down."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending()


def _now() -> str:
    from ..store.timefmt import rfc3339_now
    return rfc3339_now()


def default_bridge_name(data_root: Path) -> str:
    """``dockyard0`` for the default data root; any other root (a second daemon, a test) gets
    its own bridge, so two daemons never hand out the same address on one bridge."""
    from ..config import default_data_root
    if data_root.resolve() == default_data_root().resolve():
        return DEFAULT_BRIDGE
    return "dy" + hashlib.sha256(str(data_root.resolve()).encode()).hexdigest()[:8]


def off_loop(func: Callable[..., T]) -> Callable[..., T]:
    """Run ``func`` on a helper thread when called from a thread whose asyncio loop is running
    (the daemon's main thread): pyroute2's sync API drives its own loop per thread and would
    otherwise try to re-enter the running one."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return func(*args, **kwargs)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(func, *args, **kwargs).result()
    return wrapper


def _new_id() -> str:
    return secrets.token_hex(32)


class NetworkManager:
    """Thread-safe: the API calls it from a thread pool, one lock guards state and plumbing."""

    @off_loop
    def __init__(self, data_root: Path, rootless: bool = False, engine: Any = None,
                 bridge: str | None = None, bip: str | None = None,
                 pools: list[dict[str, Any]] | None = None, ipv6: bool = False,
                 fixed_cidr_v6: str | None = None) -> None:
        self.rootless = rootless
        self.pools = list(pools or [])  # --default-address-pool: where unaddressed networks' subnets come from
        self.engine = engine
        self.events = bus_of(engine)
        self.state = State(Path(data_root))
        self.netns_dir = Path(data_root) / "netns"
        self.netns_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._netlink: netlink.Netlink | None = None
        self._bridges: dict[str, int] = {}
        self._proxy = PortProxy()
        self._ephemeral = ports.EphemeralPorts()
        self._published: dict[str, list[Published]] = {}
        self._factories: dict[str, SocketFactory] = {}
        self._factory_lock = threading.Lock()
        self._insides: dict[str, netlink.InetSandbox] = {}  # deferred set-ups' sockets, by container
        # the daemon's manager (one with an engine) keeps netns ready (see network/pool.py)
        self._pool = NetnsPool(self.netns_dir) if engine is not None and not rootless else None
        self._predefine(bridge or default_bridge_name(Path(data_root)), bip)
        self._default_ipv6(ipv6, fixed_cidr_v6)
        self._restore()

    @off_loop
    def close(self) -> None:
        """Daemon stop. With no container running, the bridges and NAT rules go too (the next
        start makes them again); otherwise they stay for the containers that outlive us."""
        with self._lock:
            if self._pool is not None:
                self._pool.close()
            for cid in list(self._published):
                self._unpublish(cid)
            self._proxy.close()
            if not self.rootless and not any(sb.netns not in ("host", "none")
                                             for sb in self.state.sandboxes.values()):
                for net in self.state.networks.values():
                    if net.bridge and net.id in self._bridges:
                        nat.remove(net.bridge)
                        self.nl.delete_link(net.bridge)
                self._bridges.clear()
            if self._netlink is not None:
                self._netlink.close()
                self._netlink = None
        self.state.flush()

    # ---- start-up -----------------------------------------------------------------------------

    @property
    def nl(self) -> netlink.Netlink:
        if self._netlink is None:
            self._netlink = netlink.Netlink()
        return self._netlink

    def _predefine(self, bridge: str, bip: str | None) -> None:
        """bridge/host/none exist from the first start on, with ids that never change."""
        have = {n.name for n in self.state.networks.values()}
        if "bridge" in have:
            self._reconfigure_default(self.find("bridge"), bridge, bip)
        created = _now()
        for name, driver in (("bridge", "bridge"), ("host", "host"), ("none", "null")):
            if name not in have:
                net = Network(_new_id(), name, driver, created)
                if name == "bridge":
                    net.bridge = bridge
                    net.options = {**DEFAULT_BRIDGE_OPTIONS, BRIDGE_NAME_OPTION: bridge}
                    if bip or not self.rootless:
                        self._address_default_bridge(net, bip)
                self.state.networks[net.id] = net
        self.state.save(durable=True)

    def _reconfigure_default(self, net: Network, bridge: str, bip: str | None) -> None:
        """A changed ``-b``/``--bip`` takes effect on the next start while nothing uses the network."""
        gateway = bip.split("/")[0] if bip else net.gateway
        subnet = str(ipam.parse_subnet(bip)) if bip else net.subnet
        if (bridge, gateway, subnet) == (net.bridge, net.gateway, net.subnet):
            return
        if self.state.endpoints_of(net.id):
            log.warning("default bridge in use: keeping %s %s/%s", net.bridge, net.gateway, net.subnet)
            return
        if not self.rootless:
            nat.remove(net.bridge)
            self.nl.delete_link(net.bridge)
        net.bridge, net.options[BRIDGE_NAME_OPTION] = bridge, bridge
        net.gateway, net.subnet = gateway, subnet
        if not bip and not self.rootless:
            self._address_default_bridge(net, None)

    def _default_ipv6(self, ipv6: bool, fixed_cidr_v6: str | None) -> None:
        """``--ipv6``/``--fixed-cidr-v6``: the default bridge's IPv6 pool, as dockerd 20.10 sets
        it up at each start (kept and shown without ``--ipv6``, giving no addresses then). A
        change while containers use the network waits for them, as ``--bip``'s; otherwise the
        bridge is made again without the old addresses."""
        net = self.find("bridge")
        subnet6 = str(ipam.parse_subnet6(fixed_cidr_v6)) if fixed_cidr_v6 else ""
        if (net.ipv6, net.subnet6) == (ipv6, subnet6):
            return
        if self.state.endpoints_of(net.id):
            log.warning("default bridge in use: keeping its IPv6 settings (%s)", net.subnet6 or "none")
            return
        if not self.rootless and net.subnet6 and net.bridge:
            nat.remove(net.bridge)
            self.nl.delete_link(net.bridge)
        net.ipv6, net.subnet6 = ipv6, subnet6
        self.state.save(durable=True)

    def _address_default_bridge(self, net: Network, bip: str | None) -> None:
        """``--bip``, else the address a bridge left by an earlier daemon has, else 172.30/16 or
        the first private /16 no host route or other network uses (the first free subnet of the
        ``--default-address-pool``s when given, as dockerd)."""
        if bip:
            iface = ipam.parse_subnet(bip)
            net.subnet, net.gateway = str(iface), bip.split("/")[0]
            return
        taken = self.nl.routes(exclude={net.bridge}) + self._subnets()
        subnet = ipam.free_subnet(taken, None if self.pools else ipam.DEFAULT_BRIDGE_SUBNET, self.pools)
        net.subnet, net.gateway = str(subnet), str(ipam.default_gateway(subnet))

    def _subnets(self) -> list[ipam.IPv4Net]:
        return [ipam.IPv4Net(n.subnet) for n in self.state.networks.values()
                if n.subnet and not n.config_only]  # a template holds no pool

    def _restore(self) -> None:
        """Bridges and NAT back in place, published ports of running containers re-served."""
        for net in list(self.state.networks.values()):
            if net.driver == "bridge" and net.subnet and not self.rootless:
                try:
                    self._bridge(net)
                except Exception as exc:  # noqa: BLE001 - a daemon must start; use reports it
                    log.warning("network %s: %s", net.name, exc)
        for sb in list(self.state.sandboxes.values()):
            if sb.ports and (sb.netns in ("host", "none") or os.path.exists(sb.netns)):
                try:
                    self._publish(sb, self._target(sb), [tuple(p) for p in sb.ports])
                except Exception as exc:  # noqa: BLE001
                    log.warning("container %s: ports not re-published: %s", sb.container_id[:12], exc)

    def _bridge(self, net: Network) -> int:
        """The bridge's ifindex, creating the bridge and its NAT rules when missing."""
        index = self._bridges.get(net.id)
        if index is None:
            if self.rootless:
                raise NetworkUnavailable(
                    f"bridge network {net.name} needs CAP_NET_ADMIN in the host network namespace "
                    f"to create {net.bridge} (the daemon runs as uid {os.getuid()}): run it as root, "
                    "or use --network host or --network none")
            netlink.ip_forward()
            index = self.nl.ensure_bridge(net.bridge, net.gateway, prefixlen(net))
            if net.ipv6 and net.subnet6:  # dockerd's bridge: the gateway and fe80::1 (no NAT)
                netlink.ipv6_forward()
                self.nl.add_address6(index, gateway6(net), prefixlen6(net))
                self.nl.add_address6(index, "fe80::1", 64)
            nat.install(net.subnet, net.bridge, net.internal)
            self._bridges[net.id] = index
        return index

    # ---- networks ---------------------------------------------------------------------------

    def find(self, name_or_id: str, asker: Asker = "engine") -> Network:
        """By full id, then exact name, then id prefix (dockerd's order). Two networks may
        share a name (a create with ``CheckDuplicate`` false): a name or prefix more than one
        answers to is ambiguous, worded for ``asker`` as dockerd words it."""
        net = self.state.networks.get(name_or_id)
        if net is not None:
            return net
        nets = list(self.state.networks.values())
        for found, by_name in (([n for n in nets if n.name == name_or_id], True),
                               ([n for n in nets if name_or_id and n.id.startswith(name_or_id)], False)):
            if len(found) == 1:
                return found[0]
            if found:
                raise NetworkAmbiguous(name_or_id, len(found), by_name, asker)
        raise NetworkNotFound(name_or_id)

    @off_loop
    def create(self, body: dict[str, Any], check_duplicate: bool = True) -> dict[str, str]:
        """A user-defined bridge network, or a ``--config-only`` template (no bridge, never
        joined) or one made ``--config-from`` such a template; dockerd 20.10's checks in its
        order, and its words. A name a network has already is refused only when
        ``check_duplicate`` (the request's ``CheckDuplicate`` below API 1.44, see
        ``api.compat``); otherwise a second network takes it, with dockerd 20.10's warning.
        Networks are keyed by id; each has its own bridge (``br-<id>``)."""
        name = body.get("Name") or ""
        if not name:
            raise InvalidArgument("network name must not be empty")
        if name in PREDEFINED:
            raise NetworkForbidden(f"operation is not permitted on predefined {name} network ")
        configs = ((body.get("IPAM") or {}).get("Config")) or []
        for config in configs:
            ipam.check_pool_subnet(str(config.get("Subnet") or ""))
        if body.get("ConfigOnly"):
            _check_config_only(body)
        else:
            _check_operator_fields(body)
        with self._lock:
            same = [n for n in self.state.networks.values() if n.name == name]
            if same and check_duplicate:
                raise NetworkExists(name)
            if body.get("ConfigOnly"):
                net = _template(_new_id(), name, _now(), body)
            else:
                if self.rootless:
                    self._bridge(Network("", name, "bridge", "", bridge=f"br-{name}"))  # raises, says why
                template = ""
                if (body.get("ConfigFrom") or {}).get("Network"):
                    body, template = self._from_template(body)
                net = self._new_bridge_network(name, body, template)
                self._bridge(net)
            self.state.networks[net.id] = net
            self.state.save(durable=True)
        self._told(net, "create")
        return {"Id": net.id,
                "Warning": f"Network with name {name} (id : {same[0].id}) already exists" if same else ""}

    def _from_template(self, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The create as its ``ConfigFrom`` network makes it (and that template's name): the
        template's IPAM config, driver options and labels; a create that names its own is
        refused, as dockerd."""
        wanted = str((body.get("ConfigFrom") or {}).get("Network") or "")
        template = next((n for n in self.state.networks.values()
                         if n.config_only and wanted in (n.name, n.id)), None)
        if template is None:
            raise NotFound(f'configuration network "{wanted}" does not exist')
        ipam_body = body.get("IPAM") or {}
        if ipam_body.get("Config") or ipam_body.get("Options") or body.get("EnableIPv6") \
                or body.get("Labels") or ipam_body.get("Driver") not in (None, "", "default"):
            raise NetworkForbidden("user specified configurations are not supported if the network "
                                   "depends on a configuration network")
        if body.get("Options"):
            raise NetworkForbidden("network driver options are not supported if the network "
                                   "depends on a configuration network")
        return {**body, "Options": template.options, "EnableIPv6": template.ipv6, "Labels": template.labels,
                "IPAM": {"Options": template.ipam_options, "Config": template_pools(template)}}, template.name

    def _new_bridge_network(self, name: str, body: dict[str, Any], config_from: str = "") -> Network:
        net_id = _new_id()
        options = {str(k): str(v) for k, v in (body.get("Options") or {}).items()}
        net = Network(net_id, name, "bridge", _now(), internal=bool(body.get("Internal")),
                      attachable=bool(body.get("Attachable")), options=options,
                      labels={str(k): str(v) for k, v in (body.get("Labels") or {}).items()},
                      bridge=options.get(BRIDGE_NAME_OPTION) or f"br-{net_id[:12]}",
                      ipam_options=_ipam_options(body), config_from=config_from)
        configs = ((body.get("IPAM") or {}).get("Config")) or []
        v4 = [c for c in configs if not ipam.is_ipv6(c.get("Subnet") or "")]
        v6 = [c for c in configs if ipam.is_ipv6(c.get("Subnet") or "")]
        if len(v4) > 1 or len(v6) > 1:
            raise NetworkForbidden("bridge driver doesn't support multiple subnets")
        config: dict[str, Any] = v4[0] if v4 else {}
        if config.get("Subnet"):
            subnet = ipam.parse_subnet(config["Subnet"])
            if any(subnet.overlaps(other) for other in self._subnets()):
                raise NetworkForbidden("Pool overlaps with other one on this address space")
        else:
            subnet = ipam.free_subnet(self.nl.routes(exclude=set()) + self._subnets(), pools=self.pools)
            net.user_subnet = False
        ip_range = None
        if config.get("IPRange"):  # outside the subnet too, as dockerd 20.10 (see ipam.range_in)
            ip_range = ipam.parse_ip_range(config["IPRange"], subnet)
            net.ip_range = str(ip_range)
        net.gateway_given = bool(config.get("Gateway")) or not net.user_subnet
        gateway = config.get("Gateway") or str(ipam.default_gateway(subnet, ip_range))
        ipam.check_gateway(gateway)
        net.subnet, net.gateway = str(subnet), str(ipam.gateway_address(gateway, subnet))
        net.aux = ipam.auxiliary(config.get("AuxiliaryAddresses") or {}, subnet, [net.gateway], name)
        net.ipv6 = bool(body.get("EnableIPv6"))
        if v6:
            self._pool6(net, v6[0])
        elif net.ipv6:
            raise NotFound(ipam.NO_IPV6_POOL)
        return net

    def _pool6(self, net: Network, config: dict[str, Any]) -> None:
        """The IPv6 pool of a create's IPAM config, as dockerd keeps it: addresses come from it
        only with ``EnableIPv6``, its gateway (unless given, the first of its range: see
        ``views.gateway6``) is the bridge's."""
        subnet = ipam.parse_subnet6(config["Subnet"])
        if any(subnet.overlaps(ipaddress.IPv6Network(n.subnet6))
               for n in self.state.networks.values() if n.subnet6 and not n.config_only):
            raise NetworkForbidden("Pool overlaps with other one on this address space")
        net.subnet6 = str(subnet)
        if config.get("Gateway"):
            ipam.check_gateway(config["Gateway"])
            net.gateway6 = str(ipam.gateway6_address(config["Gateway"], subnet))
        if config.get("IPRange"):
            net.ip_range6 = str(ipam.parse_ip_range(config["IPRange"], subnet))  # as IPv4's
        net.aux6 = ipam.auxiliary(config.get("AuxiliaryAddresses") or {}, subnet, [gateway6(net)], net.name)

    def list_networks(self, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        _check_list_filters(filters or {})
        with self._lock:
            nets = [n for n in self.state.networks.values()
                    if _matches(n, filters or {}, len(self.state.endpoints_of(n.id)))]
            return [network_json(n, [], with_containers=False) for n in nets]

    def inspect(self, name_or_id: str) -> dict[str, Any]:
        with self._lock:
            net = self.find(name_or_id, "inspect")
            return network_json(net, self.state.endpoints_of(net.id))

    @off_loop
    def remove(self, name_or_id: str) -> None:
        with self._lock:
            net = self.find(name_or_id, "remove")
            if net.predefined:
                raise NetworkForbidden(f"{net.name} is a pre-defined network and cannot be removed")
            if self.state.endpoints_of(net.id):
                raise NetworkForbidden(f"error while removing network: network {net.name} id "
                                       f"{net.id} has active endpoints")
            if any(n.config_from == net.name for n in self.state.networks.values()):
                raise NetworkForbidden("error while removing network: configuration network "
                                       f'"{net.name}" is in use')
            self._destroy(net)

    def _destroy(self, net: Network) -> None:
        if not self.rootless and not net.config_only:
            nat.remove(net.bridge)
            self.nl.delete_link(net.bridge)
        self._bridges.pop(net.id, None)
        del self.state.networks[net.id]
        self.state.save(durable=True)
        self._told(net, "destroy")

    def _told(self, net: Network, action: str, container: str = "") -> None:
        """dockerd's network events: create, destroy, and connect/disconnect of a container
        (at its start and exit too, for every network it is on, none and host included)."""
        attrs = {"container": container} if container else {}
        self.events.emit("network", action, net.id, {**attrs, "name": net.name, "type": net.driver})

    @off_loop
    def prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """User-defined networks without endpoints, as dockerd 20.10: a stopped or created
        container naming one does not keep it (its next start says the network is gone)."""
        check_keys(filters or {}, PRUNE_FILTERS)
        prune_until(filters or {})  # a bad one fails the prune before anything goes
        with self._lock:
            deleted = []
            for net in list(self.state.networks.values()):
                if (not net.predefined and not net.config_only and not self.state.endpoints_of(net.id)
                        and _matches(net, filters or {})):
                    self._destroy(net)
                    deleted.append(net.name)
        return {"NetworksDeleted": deleted or None}  # Go's nil slice when none went

    # ---- container hooks ----------------------------------------------------------------------

    @property
    def default_network(self) -> str:
        """What ``NetworkMode: default`` means: the bridge, or ``none`` for a rootless daemon
        (it cannot make bridges; its containers get a private netns, ports through the proxy)."""
        return "none" if self.rootless else "bridge"

    def mode(self, record: ContainerLike) -> str:
        """``HostConfig.NetworkMode`` resolved: "default" is :attr:`default_network`."""
        mode = str(record.host_config.get("NetworkMode") or "default")
        if mode == "default":
            return self.default_network
        return mode

    @off_loop
    def validate(self, record: ContainerLike) -> None:
        """At create (the published ports were checked before the image was looked up, in
        ``containers.create.validate_host_config``): fills ``record.network_settings`` with the
        requested endpoints (``Networks`` may carry NetworkingConfig.EndpointsConfig). A network
        there is none of (``foo``, ``foo:bar``) is no refusal: dockerd 20.10's create records
        the names as given (:func:`_as_named`) and its start answers 404 "network foo:bar not
        found". A ``container:x`` mode is recorded with x's full id when there is an x, as
        dockerd 20.10's create does; its create takes a name no container has (the start
        fails, 404)."""
        _check_macs(record)
        settings = empty_settings()
        mode = self.mode(record)
        if mode == "host":
            record.config["Hostname"] = _host_mode_hostname(record)
        if _disabled(record):  # on no network, as dockerd's updateContainerNetworkSettings
            record.network_settings = settings
            return
        if mode.startswith("container:"):
            with contextlib.suppress(NotFound):
                donor = self._container(mode.partition(":")[2])
                record.host_config["NetworkMode"] = f"container:{donor.id}"
            record.network_settings = settings
            return
        with self._lock:
            try:
                named = [(net.name, req) for net, req in self._requested(record, mode)]
            except (NetworkNotFound, NetworkAmbiguous):
                named = _as_named(record, mode)
            # NetworkID "" until a start, as dockerd's created container shows it
            settings["Networks"] = {name: endpoint_settings(None, None, req) for name, req in named}
            settings["Ports"] = {}
            settings[MACS] = {name: str(req["MacAddress"]) for name, req in named
                              if req.get("MacAddress")}
        record.network_settings = settings

    def _requested(self, record: ContainerLike, mode: str) -> list[tuple[Network, dict[str, Any]]]:
        """The networks a start joins: the mode's own unless it was disconnected (the record's
        ``Networks`` lack it), then those connected or named in ``EndpointsConfig``."""
        settings = record.network_settings or {}
        recorded = settings.get("Networks")
        macs = settings.get(MACS) or {}  # a live endpoint's MacAddress may be a generated one
        asked = {name: {**(ep or {}), "MacAddress": macs.get(name, "")}
                 for name, ep in (recorded or {}).items()}
        asked.update((settings.get("_requested") or {}).get("EndpointsConfig") or {})
        chosen: dict[str, tuple[Network, dict[str, Any]]] = {}
        try:
            primary = self._find_recorded(mode, recorded)
        except NetworkAmbiguous:
            if recorded is None:
                raise
        else:  # a start joins what the record names (by id where it has one), as dockerd's
            if recorded is None or primary.name in recorded:
                chosen[primary.id] = (primary, {})
        for key, req in asked.items():
            net = self._find_recorded(key, recorded)
            chosen[net.id] = (net, req or {})
        out = list(chosen.values())
        private = next((n for n, _ in out if n.driver in ("host", "null") and not n.config_only), None)
        if len(out) > 1 and private is not None:
            raise InvalidArgument("container cannot be connected to multiple networks with one of the "
                                  f"networks in private ({private.name}) mode")
        if self.rootless and any(n.driver == "bridge" for n, _ in out):
            self._bridge(next(n for n, _ in out if n.driver == "bridge"))
        return out

    def _find_recorded(self, name: str, recorded: dict[str, Any] | None) -> Network:
        """A network a container was created or ran on: a user-defined one by the
        ``NetworkID`` its last run recorded, when it has one (dockerd's getNetworkID), so a
        network given its name since (a second one, or one made after it was removed) is not
        the one it joins — gone, it is named by that id —; else by name."""
        network_id = str(((recorded or {}).get(name) or {}).get("NetworkID") or "")
        if network_id and _user_defined(name):
            return self.find(network_id)
        return self.find(name)

    @off_loop
    def setup(self, record: ContainerLike, defer: bool = False, userns: bool = False,
              links: Iterable[Sequence[str]] = ()) -> NetworkSetup:
        """Before the init is cloned: netns, endpoints, files, published ports. ``defer``: the
        netns only (what a spec names), the rest left to ``finish`` — which a start runs while
        the init makes its mounts, and which must be done before the init binds the files.
        ``userns`` (a remapped container's, ``defer`` with it): the container's own netns is
        left to its clone, inside its user namespace — which must own the netns, as runc makes
        it, for root there to have its network capabilities (raw sockets, ``NET_ADMIN``) —
        and pinned at the path by the launcher (``NetworkSetup.pin``) before ``finish``.
        ``links``: its legacy links' /etc/hosts entries (``containers.links.HostEntry``)."""
        with self._lock:
            if record.id in self.state.sandboxes:
                self._teardown(record)
            try:
                setup = self._setup(record, userns, links)
            except BaseException:
                self._teardown(record, failed=True)
                raise
        if not defer:
            setup.finish()
        return setup

    def _setup(self, record: ContainerLike, userns: bool = False,
               links: Iterable[Sequence[str]] = ()) -> NetworkSetup:
        mode = self.mode(record)
        directory = Path(record.dir)
        directory.mkdir(parents=True, exist_ok=True)
        disabled = _disabled(record)
        if disabled:
            mode = "none"  # its own network namespace, whatever the mode (see _disabled)
        if mode.startswith("container:"):
            return self._setup_joined(record, mode.split(":", 1)[1])
        hostname = str(record.config.get("Hostname") or "") or record.id[:12]
        if mode == "host":
            hostname = _host_mode_hostname(record)
            sb = Sandbox(record.id, "host", str(directory), hostname)
        elif mode == "none" and self.rootless:
            sb = Sandbox(record.id, "none", str(directory), hostname)
        else:
            sb = Sandbox(record.id, str(self.netns_dir / record.id), str(directory), hostname)
        self._name_options(sb, record)
        sb.links = [list(entry) for entry in links]
        self.state.sandboxes[record.id] = sb
        requested = [] if mode == "host" or disabled else self._requested(record, mode)
        if any(net.config_only for net, _ in requested):
            raise NetworkForbidden(CONFIG_ONLY_ENDPOINT)
        for net, req in requested:  # refused before the init is cloned, as by dockerd
            _link_local_ips(req)
            _check_links(net, req)
        mark(record.id, "net.requested")
        inside = None
        pin = userns and sb.netns not in ("host", "none")
        if sb.netns not in ("host", "none") and not pin:
            bridged = any(n.driver == "bridge" for n, _ in requested)
            ready = self._pool.take(sb.netns, bridged) if self._pool else None
            inside = ready.inside if ready else netlink.create_netns(sb.netns, bridged)
            if inside is not None:
                self._insides[record.id] = inside
            mark(record.id, "net.netns")
        for net in [self.find("host")] if mode == "host" else [n for n, _req in requested]:
            self._told(net, "connect", record.id)  # here: before the volumes' mount events
        mounts = _file_mounts(directory, ("hostname",) if disabled else _ETC_FILES)
        if pin:  # copied by the launcher before the clone; ``finish`` writes them in place
            for m in mounts:
                files.ensure(Path(m.source), self._files_owner())
        return NetworkSetup(sb.netns, mounts, hostname,
                            functools.partial(self._finish, record, sb, mode, requested), pin)

    @off_loop
    def _finish(self, record: ContainerLike, sb: Sandbox, mode: str,
                requested: list[tuple[Network, dict[str, Any]]]) -> None:
        with self._lock:
            try:
                self._finish_locked(record, sb, mode, requested)
            except BaseException:
                self._teardown(record, failed=True)
                raise

    def _finish_locked(self, record: ContainerLike, sb: Sandbox, mode: str,
                       requested: list[tuple[Network, dict[str, Any]]]) -> None:
        if self.state.sandboxes.get(record.id) is not sb:
            raise NetworkError(f"container {record.id[:12]}: its network was torn down meanwhile")
        inside = self._insides.pop(record.id, None)
        if inside is None and sb.netns not in ("host", "none") and \
                any(n.driver == "bridge" for n, _ in requested):  # pinned by the clone
            inside = netlink.open_netns(sb.netns)
        if inside is not None:
            with inside:
                bridged = [n for n in requested if n[0].driver == "bridge"]
                for net, req in sorted(bridged, key=lambda n: _join_order(n[0])):
                    self._attach(sb, inside, net, req, record.name)
            mark(record.id, "net.attached")
        disabled = _disabled(record)
        if not disabled:
            self._publish_record(record, sb)
        self.state.save()
        mark(record.id, "net.saved")
        self._write_files(sb, host_mode=mode == "host", hostname_only=disabled)
        mark(record.id, "net.files")
        self._refresh_peers(record.id)
        self._refresh_link_parents(record.id)
        self._fill_settings(record, requested)
        mark(record.id, "net.done")

    def _attach(self, sb: Sandbox, inside: netlink.InetSandbox, net: Network, req: dict[str, Any],
                name: str) -> Endpoint:
        """An endpoint on ``net`` as the sandbox's next ethN; it takes the default route when
        no endpoint holds it (internal networks never do: they have no way out here)."""
        wanted = ((req.get("IPAMConfig") or {}).get("IPv4Address")) or None
        if wanted:
            _check_user_ip(net)
        link_local = _link_local_ips(req)
        index = self._bridge(net)
        subnet = ipam.IPv4Net(net.subnet)
        used = [e.ip for e in self.state.endpoints_of(net.id)]
        used += [net.gateway, *ipam.held_auxiliary(net.aux)]
        ip_range = ipam.range_in(subnet, ipam.IPv4Net(net.ip_range)) if net.ip_range else None
        addr = ipaddress.IPv4Address(ipam.allocate(subnet, used, ip_range, wanted, f"{net.name} ({net.id})"))
        mac = _mac(req.get("MacAddress")) or ipam.mac_for(addr)
        addr6 = self._allocate6(net, req, mac)
        mark(sb.container_id, "net.bridge-ready")
        ifname = f"eth{sb.next_if}"
        ep = Endpoint(net.id, sb.container_id, name.lstrip("/"), _new_id(), str(addr), mac,
                      "veth" + secrets.token_hex(4)[:7], ifname, list(req.get("Aliases") or []),
                      addr6, links=[] if net.predefined else [str(lk) for lk in req.get("Links") or []])
        self.state.endpoints[f"{net.id}/{sb.container_id}"] = ep
        sb.next_if += 1
        try:
            self.nl.add_veth(ep.host_if, sb.netns, index, mac, ifname)
        except NetworkError:  # the bridge went away behind our back: make it again, once
            self._bridges.pop(net.id, None)
            self.nl.add_veth(ep.host_if, sb.netns, self._bridge(net), mac, ifname)
        mark(sb.container_id, "net.veth")
        routes = not sb.gateway and not net.internal
        inside.configure(ifname, ep.ip, subnet.prefixlen, net.gateway if routes else None)
        if ep.ip6:
            netlink.enable_ipv6(sb.netns, ifname)
            netlink.configure6(sb.netns, ifname, ep.ip6, prefixlen6(net),
                               gateway6(net) if routes else None)
        if link_local:
            netlink.add_addresses(sb.netns, ifname, link_local)
        if routes:
            sb.gateway = net.id
        mark(sb.container_id, "net.configured")
        return ep

    def _allocate6(self, net: Network, req: dict[str, Any], mac: str) -> str:
        """An endpoint's IPv6 address (``--ip6``, else the pool's lowest free one; on the
        default bridge with at least 48 host bits, the one its MAC makes) on an ``EnableIPv6``
        network; "" on others. An ``--ip6`` is refused in ``--ip``'s words on the default
        bridge and where no IPv6 subnet was given, as dockerd's per-family check."""
        wanted = ((req.get("IPAMConfig") or {}).get("IPv6Address")) or None
        if wanted:
            _check_user_ip6(net)
        if not (net.ipv6 and net.subnet6):
            return ""
        subnet = ipaddress.IPv6Network(net.subnet6)
        used = [e.ip6 for e in self.state.endpoints_of(net.id) if e.ip6]
        used += [gateway6(net), *ipam.held_auxiliary(net.aux6)]
        if net.predefined and subnet.prefixlen <= 80:
            wanted = str(ipam.mac_address6(subnet, mac))
        ip_range = ipam.range_in(subnet, ipaddress.IPv6Network(net.ip_range6)) if net.ip_range6 else None
        return str(ipam.allocate(subnet, used, ip_range, wanted, f"{net.name} ({net.id})"))

    def _reroute(self, sb: Sandbox) -> None:
        """The default route's endpoint went: the first one left in join order takes it over,
        as libnetwork picks a new gateway endpoint."""
        sb.gateway = ""
        left = [self.state.networks[ep.network_id] for ep in self.state.endpoints_for(sb.container_id)
                if ep.network_id in self.state.networks]
        for net in sorted(left, key=_join_order):
            if not net.internal:
                with netlink.open_netns(sb.netns) as inside:
                    inside.route_default(net.gateway)
                ep = self.state.endpoints[f"{net.id}/{sb.container_id}"]
                if ep.ip6:
                    netlink.configure6(sb.netns, ep.ifname, None, 0, gateway6(net))
                sb.gateway = net.id
                return

    def _setup_joined(self, record: ContainerLike, other: str) -> NetworkSetup:
        """``--network container:x``: x's netns and x's /etc files — those of the container
        whose namespace x itself joined, when x is a running joiner too (dockerd starts such
        a chain: each link's files are the namespace's owner's)."""
        containers = getattr(self.engine, "containers", None) if self.engine is not None else None
        if containers is None:
            raise NotFound(f"No such container: {other}")
        target = first = containers.get(other)
        seen = set()
        while (sb := self.state.sandboxes.get(target.id)) is None:
            mode = self.mode(target)
            if not (mode.startswith("container:") and target.running) or target.id in seen:
                raise Conflict(f"cannot join network of a non running container: {first.id}")
            seen.add(target.id)
            target = containers.get(mode.split(":", 1)[1])
        return NetworkSetup(sb.netns, _file_mounts(Path(sb.dir)), sb.hostname)

    @off_loop
    def teardown(self, record: ContainerLike) -> None:
        """After the container exited: idempotent, releases addresses, ports, netns, veths."""
        with self._lock:
            self._teardown(record)
            if isinstance(record.network_settings, dict):
                self._clear_settings(record)

    def _teardown(self, record: ContainerLike, failed: bool = False) -> None:
        """``failed``: a start's set-up that failed — its veths are deleted before the start
        answers, as dockerd's endpoint removal does (an exit's go with the netns, reaped later)."""
        inside = self._insides.pop(record.id, None)
        if inside is not None:  # a deferred set-up that never finished
            inside.close()
        self._unpublish(record.id)
        eps = self.state.endpoints_for(record.id)
        for ep in eps:
            del self.state.endpoints[f"{ep.network_id}/{ep.container_id}"]
        sb = self.state.sandboxes.pop(record.id, None)
        path = sb.netns if sb else str(self.netns_dir / record.id)
        if path not in ("host", "none"):
            netlink.delete_netns(path)
        if eps or sb is not None:  # not again at ``rm`` of a container whose exit tore it down
            self.state.save()
            for net in self._networks_of(record):
                self._told(net, "disconnect", record.id)
        if eps and failed:
            for ep in eps:
                with contextlib.suppress(NetworkError):
                    self.nl.delete_link(ep.host_if)
        elif eps:
            self._reap([ep.host_if for ep in eps])
            self._refresh_peers(record.id, [ep.network_id for ep in eps])

    def _networks_of(self, record: ContainerLike) -> list[Network]:
        """The networks the record names: by the ids its start recorded, else by name."""
        recorded = (record.network_settings or {}).get("Networks") or {}
        found = (self._recorded_network(name, recorded) for name in recorded)
        return [net for net in found if net is not None]

    def _reap(self, names: list[str]) -> None:
        """The kernel removes a veth with its netns, asynchronously; this makes sure of it a
        second later (a process still inside the netns would keep it on the bridge)."""
        def later() -> None:
            try:
                link = netlink.Netlink()
                try:
                    for name in names:
                        link.delete_link(name)
                finally:
                    link.close()
            except Exception as exc:  # noqa: BLE001 - best effort, logged
                log.debug("reaping %s: %s", names, exc)
        timer = threading.Timer(1.0, later)
        timer.daemon = True
        timer.start()

    # ---- connect / disconnect -------------------------------------------------------------

    @off_loop
    def connect(self, name_or_id: str, container: str, config: dict[str, Any] | None = None) -> None:
        """A running container gets an endpoint now; a created or stopped one only has the
        network recorded for its next start, as dockerd 20.10 records it: by the name the
        network has (``NetworkID`` "" until a start), or as named when no one network answers
        to it (none, or two sharing the name), and not again when a network of that name is
        recorded already."""
        record = self._container(container)
        with self._lock:
            networks = record.network_settings.setdefault("Networks", {})
            running = record.id in self.state.sandboxes
            try:
                net = self.find(name_or_id)
            except (NetworkNotFound, NetworkAmbiguous):
                if running:
                    raise
                networks[name_or_id] = endpoint_settings(None, None, config)
                self._save_record(record)
                return
            if net.config_only and running:
                raise NetworkForbidden(CONFIG_ONLY_ENDPOINT)  # a created one: its start refuses
            if not net.config_only:
                _check_connectable(net, self.mode(record), networks)
            _check_links(net, config or {})
            if not running and any(getattr(self._recorded_network(k, networks), "name", None) == net.name
                                   for k in networks):
                return  # dockerd's "avoid duplicate config": a network of that name is recorded
            recorded_id = (networks.get(net.name) or {}).get("NetworkID")
            if f"{net.id}/{record.id}" in self.state.endpoints or (running and recorded_id in ("", net.id)):
                raise NetworkForbidden(f"endpoint with name {record.name.lstrip('/')} already exists "
                                       f"in network {net.name}")
            if self.rootless and net.driver == "bridge":
                self._bridge(net)  # refuses: a rootless daemon makes no bridges
            sb = self.state.sandboxes.get(record.id)
            ep = None
            if sb is not None and sb.netns not in ("host", "none") and net.driver == "bridge":
                with netlink.open_netns(sb.netns) as inside:
                    ep = self._attach(sb, inside, net, config or {}, record.name)
                self.state.save()
                self._write_files(sb, host_mode=False)
                self._refresh_peers(record.id)
            # a second network of a name the record has replaces its entry, as dockerd's
            networks[net.name] = endpoint_settings(net if running else None, ep, config,
                                                   self._dns_names(ep, net))
        self._save_record(record)
        self._told(net, "connect", record.id)

    def _recorded_network(self, key: str, networks: dict[str, Any]) -> Network | None:
        """The network a record's ``Networks[key]`` is, if one answers to it."""
        try:
            return self._find_recorded(key, networks)
        except (NotFound, NetworkAmbiguous):
            return None

    @off_loop
    def disconnect(self, name_or_id: str, container: str, force: bool = False) -> None:
        try:
            record = self._container(container)
        except NotFound:
            if not force:
                raise
            self._force_endpoint_delete(name_or_id, container)
            return
        with self._lock:
            networks = record.network_settings.setdefault("Networks", {})
            running = record.id in self.state.sandboxes
            net: Network | None = None
            try:
                net = self.find(name_or_id)
            except (NetworkNotFound, NetworkAmbiguous):
                if running and not force:
                    raise
            if net is None or not running:
                _forget(record.id, networks, name_or_id, net)
            else:
                self._disconnect_running(record, networks, net)
        self._save_record(record)
        if net is not None:
            self._told(net, "disconnect", record.id)

    def _disconnect_running(self, record: ContainerLike, networks: dict[str, Any], net: Network) -> None:
        """The running container's endpoint on ``net`` goes, and the record's entry of its
        name (which may be a second network of that name's, connected later: dockerd 20.10's
        record keeps one per name)."""
        ep = self.state.endpoints.pop(f"{net.id}/{record.id}", None)
        if ep is None and (net.name not in networks or net.driver == "bridge"):
            raise DockyardError(f"container {record.id} is not connected to network {net.name}")
        networks.pop(net.name, None)
        if ep is not None:
            self.nl.delete_link(ep.host_if)
            sb = self.state.sandboxes.get(record.id)
            if sb is not None:
                if sb.gateway == net.id:
                    self._reroute(sb)
                self._write_files(sb, host_mode=False)
            self.state.save()
            self._refresh_peers(record.id, [net.id])

    def _force_endpoint_delete(self, name_or_id: str, name: str) -> None:
        """``disconnect -f`` naming no container: the network's endpoint of that name goes (a
        stale one, its container gone), as dockerd's ForceEndpointDelete."""
        with self._lock:
            net = self.find(name_or_id)
            key = next((k for k, ep in self.state.endpoints.items()
                        if k.startswith(f"{net.id}/") and ep.name.lstrip("/") == name), None)
            if key is None:
                raise NotFound(f"endpoint {name} not found")
            ep = self.state.endpoints.pop(key)
            self.nl.delete_link(ep.host_if)
            self.state.save()

    def _container(self, name: str) -> ContainerLike:
        containers = getattr(self.engine, "containers", None) if self.engine is not None else None
        if containers is None:
            raise NotFound(f"No such container: {name}")
        record: ContainerLike = containers.get(name)
        return record

    def _save_record(self, record: ContainerLike) -> None:
        save = getattr(record, "save", None)
        if callable(save):
            save()

    # ---- /etc files and peers -----------------------------------------------------------------

    def _name_options(self, sb: Sandbox, record: ContainerLike) -> None:
        """What the container asked of its /etc files: ``--domainname``, ``--add-host`` (a
        ``host-gateway`` address is the default bridge's, as dockerd's default), ``--dns*`` (each
        list the daemon's ``--dns*`` when the container gives none, as dockerd's sandbox options)."""
        hc = record.host_config
        sb.domainname = str(record.config.get("Domainname") or "")
        sb.extra_hosts = []
        for item in hc.get("ExtraHosts") or []:
            name, _, ip = str(item).partition(":")
            if ip == "host-gateway":
                ip = self.host_gateway()
            sb.extra_hosts.append([ip, name])
        daemon = getattr(self.engine, "config", None)
        sb.dns = [str(d) for d in hc.get("Dns") or getattr(daemon, "dns", None) or []]
        sb.dns_search = [str(d) for d in hc.get("DnsSearch") or getattr(daemon, "dns_search", None) or []]
        sb.dns_options = [str(d) for d in hc.get("DnsOptions") or getattr(daemon, "dns_opts", None) or []]

    def host_gateway(self) -> str:
        """What ``--add-host NAME:host-gateway`` means: the default bridge's gateway."""
        bridge = next((n for n in self.state.networks.values() if n.name == "bridge"), None)
        if bridge is None or not bridge.gateway:
            raise InvalidArgument("unable to derive the IP value for host-gateway")
        return bridge.gateway

    def _write_files(self, sb: Sandbox, host_mode: bool, hostname_only: bool = False) -> None:
        directory = Path(sb.dir)
        if hostname_only:
            files.write(directory / "hostname", sb.hostname + "\n", self._files_owner())
            return
        extra = [(ip, name) for ip, name in sb.extra_hosts]
        if host_mode:
            hosts = files.host_mode_hosts(extra)
        else:
            eps = self.state.endpoints_for(sb.container_id)
            names = files.own_names(sb.hostname, sb.domainname)
            own = [(ip, names) for ip in (eps[0].ip, eps[0].ip6) if ip] if eps else []
            linked = [(ip, e[3]) for e in sb.links for ip in e[:2] if ip]
            hosts = files.hosts(own, self._peers(sb.container_id), extra, linked)
        resolv = files.container_resolv_conf(host_mode, sb.dns, sb.dns_search, sb.dns_options)
        owner = self._files_owner()
        files.write(directory / "hosts", hosts, owner)
        files.write(directory / "resolv.conf", resolv, owner)
        files.write(directory / "hostname", sb.hostname + "\n", owner)

    def _files_owner(self) -> tuple[int, int] | None:
        """``--userns-remap``: a container's /etc files are the remapped root's, as dockerd
        makes them (a ``--userns host`` container's too)."""
        remap = getattr(getattr(self.engine, "store", None), "remap", None)
        return None if remap is None else to_host(remap, 0, 0)

    def _peers(self, container_id: str) -> list[tuple[str, list[str]]]:
        """Containers sharing a user-defined network with this one, with the names they answer to."""
        out: dict[str, list[str]] = {}
        for ep in self.state.endpoints_for(container_id):
            net = self.state.networks.get(ep.network_id)
            if net is None or net.predefined:
                continue
            linked = [_links.parse(link) for link in ep.links]
            for peer in self.state.endpoints_of(ep.network_id):
                if peer.container_id == container_id:
                    continue
                dns = self._dns_names(peer, net) or []
                dns += [alias for name, alias in linked if name in dns]  # ours alone to resolve
                for ip in (peer.ip, peer.ip6):  # an IPv6 line as well: AAAA by name
                    if ip:
                        names = out.setdefault(ip, [])
                        names += [n for n in dns if n not in names]
        return list(out.items())

    def _dns_names(self, ep: Endpoint | None, net: Network) -> list[str] | None:
        """What a peer resolves it by: its name, aliases, short id and hostname, each once (a
        ``--hostname`` too, as dockerd 20.10's endpoint aliases and moby's DNSNames have it)."""
        if ep is None or net.predefined:
            return None
        sb = self.state.sandboxes.get(ep.container_id)
        names = [ep.name, *ep.aliases, ep.container_id[:12], sb.hostname if sb else ""]
        return list(dict.fromkeys(n for n in names if n))

    def _refresh_link_parents(self, child_id: str) -> None:
        """A linked child started: its running parents' lines for it take its new address,
        as dockerd's parent update rewrites their /etc/hosts (the IPv4 address: its
        etchosts.Update matches the alias's lines; a stopped parent is left alone)."""
        if not any(sb.links for sb in self.state.sandboxes.values()):
            return
        bridge = self.find("bridge")
        ep = self.state.endpoints.get(f"{bridge.id}/{child_id}")
        if ep is None or not ep.ip:
            return
        for sb in list(self.state.sandboxes.values()):
            entries = [e for e in sb.links if e[4] == child_id]
            if not entries or sb.netns == "host":
                continue
            for entry in entries:
                entry[0] = ep.ip
            self.state.save()
            self._rewrite_hosts(sb)

    @off_loop
    def unlink(self, parent_id: str, alias: str) -> None:
        """``docker rm --link``: a running parent's /etc/hosts loses the link's lines."""
        with self._lock:
            sb = self.state.sandboxes.get(parent_id)
            if sb is None or all(e[2] != alias for e in sb.links):
                return
            sb.links = [e for e in sb.links if e[2] != alias]
            self.state.save()
            self._rewrite_hosts(sb)

    def _rewrite_hosts(self, sb: Sandbox) -> None:
        try:
            self._write_files(sb, host_mode=False)
        except OSError as exc:
            log.warning("container %s: /etc/hosts not updated: %s", sb.container_id[:12], exc)

    def _refresh_peers(self, container_id: str, network_ids: list[str] | None = None) -> None:
        """Rewrite the /etc/hosts of every container on the networks this one joined or left."""
        ids = network_ids or [ep.network_id for ep in self.state.endpoints_for(container_id)]
        peers = {p.container_id for nid in ids for p in self.state.endpoints_of(nid)}
        for cid in peers - {container_id}:
            sb = self.state.sandboxes.get(cid)
            if sb is not None:
                try:
                    self._write_files(sb, host_mode=False)
                except OSError as exc:
                    log.warning("container %s: /etc/hosts not updated: %s", cid[:12], exc)

    # ---- published ports ------------------------------------------------------------------------

    def _target(self, sb: Sandbox) -> Target:
        eps = [e for e in self.state.endpoints_for(sb.container_id)
               if not self.state.networks[e.network_id].internal]
        if eps:
            return Target(eps[0].ip)
        if sb.netns == "host":
            return Target("127.0.0.1")
        if sb.netns == "none":  # rootless: the launcher's netns, entered through a helper
            return Target(None, factory=functools.partial(self._factory_socket, sb.container_id))
        return Target(None, sb.netns)

    def _target6(self, sb: Sandbox, target: Target) -> Target:
        """Where an IPv6 host address's port goes: the endpoint's IPv6 address when it has one,
        as dockerd's docker-proxy for ``[::]`` (``target`` otherwise)."""
        eps = [e for e in self.state.endpoints_for(sb.container_id)
               if not self.state.networks[e.network_id].internal]
        return Target(eps[0].ip6) if eps and eps[0].ip6 and target.ip == eps[0].ip else target

    def _factory_socket(self, container_id: str, kind: int) -> socket.socket:
        """A socket in a rootless container's netns (see :mod:`dockyard.network.nsconnect`)."""
        with self._factory_lock:  # never the main lock: teardown holds it while it waits for us
            factory = self._factories.get(container_id)
            if factory is None:
                factory = self._factories[container_id] = SocketFactory(self._init_pid(container_id))
        return factory.socket(kind)

    def _init_pid(self, container_id: str) -> int:
        """The init's pid from the container's persisted state (no container-manager lock)."""
        sb = self.state.sandboxes.get(container_id)
        try:
            record = json.loads((Path(sb.dir) / "config.v2.json").read_text()) if sb else {}
        except (OSError, ValueError):
            record = {}
        pid = int((record.get("State") or record.get("state") or {}).get("Pid") or 0)
        if not pid:
            raise OSError(f"container {container_id[:12]} is not running")
        return pid

    def _publish_record(self, record: ContainerLike, sb: Sandbox) -> None:
        if sb.netns == "host":
            return  # dockerd: published ports are discarded in host mode
        wanted = ports.bindings(record.config, record.host_config)
        if not wanted:
            return
        target = self._target(sb)
        done: list[tuple[Any, ...]] = []
        try:
            for b in wanted:
                check_protocol(b.proto, b.host_ip)
                done.append(self._bind_one(b))
                if b.dual and (v6 := _bind_v6(*done[-1][:4])) is not None:
                    done.append(v6)
        except (PortAllocated, NetworkError) as exc:  # dockerd's words: the endpoint's failure
            for _proto, _ip, _port, _cport, sock in done:
                sock.close()
            eps = self.state.endpoints_for(record.id)
            endpoint = eps[0].endpoint_id if eps else _new_id()
            if isinstance(exc, PortAllocated):
                raise PortAllocated.on_endpoint(exc, record.name.lstrip("/"), endpoint) from None
            raise ExternalConnectivity(record.name.lstrip("/"), endpoint, str(exc)) from None
        except BaseException:
            for _proto, _ip, _port, _cport, sock in done:
                sock.close()
            raise
        sb.ports = [list(p) for p in done]
        self._publish(sb, target, done)

    def _bind_one(self, b: ports.PortBinding) -> tuple[str, str, int, int, Any]:
        error: Exception | None = None
        ephemeral = b.host_ports == (0,)
        # an ephemeral port in dockerd's order; the kernel's choice if those are all held
        for host_port in [*self._ephemeral.candidates(b.proto), 0] if ephemeral else b.host_ports:
            try:
                sock = bind(b.proto, b.host_ip, host_port)
            except Exception as exc:  # noqa: BLE001 - try the next port of a range
                error = exc
                continue
            port = sock.getsockname()[1]
            if ephemeral:
                self._ephemeral.taken(b.proto, port)
            return (b.proto, b.host_ip, port, b.container_port, sock)
        assert error is not None
        raise error

    def _publish(self, sb: Sandbox, target: Target, bound: list[tuple[Any, ...]]) -> None:
        """Serve bound sockets (setup) or re-bind recorded ports (restore)."""
        pubs = self._published.setdefault(sb.container_id, [])
        target6 = self._target6(sb, target)
        for entry in bound:
            proto, host_ip, host_port, container_port = entry[:4]
            sock = entry[4] if len(entry) > 4 else bind(proto, host_ip, host_port)
            pub = Published(proto, host_ip, host_port, container_port, sock)
            pubs.append(pub)
            self._proxy.start(pub, target6 if ":" in host_ip else target)
        sb.ports = [[p.proto, p.host_ip, p.host_port, p.container_port] for p in pubs]

    def _unpublish(self, container_id: str) -> None:
        for pub in self._published.pop(container_id, []):
            self._proxy.stop(pub)
        with self._factory_lock:
            factory = self._factories.pop(container_id, None)
        if factory is not None:
            factory.close()

    def published_count(self) -> int:
        """Live proxies (leak checks in tests)."""
        return sum(len(p) for p in self._published.values())

    # ---- NetworkSettings ----------------------------------------------------------------------

    def _fill_settings(self, record: ContainerLike, requested: list[tuple[Network, dict[str, Any]]]) -> None:
        sb = self.state.sandboxes[record.id]
        s = empty_settings()
        if _disabled(record):
            record.network_settings = s
            return
        s["SandboxID"] = secrets.token_hex(32) if sb.netns not in ("host", "none") else ""
        s["SandboxKey"] = sb.netns if sb.netns not in ("host", "none") else ""
        keys = ports.exposed_keys(record.config)
        s["Ports"] = ports.settings(keys, [(str(p[0]), str(p[1]), int(p[2]), int(p[3])) for p in sb.ports])
        if self.mode(record) == "host":
            requested = [(self.find("host"), {})]
        for net, req in requested:
            ep = self.state.endpoints.get(f"{net.id}/{record.id}")
            s["Networks"][net.name] = endpoint_settings(net, ep, req, self._dns_names(ep, net))
            if net.name == "bridge" and ep is not None:  # the default bridge's at the top too
                s.update(EndpointID=ep.endpoint_id, Gateway=net.gateway, IPAddress=ep.ip,
                         IPPrefixLen=prefixlen(net), MacAddress=ep.mac)
                if ep.ip6:
                    s.update(GlobalIPv6Address=ep.ip6, GlobalIPv6PrefixLen=prefixlen6(net),
                             IPv6Gateway=gateway6(net))
        _keep_macs(record, s)
        record.network_settings = s

    def _clear_settings(self, record: ContainerLike) -> None:
        """After exit: dockerd keeps the network names, their requests and the ids its start
        recorded (the next start joins those, :meth:`_find_recorded`), drops addresses."""
        old = record.network_settings.get("Networks") or {}
        s = empty_settings()
        for name, ep in old.items():
            keep = {k: ep.get(k) for k in ("IPAMConfig", "Links", "Aliases", "DriverOpts")}
            entry = endpoint_settings(self._recorded_network(name, old), None, keep)
            entry["NetworkID"] = ep.get("NetworkID") or entry["NetworkID"]
            s["Networks"][name] = entry
        _keep_macs(record, s)
        record.network_settings = s


def _bind_v6(proto: str, _ip: str, port: int, container_port: int) -> tuple[str, str, int, int, Any] | None:
    """The ``[::]`` twin of a port published without a host IP, as dockerd binds it: the same
    port; none where this host has no IPv6 or another program holds that port there."""
    try:
        return (proto, "::", port, container_port, bind(proto, "::", port))
    except (OSError, NetworkError, PortAllocated):
        return None


def _host_mode_hostname(record: ContainerLike) -> str:
    """dockerd gives a host-network container the host's name unless one was asked for (the
    short id is the name a container gets when none was)."""
    asked = str(record.config.get("Hostname") or "")
    return asked if asked and asked != record.id[:12] else platform.node()


_ETC_FILES: Final = ("resolv.conf", "hostname", "hosts")


def _file_mounts(directory: Path, names: tuple[str, ...] = _ETC_FILES) -> list[Mount]:
    return [Mount("bind", f"/etc/{name}", str(directory / name), options=["norbind"])
            for name in names]


def _disabled(record: ContainerLike) -> bool:
    """``Config.NetworkDisabled`` (docker-py's ``network_disabled``), as dockerd 20.10 takes it
    whatever the network mode: connected to no network (``Networks`` empty, nothing
    published), its spec naming no network namespace, so the runtime's default gives it a new
    one with ``lo`` alone; only /etc/hostname is the daemon's (the image's hosts and
    resolv.conf show)."""
    return bool(record.config.get("NetworkDisabled"))


def _link_local_ips(req: dict[str, Any]) -> list[tuple[str, int]]:
    """An endpoint's ``--link-local-ip``s with libnetwork's prefixes (/16, /64), checked as
    dockerd checks them when it connects the container (the start's 500): first that each
    parses, then that each is link-local."""
    given = [str(ip) for ip in (req.get("IPAMConfig") or {}).get("LinkLocalIPs") or []]
    parsed = []
    for text in given:
        try:
            parsed.append(ipaddress.ip_address(text))
        except ValueError:
            raise DockyardError(f"Invalid link-local IP address: [{' '.join(given)}]") from None
    for ip in parsed:
        if not ip.is_link_local:
            raise DockyardError(f"invalid link local IP address: {ip}")
    return [(str(ip), 16 if ip.version == 4 else 64) for ip in parsed]


CONFIG_ONLY_ENDPOINT = "cannot create endpoint on configuration-only network"
OPERATOR_FIELDS = ("configuration network can only contain network specific fields. Network "
                   "operator fields like [ ingress | internal | attachable | scope ] are not supported.")
NOT_A_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" '
                 "to connect this node to swarm and try again.")


def _check_operator_fields(body: dict[str, Any]) -> None:
    """A network's driver, IPAM driver, ingress and scope as dockerd 20.10 refuses them without
    a swarm, in its order: only the bridge driver can be made (host and null exist once), only
    the default IPAM driver is built in (its ``null`` one has no IPv4 pool to give)."""
    driver = body.get("Driver") or "bridge"
    if driver not in ("bridge", "host", "null"):
        raise NotFound(f'plugin "{driver}" not found')
    if body.get("Ingress"):
        raise NetworkForbidden("Ingress network can only be global scope network")
    scope = body.get("Scope") or ""
    if scope == "swarm":
        raise NetworkForbidden("cannot create a swarm scoped network when swarm is not active")
    if scope not in ("", "local"):
        raise DockyardError(NOT_A_MANAGER)
    if driver != "bridge":
        raise NetworkForbidden(f'only one instance of "{driver}" network is allowed')
    ipam_driver = (body.get("IPAM") or {}).get("Driver") or "default"
    if ipam_driver == "null":
        raise DockyardError("ipv4 pool is empty")
    if ipam_driver != "default":
        raise NotFound(f'plugin "{ipam_driver}" not found')


def _check_config_only(body: dict[str, Any]) -> None:
    if body.get("Ingress") or body.get("Internal") or body.get("Attachable") or body.get("Scope"):
        raise NetworkForbidden(OPERATOR_FIELDS)
    if (body.get("ConfigFrom") or {}).get("Network"):
        raise NetworkForbidden("a configuration network cannot depend on another configuration network")


def _ipam_options(body: dict[str, Any]) -> dict[str, str] | None:
    options = (body.get("IPAM") or {}).get("Options")
    return None if options is None else {str(k): str(v) for k, v in options.items()}


def _template(net_id: str, name: str, created: str, body: dict[str, Any]) -> Network:
    """A ``--config-only`` network: its IPAM config and options kept as given (only the
    subnets were checked, as dockerd checks them), for ``--config-from`` creates to copy; no
    bridge, no pool held, driver ``null`` whatever was asked."""
    configs = ((body.get("IPAM") or {}).get("Config")) or []
    v4: dict[str, Any] = next((c for c in configs if not ipam.is_ipv6(c.get("Subnet") or "")), {})
    v6: dict[str, Any] = next((c for c in configs if ipam.is_ipv6(c.get("Subnet") or "")), {})
    return Network(net_id, name, "null", created, config_only=True,
                   subnet=str(v4.get("Subnet") or ""), gateway=str(v4.get("Gateway") or ""),
                   ip_range=str(v4.get("IPRange") or ""), gateway_given=True,
                   aux={str(k): str(v) for k, v in (v4.get("AuxiliaryAddresses") or {}).items()},
                   subnet6=str(v6.get("Subnet") or ""), gateway6=str(v6.get("Gateway") or ""),
                   ip_range6=str(v6.get("IPRange") or ""),
                   aux6={str(k): str(v) for k, v in (v6.get("AuxiliaryAddresses") or {}).items()},
                   ipv6=bool(body.get("EnableIPv6")), ipam_options=_ipam_options(body),
                   options={str(k): str(v) for k, v in (body.get("Options") or {}).items()},
                   labels={str(k): str(v) for k, v in (body.get("Labels") or {}).items()})


def template_pools(net: Network) -> list[dict[str, Any]]:
    """A template's pools as a create's ``IPAM.Config``."""
    pools = []
    for subnet, ip_range, gateway, aux in ((net.subnet, net.ip_range, net.gateway, net.aux),
                                           (net.subnet6, net.ip_range6, net.gateway6, net.aux6)):
        if subnet:
            pools.append({"Subnet": subnet, "IPRange": ip_range, "Gateway": gateway,
                          "AuxiliaryAddresses": aux})
    return pools


def _forget(container_id: str, networks: dict[str, Any], name: str, net: Network | None) -> None:
    """dockerd 20.10's disconnect of a container not running (or ``-f`` of a running one from
    a name no one network answers to): its record forgets the entry of the name given, else
    of the name of the network it names; its 500 when there is neither."""
    for key in (name, net.name if net else None):
        if key is not None and key in networks:
            del networks[key]
            return
    raise DockyardError(f"container {container_id} is not connected to the network "
                        f"{net.name if net else name}")


def _user_defined(name: str) -> bool:
    """dockerd's NetworkMode.IsUserDefined: a network named by neither a predefined name nor
    a ``container:`` mode."""
    return name not in PREDEFINED and not name.startswith("container:")


def _check_connectable(net: Network, mode: str, current: dict[str, Any]) -> None:
    """dockerd's refusals (400) before a connect: the host network, containers whose network
    namespace is not their own, and ``none`` beside any other network. That last is judged by
    the networks the container is on now: one started with ``--network none`` and then
    disconnected from it may join others, as under dockerd."""
    if mode == "host" or mode.startswith("container:"):
        raise InvalidArgument("container sharing network namespace with another container or "
                              "host cannot be connected to any other network")
    if net.driver == "host":
        raise InvalidArgument("container cannot be disconnected from host network or connected "
                              "to host network")
    if current and (net.driver == "null" or "none" in current):
        raise InvalidArgument("container cannot be connected to multiple networks with one of the "
                              "networks in private (none) mode")


def _check_links(net: Network, req: dict[str, Any]) -> None:
    """A user-defined network's endpoint links (``EndpointsConfig[net].Links``, which the
    docker CLI sends for ``--link`` there) parse, else dockerd's 500; the predefined networks'
    are ignored, as dockerd's."""
    if not net.predefined:
        for link in req.get("Links") or []:
            _links.parse(str(link))


def _join_order(net: Network) -> tuple[bool, str]:
    """The order a start joins its networks (eth0 first), as libnetwork sorts a sandbox's
    endpoints: internal networks last, then by name."""
    return (net.internal, net.name)


def _check_user_ip(net: Network) -> None:
    """dockerd's refusals of an ``--ip`` on a network whose addresses the user did not lay out."""
    if net.predefined:
        raise InvalidArgument("user specified IP address is supported on user defined networks only")
    if not net.user_subnet:
        raise InvalidArgument(NO_SUBNET_FOR_IP)


def _check_user_ip6(net: Network) -> None:
    """An ``--ip6``'s refusals: as an ``--ip``'s on the predefined networks, else where the
    network has no IPv6 subnet (dockerd checks each family against its own pools)."""
    if net.predefined:
        _check_user_ip(net)
    if not net.subnet6:
        raise InvalidArgument(NO_SUBNET_FOR_IP)


def _as_named(record: ContainerLike, mode: str) -> list[tuple[str, dict[str, Any]]]:
    """The endpoints of a create that names a network there is none of, as dockerd 20.10's
    ``updateContainerNetworkSettings`` records them: its ``EndpointsConfig`` by the names it
    gives, or else the mode's name, looked up no further (the start finds none: 404)."""
    requested = ((record.network_settings or {}).get("_requested") or {}).get("EndpointsConfig")
    if requested:
        return [(name, {**(req or {}), "MacAddress": (req or {}).get("MacAddress") or ""})
                for name, req in requested.items()]
    return [(mode, {"MacAddress": ""})]


def _check_macs(record: ContainerLike) -> None:
    """At create, every requested endpoint's MAC address must parse (dockerd 25+ checks them
    there; 20.10 failed the start instead), named by its ``EndpointsConfig`` key."""
    requested = ((record.network_settings or {}).get("_requested") or {}).get("EndpointsConfig")
    for key, req in (requested or {}).items():
        mac = (req or {}).get("MacAddress") or ""
        if mac and ipam.parse_mac(mac) is None:
            raise InvalidArgument(f"invalid config for network {key}: invalid MAC address {mac}")


def _keep_macs(record: ContainerLike, settings: dict[str, Any]) -> None:
    if (record.network_settings or {}).get(MACS):
        settings[MACS] = record.network_settings[MACS]


def _mac(text: str | None) -> str | None:
    """A requested MAC address as the veth gets it (Go's form: lower case, ":")."""
    if not text:
        return None
    mac = ipam.parse_mac(text)
    if mac is None:
        raise InvalidArgument(f"invalid MAC address {text}")
    return mac


LIST_FILTERS = ("dangling", "driver", "id", "label", "name", "scope", "type")
PRUNE_FILTERS = ("label", "label!", "until")


def _check_list_filters(filters: Filters) -> None:
    """dockerd's refusals of a network list's filters, in its order and words: the keys,
    one ``dangling`` spelled as Go reads it (400), a ``type`` of neither kind (its 500)."""
    check_keys(filters, LIST_FILTERS)
    dangling = filters.get("dangling", [])
    if len(dangling) > 1:
        raise InvalidArgument('got more than one value for filter key "dangling"')
    if dangling and dangling[0] not in ("0", "false", "1", "true"):
        raise InvalidArgument("invalid value for filter 'dangling', must be \"true\" (or \"1\"), "
                              "or \"false\" (or \"0\")")
    for value in filters.get("type", []):
        if value not in ("custom", "builtin"):
            raise DockyardError(f"invalid filter: 'type'='{value}'")


def _matches(net: Network, filters: dict[str, list[str]], endpoints: int = 0) -> bool:
    """dockerd's network filters: name (substring), id (prefix), driver, type, label, scope,
    dangling (no endpoints, not pre-defined), until."""
    checks: dict[str, Callable[[str], bool]] = {
        "name": lambda v: v in net.name,
        "id": lambda v: net.id.startswith(v),
        "driver": lambda v: v == net.driver,
        "type": lambda v: (v == "builtin") == net.predefined,
        "scope": lambda v: v == "local",
        "label": lambda v: _label_match(net.labels, v),
        "label!": lambda v: not _label_match(net.labels, v),
        "until": lambda v: parse_unix(net.created) <= filter_time(v),
        "dangling": lambda v: (v in ("1", "true")) == (not net.predefined and not endpoints),
    }
    for key, values in filters.items():
        check = checks[key]  # the keys were checked (_check_list_filters, PRUNE_FILTERS)
        if key == "label!":
            if not all(check(v) for v in values):
                return False
        elif not any(check(v) for v in values):
            return False
    return True


def _label_match(labels: dict[str, str], wanted: str) -> bool:
    key, eq, value = wanted.partition("=")
    return key in labels and (not eq or labels[key] == value)


__all__ = ["NetworkManager", "NetworkSetup"]
