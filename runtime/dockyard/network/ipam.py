"""IP address management: pick a subnet, hand out addresses, derive MAC addresses.

Pure functions over :mod:`ipaddress`; the allocations themselves are persisted by
:mod:`dockyard.network.state` (so they survive a daemon restart and are released on teardown).
The defaults follow dockerd: the gateway is the subnet's first host, containers get the next
free address (from ``IPRange`` when given), and the MAC is ``02:42`` followed by the IPv4
address's four bytes, so a container's MAC is predictable from its IP. An IPv6 pool (a network
created with ``EnableIPv6``) has no defaults: its subnet is the one given; its addresses go as
the IPv4 ones do, but for the broadcast address, which IPv6 has none of.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Final

from ..errors import DockyardError, InvalidArgument
from .errors import NetworkForbidden

IPv4Net = ipaddress.IPv4Network
IPv4Addr = ipaddress.IPv4Address
IPv6Net = ipaddress.IPv6Network
IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address

NO_IPV6_POOL: Final = ("could not find an available, non-overlapping IPv6 address pool among the "
                       "defaults to assign to the network")
"""dockerd 20.10's 404 for ``EnableIPv6`` without an IPv6 subnet: its default pools are IPv4."""

DEFAULT_BRIDGE_SUBNET: Final = "172.30.0.0/16"


def candidate_subnets(pools: Sequence[dict[str, Any]] = ()) -> Iterable[IPv4Net]:
    """Private /16s in dockerd's order: 172.17–172.31, then /20s of 192.168.0.0/16; with
    ``--default-address-pool``s (``[{"Base", "Size"}]``), the subnets of each pool in turn."""
    if pools:
        for pool in pools:
            yield from IPv4Net(pool["Base"], strict=False).subnets(new_prefix=int(pool["Size"]))
        return
    for second in range(17, 32):
        yield IPv4Net(f"172.{second}.0.0/16")
    for third in range(0, 256, 16):
        yield IPv4Net(f"192.168.{third}.0/20")


def free_subnet(taken: Iterable[IPv4Net], preferred: str | None = None,
                pools: Sequence[dict[str, Any]] = ()) -> IPv4Net:
    """``preferred`` when it overlaps nothing in ``taken`` (host routes, other networks), else
    the first free candidate (of ``pools`` when given)."""
    used = list(taken)
    options = [IPv4Net(preferred)] if preferred else []
    for net in itertools.chain(options, candidate_subnets(pools)):
        if not any(net.overlaps(other) for other in used):
            return net
    raise NetworkForbidden("could not find an available, non-overlapping IPv4 address pool "
                           "among the defaults to assign to the network")


def parse_subnet(text: str) -> IPv4Net:
    try:
        net = IPv4Net(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid CIDR address: {text}") from None
    if net.prefixlen > 30:
        raise InvalidArgument(f"subnet {text} is too small: at least a /30 is needed")
    return net


def check_pool_subnet(text: str) -> None:
    """A create's ``IPAM.Config[].Subnet`` read as Go's ``net.ParseCIDR`` reads it (an address,
    a slash, a decimal prefix length), refused in dockerd's words (a 500) before anything else
    about the create is judged."""
    address, slash, bits = text.partition("/")
    try:
        ip = ipaddress.ip_address(address)
        if not slash or not bits.isdigit() or int(bits) > ip.max_prefixlen:
            raise ValueError(text)
    except ValueError:
        raise DockyardError(f"Invalid subnet {text} : invalid CIDR address: {text}") from None


def parse_ip_range(text: str, pool: IPNet) -> IPNet:
    """An ``IPRange`` (a sub-pool of ``pool``, of its family) as dockerd's allocator parses
    it, refused in its words (a 500)."""
    try:
        if "/" not in text:
            raise ValueError(text)
        ip_range = ipaddress.ip_network(text, strict=False)
        if ip_range.version != pool.version:
            raise ValueError(text)
        return ip_range
    except ValueError:
        raise DockyardError(f'failed to parse pool request for address space "LocalDefault" pool '
                            f'"{pool}" subpool "{text}": Invalid Address SubPool') from None


def check_gateway(text: str) -> None:
    """A create's ``Gateway`` that is no address at all, in dockerd's words (a 500)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise DockyardError(f"invalid gateway address {text} in Ipam configuration") from None


def auxiliary(aux: dict[str, Any], subnet: IPNet, held: Iterable[str], network: str) -> dict[str, str]:
    """``AuxiliaryAddresses`` (``--aux-address name=ip``): addresses of the subnet a create
    reserves, never handed to a container; refused as dockerd refuses them (unparsable, outside
    the subnet, or already held: the gateway, the network or broadcast address, another one)."""
    taken = {str(a) for a in _held(subnet)} | set(held)
    kept: dict[str, str] = {}
    for name, value in aux.items():
        try:
            addr = ipaddress.ip_address(str(value))
        except ValueError:
            raise DockyardError(f"non parsable secondary ip address ({name}:{value}) passed for "
                                f"network {network}") from None
        if addr not in subnet:
            raise NetworkForbidden(f"auxiliary address: ({name}:{value}) must belong to the master "
                                   f"pool: {subnet}")
        if str(addr) in taken:
            raise DockyardError(f"failed to allocate secondary ip address ({name}:{value}): "
                                "Address already in use")
        taken.add(str(addr))
        kept[str(name)] = str(value)
    return kept


def held_auxiliary(aux: dict[str, str]) -> list[str]:
    """A network's auxiliary addresses as ``allocate``'s ``used`` holds addresses."""
    return [str(ipaddress.ip_address(value)) for value in aux.values()]


def is_ipv6(subnet: str) -> bool:
    """An IPAM config entry's subnet is an IPv6 one (anything else is read as IPv4)."""
    try:
        return ipaddress.ip_network(subnet, strict=False).version == 6
    except ValueError:
        return False


def parse_subnet6(text: str) -> IPv6Net:
    try:
        return IPv6Net(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid CIDR address: {text}") from None


def gateway6_address(text: str, subnet: IPv6Net) -> ipaddress.IPv6Address:
    """A requested IPv6 gateway, refused in the words of dockerd's allocator (a 500): outside
    the subnet, or its network address (held from the start, as in IPv4)."""
    try:
        addr = ipaddress.IPv6Address(text.split("/")[0])
    except ValueError:
        raise InvalidArgument(f"invalid gateway: {text}") from None
    if addr not in subnet:
        raise DockyardError(f"failed to allocate gateway ({addr}): Requested address is out of range")
    if addr == subnet.network_address:
        raise DockyardError(f"failed to allocate gateway ({addr}): Address already in use")
    return addr


def range_in(subnet: IPNet, ip_range: IPNet) -> IPNet:
    """Where an ``IPRange``'s addresses come from, as dockerd's allocator reads it: the range's
    first and last addresses under the subnet's mask (libnetwork's getAddressRange), so a range
    outside the subnet (dockerd 20.10 takes an IPv6 one) means the addresses at the same offsets
    in it, and one wider than the subnet the whole subnet. A range inside is itself."""
    if ip_range.prefixlen <= subnet.prefixlen:
        return subnet
    host = int(ip_range.network_address) & int(subnet.hostmask)
    return ipaddress.ip_network((int(subnet.network_address) | host, ip_range.prefixlen))


def mac_address6(subnet: IPv6Net, mac: str) -> ipaddress.IPv6Address:
    """The default bridge's IPv6 address for a MAC: dockerd 20.10 builds it from the interface's
    MAC (its last 48 bits) when ``--fixed-cidr-v6`` leaves at least 48 host bits."""
    return ipaddress.IPv6Address(int(subnet.network_address) | int(mac.replace(":", ""), 16))


def parse_address(text: str, subnet: IPv4Net, what: str = "address") -> IPv4Addr:
    try:
        addr = IPv4Addr(text.split("/")[0])
    except ValueError:
        raise InvalidArgument(f"invalid {what}: {text}") from None
    if addr not in subnet:
        raise InvalidArgument(f"no matching subnet for {what} {text}")
    return addr


def gateway_address(text: str, subnet: IPv4Net) -> IPv4Addr:
    """A requested gateway: in the subnet, and not its network or broadcast address (dockerd's
    allocator holds both from the start, so it answers with a 500 in these words)."""
    addr = parse_address(text, subnet, "gateway")
    if addr in (subnet.network_address, subnet.broadcast_address):
        raise DockyardError(f"failed to allocate gateway ({addr}): Address already in use")
    return addr


def default_gateway(subnet: IPNet, ip_range: IPNet | None = None) -> IPAddr:
    """A gateway not given: the first address the allocator does not hold of the range the
    addresses come from — the subnet's, or an ``IPRange``'s as :func:`range_in` reads it (so
    ``--ip-range 10.0.0.64/26`` gives the bridge 10.0.0.64) — as libnetwork asks its allocator
    for one before any endpoint's."""
    first = _first_free(subnet, range_in(subnet, ip_range) if ip_range is not None else subnet)
    return subnet.network_address + 1 if first is None else first


def allocate(subnet: IPNet, used: Iterable[str], ip_range: IPNet | None = None,
             wanted: str | None = None, owner: str = "") -> IPAddr:
    """The requested address when free, else the lowest free host address (in ``ip_range``);
    ``used`` holds addresses as ``str`` writes them (IPv6 compressed). ``owner`` names the
    network in an exhausted pool's refusal, as dockerd's ``name (id)`` (its 500)."""
    taken = set(used)
    if wanted:
        return _requested(wanted, subnet, taken)
    addr = _first_free(subnet, ip_range or subnet, taken)
    if addr is None:
        raise DockyardError(f"no available IPv{subnet.version} addresses on this network's "
                            f"address pools: {owner or subnet}")
    return addr


def _first_free(subnet: IPNet, pool: IPNet, taken: Collection[str] = ()) -> IPAddr | None:
    """The lowest address of ``pool`` the allocator does not hold (:func:`_held`: a range's
    first and last are usable, but for the subnet's own) and ``taken`` (as ``str`` writes
    them) does not name; None when there is none."""
    held = _held(subnet)
    return next((a for a in pool if a not in held and str(a) not in taken), None)


def _held(subnet: IPNet) -> tuple[IPAddr, ...]:
    """What dockerd's allocator holds from the start: the network address, and IPv4's broadcast."""
    if subnet.version == 4:
        return (subnet.network_address, subnet.broadcast_address)
    return (subnet.network_address,)


def _requested(wanted: str, subnet: IPNet, taken: set[str]) -> IPAddr:
    """An ``--ip``/``--ip6``, in dockerd's words: its allocator holds the subnet's network (and
    IPv4 broadcast) address as it holds the gateway's and the endpoints' (all 'Address already
    in use')."""
    try:
        addr = ipaddress.ip_address(wanted)
    except ValueError:
        raise InvalidArgument(f"invalid address: {wanted}") from None
    if addr not in subnet:
        raise InvalidArgument(f"Invalid address {addr}: It does not belong to any of this network's subnets")
    if str(addr) in taken or addr in _held(subnet):
        raise NetworkForbidden("Address already in use")
    return addr


def mac_for(addr: IPv4Addr) -> str:
    """dockerd's MAC derivation: ``02:42`` and the four bytes of the IPv4 address."""
    return "02:42:" + ":".join(f"{b:02x}" for b in addr.packed)


_MAC_BYTES = (6, 8, 20)  # EUI-48, EUI-64, 20-octet IP over InfiniBand
_HEX = frozenset("0123456789abcdefABCDEF")


def parse_mac(text: str) -> str | None:
    """A MAC address as Go's ``net.ParseMAC`` reads it (pairs split by ":" or "-", or groups
    of four by "."; 6, 8 or 20 bytes), written as it prints one (lower case, ":"); None when
    it is not one."""
    if len(text) < 14:
        return None
    if text[2] in ":-":
        sep, width = text[2], 2
    elif text[4] == ".":
        sep, width = ".", 4
    else:
        return None
    groups = text.split(sep)
    digits = "".join(groups)
    if any(len(g) != width for g in groups) or len(digits) // 2 not in _MAC_BYTES or \
            not all(c in _HEX for c in digits):
        return None
    return ":".join(digits[i:i + 2].lower() for i in range(0, len(digits), 2))


__all__ = ["DEFAULT_BRIDGE_SUBNET", "NO_IPV6_POOL", "allocate", "candidate_subnets",
           "default_gateway", "free_subnet", "gateway6_address", "gateway_address", "is_ipv6",
           "mac_address6", "mac_for", "parse_address", "parse_mac", "parse_subnet", "parse_subnet6", "range_in"]
