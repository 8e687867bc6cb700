"""Kernel plumbing through netlink (pyroute2): bridges, veth pairs, persistent netns.

A container's network namespace is made by the daemon *before* the container starts, so the
launcher only has to join it: ``unshare(CLONE_NEWNET)`` on the calling thread, bind-mount
``/proc/thread-self/ns/net`` onto a file (``<data-root>/netns/<id>``), and ``setns`` back. A
socket opened while the thread sits in the new namespace stays bound to it, so the container's
side (``lo`` up, ``eth0`` address, default route) is configured from the daemon without forking
a helper: with ioctls on an AF_INET socket (:class:`InetSandbox`), at start and at ``network
connect`` alike. The daemon keeps a netns ready (``network/pool.py``);
a bridged start then costs the veth pair (one netlink request) and four ioctls.

Teardown unmounts the netns file; the kernel then destroys the namespace and the veth pair
with it (asynchronously, within milliseconds), which keeps ``docker rm`` fast.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Self

from ..linux import syscalls, sysctls
from .errors import NetworkError

_NET = syscalls.CLONE_NEWNET
_SIOCSIFFLAGS = 0x8914
_SIOCGIFFLAGS = 0x8913
_SIOCSIFADDR = 0x8916
_SIOCSIFNETMASK = 0x891C
_SIOCADDRT = 0x890B
_IFF_UP = 0x1
_IFF_UP_LOOPBACK_RUNNING = 0x1 | 0x8 | 0x40
_RTF_UP_GATEWAY = 0x1 | 0x2
_RTENTRY = "L16s16s16sHhLPhPLLH6x"  # struct rtentry (x86-64/aarch64): 120 bytes


def IPRoute() -> Any:
    """pyroute2's IPRoute, imported lazily: ``import dockyard.network`` stays light and a rootless
    daemon without pyroute2 still offers none/host."""
    from pyroute2 import IPRoute as _IPRoute
    return _IPRoute()


def _netlink_error() -> type[Exception]:
    from pyroute2.netlink.exceptions import NetlinkError
    error: type[Exception] = NetlinkError
    return error


@contextmanager
def _netlink_errors(what: str) -> Iterator[None]:
    try:
        yield
    except _netlink_error() as exc:
        code = int(getattr(exc, "code", 0) or 0)
        raise NetworkError(f"{what}: {os.strerror(code) if code else exc}") from None


class Netlink:
    """The daemon's host-side netlink socket; every call is serialised (pyroute2 sockets are
    not meant to be shared between threads)."""

    def __init__(self) -> None:
        self._ipr = IPRoute()
        self._lock = threading.Lock()
        self._raw: socket.socket | None = None  # for add_veth
        self._seq = 0

    def close(self) -> None:
        self._ipr.close()
        if self._raw is not None:
            self._raw.close()

    def index(self, name: str) -> int | None:
        with self._lock:
            found = self._ipr.link_lookup(ifname=name)
        return found[0] if found else None

    def link_names(self) -> set[str]:
        with self._lock:
            return {str(link.get("ifname")) for link in self._ipr.get_links()}

    def ensure_bridge(self, name: str, gateway: str, prefixlen: int) -> int:
        """Create (or adopt, after a daemon restart) the bridge with the gateway address, up;
        its transmit queue length 0, as libnetwork makes one."""
        with self._lock, _netlink_errors(f"failed to create bridge {name}"):
            found = self._ipr.link_lookup(ifname=name)
            if not found:
                self._ipr.link("add", ifname=name, kind="bridge", txqlen=0)
                found = self._ipr.link_lookup(ifname=name)
            index = found[0]
            have = {(a.get("address"), a["prefixlen"]) for a in self._ipr.get_addr(index=index, family=2)}
            if (gateway, prefixlen) not in have:
                self._ipr.addr("add", index=index, address=gateway, prefixlen=prefixlen)
            self._ipr.link("set", index=index, state="up")
        return int(index)

    def delete_link(self, name: str) -> None:
        """Remove an interface; one that is already gone is fine (teardown is idempotent)."""
        with self._lock:
            try:
                found = self._ipr.link_lookup(ifname=name)
                if found:
                    self._ipr.link("del", index=found[0])
            except _netlink_error() as exc:
                code = int(getattr(exc, "code", 0) or 0)
                if code not in (errno.ENODEV, errno.ENOENT):
                    raise NetworkError(f"failed to delete {name}: {os.strerror(code)}") from None

    def routes(self, exclude: set[str]) -> list[ipaddress.IPv4Network]:
        """Destinations the host already routes (not via ``exclude`` interfaces), so a new
        subnet never hides them."""
        with self._lock:
            names = {link["index"]: link.get("ifname") for link in self._ipr.get_links()}
            out = []
            for route in self._ipr.get_routes(family=2, table=254):
                dst, length = route.get("dst"), route["dst_len"]
                if dst and length and names.get(route.get("oif")) not in exclude:
                    out.append(ipaddress.IPv4Network(f"{dst}/{length}", strict=False))
        return out

    def add_veth(self, host_name: str, netns_path: str, bridge: int, mac: str, peer: str) -> None:
        """A veth pair: ``host_name`` on the bridge and up, its ``peer`` (``eth0``…) in the netns.

        One RTM_NEWLINK written by hand: through pyroute2 the same request cost ~1.5 ms of
        Python per bridged start."""
        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            code = self._raw_request(lambda seq: _newveth(seq, host_name, bridge, peer, fd, mac))
        finally:
            os.close(fd)
        if code:
            raise NetworkError(f"failed to add the veth pair {host_name}: {os.strerror(code)}")

    def add_address6(self, index: int, address: str, prefixlen: int) -> None:
        """An IPv6 address on a host interface (a bridge's gateway; kept if it is there)."""
        code = self._raw_request(lambda seq: _newaddr6(seq, index, address, prefixlen))
        if code:
            raise NetworkError(f"failed to add {address}/{prefixlen}: {os.strerror(code)}")

    def _raw_request(self, message: Callable[[int], bytes]) -> int:
        """One hand-written rtnetlink request (``message(seq)``) on the raw socket, opened at
        first use: 0 or the kernel's errno."""
        with self._lock:
            if self._raw is None:
                self._raw = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                          socket.NETLINK_ROUTE)
            self._seq += 1
            return _request(self._raw, message(self._seq))


# rtnetlink constants (linux/rtnetlink.h, if_link.h, veth.h)
_RTM_NEWLINK, _NLMSG_ERROR = 16, 2
_NLM_F_REQUEST_ACK_EXCL_CREATE = 0x1 | 0x4 | 0x200 | 0x400
_IFLA_ADDRESS, _IFLA_IFNAME, _IFLA_MASTER, _IFLA_TXQLEN, _IFLA_LINKINFO, _IFLA_NET_NS_FD = \
    1, 3, 10, 13, 18, 28
_IFLA_INFO_KIND, _IFLA_INFO_DATA, _VETH_INFO_PEER = 1, 2, 1


def _attr(kind: int, data: bytes) -> bytes:
    """One rtattr (length, type, payload), padded to 4 bytes."""
    head = struct.pack("HH", 4 + len(data), kind)
    return head + data + b"\0" * (-len(data) % 4)


def _ifinfo(flags: int = 0) -> bytes:
    return struct.pack("BxHiII", socket.AF_UNSPEC, 0, 0, flags, flags)


def _newveth(seq: int, name: str, master: int, peer: str, netns_fd: int, mac: str) -> bytes:
    """Both ends with a transmit queue length of 0, as libnetwork makes a veth pair (``ip link``
    shows no ``qlen``; the kernel's default would be 1000)."""
    no_queue = _attr(_IFLA_TXQLEN, struct.pack("I", 0))
    peer_info = _ifinfo() + _attr(_IFLA_IFNAME, peer.encode() + b"\0") + no_queue + \
        _attr(_IFLA_NET_NS_FD, struct.pack("I", netns_fd)) + \
        _attr(_IFLA_ADDRESS, bytes.fromhex(mac.replace(":", "")))
    linkinfo = _attr(_IFLA_INFO_KIND, b"veth\0") + \
        _attr(_IFLA_INFO_DATA, _attr(_VETH_INFO_PEER, peer_info))
    body = _ifinfo(0x1) + _attr(_IFLA_IFNAME, name.encode() + b"\0") + no_queue + \
        _attr(_IFLA_MASTER, struct.pack("I", master)) + _attr(_IFLA_LINKINFO, linkinfo)
    return struct.pack("IHHII", 16 + len(body), _RTM_NEWLINK, _NLM_F_REQUEST_ACK_EXCL_CREATE,
                       seq, 0) + body


_RTM_NEWADDR, _RTM_NEWROUTE = 20, 24
_NLM_F_REQUEST_ACK_CREATE_REPLACE = 0x1 | 0x4 | 0x400 | 0x100
_IFA_ADDRESS, _IFA_LOCAL, _IFA_BROADCAST, _IFA_FLAGS, _IFA_F_NODAD = 1, 2, 4, 8, 0x02
_RTA_OIF, _RTA_GATEWAY, _RTA_PRIORITY = 4, 5, 6
_RT_TABLE_MAIN, _RTPROT_BOOT, _RTN_UNICAST = 254, 3, 1
_IP6_DEFAULT_METRIC = 1024  # what the kernel gives a route without one, as dockerd's has


def _newaddr6(seq: int, index: int, address: str, prefixlen: int) -> bytes:
    """RTM_NEWADDR of an IPv6 address without duplicate address detection (usable at once, as
    libnetwork adds a bridge's and an endpoint's: IFA_F_NODAD)."""
    body = struct.pack("BBBBI", socket.AF_INET6, prefixlen, _IFA_F_NODAD, 0, index) + \
        _attr(_IFA_ADDRESS, socket.inet_pton(socket.AF_INET6, address)) + \
        _attr(_IFA_FLAGS, struct.pack("I", _IFA_F_NODAD))
    return struct.pack("IHHII", 16 + len(body), _RTM_NEWADDR, _NLM_F_REQUEST_ACK_CREATE_REPLACE,
                       seq, 0) + body


def _newaddr4(seq: int, index: int, address: str, prefixlen: int) -> bytes:
    """RTM_NEWADDR of an IPv4 address with its subnet's broadcast, as libnetwork adds an
    endpoint's link-local ones (``ip addr add A/P brd +``)."""
    packed = socket.inet_pton(socket.AF_INET, address)
    broadcast = ipaddress.IPv4Network(f"{address}/{prefixlen}", strict=False).broadcast_address
    body = struct.pack("BBBBI", socket.AF_INET, prefixlen, 0, 0, index) + \
        _attr(_IFA_LOCAL, packed) + _attr(_IFA_ADDRESS, packed) + \
        _attr(_IFA_BROADCAST, broadcast.packed)
    return struct.pack("IHHII", 16 + len(body), _RTM_NEWADDR, _NLM_F_REQUEST_ACK_CREATE_REPLACE,
                       seq, 0) + body


def _newroute6(seq: int, index: int, gateway: str) -> bytes:
    """RTM_NEWROUTE of the IPv6 default route through ``gateway`` on interface ``index``."""
    body = struct.pack("BBBBBBBBI", socket.AF_INET6, 0, 0, 0, _RT_TABLE_MAIN, _RTPROT_BOOT, 0,
                       _RTN_UNICAST, 0) + \
        _attr(_RTA_GATEWAY, socket.inet_pton(socket.AF_INET6, gateway)) + \
        _attr(_RTA_OIF, struct.pack("I", index)) + \
        _attr(_RTA_PRIORITY, struct.pack("I", _IP6_DEFAULT_METRIC))
    return struct.pack("IHHII", 16 + len(body), _RTM_NEWROUTE, _NLM_F_REQUEST_ACK_CREATE_REPLACE,
                       seq, 0) + body


def configure6(netns_path: str, ifname: str, address: str | None, prefixlen: int,
               gateway: str | None) -> None:
    """A container interface's IPv6 address and (``gateway``) default route, over a netlink
    socket opened inside its netns (the ioctls of :class:`InetSandbox` are IPv4's)."""
    index, sock = _route_socket_in(netns_path, ifname)
    with sock:
        if address:
            code = _request(sock, _newaddr6(1, index, address, prefixlen))
            if code:
                raise NetworkError(f"failed to configure {ifname}: {address}/{prefixlen}: "
                                   f"{os.strerror(code)}")
        if gateway:
            code = _request(sock, _newroute6(2, index, gateway))
            if code:
                raise NetworkError(f"failed to route through {gateway}: {os.strerror(code)}")


def enable_ipv6(netns_path: str, ifname: str) -> None:
    """IPv6 on ``ifname`` and ``lo`` in the netns at ``netns_path`` (off since it was made:
    ``linux.sysctls.NETNS_IPV6_OFF``), as libnetwork's setIPv6 turns it on for an interface
    given an IPv6 address — before the address goes on (the kernel refuses one, EACCES, on an
    interface with IPv6 off); an interface of an IPv4-only network keeps it off."""
    fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with _in_netns(fd):
            for name in (ifname, "lo"):
                sysctls.write(f"net.ipv6.conf.{name}.disable_ipv6", "0")
    except OSError as exc:
        raise NetworkError(f"failed to configure ipv6: {exc.strerror}") from None
    finally:
        os.close(fd)


def add_addresses(netns_path: str, ifname: str, addresses: list[tuple[str, int]]) -> None:
    """More addresses (``--link-local-ip``: address, prefix length) on a container's
    interface, after its own; a refusal in libnetwork's words, as the start's failure."""
    index, sock = _route_socket_in(netns_path, ifname)
    with sock:
        for seq, (address, prefixlen) in enumerate(addresses, 1):
            v6 = ":" in address
            code = _request(sock, (_newaddr6 if v6 else _newaddr4)(seq, index, address, prefixlen))
            if code:
                shown = " ".join(f"{a}/{p}" for a, p in addresses)
                raise NetworkError(f'error setting interface "{ifname}" link local IPs to '
                                   f"[{shown}]: {os.strerror(code).lower()}")


def _route_socket_in(netns_path: str, ifname: str) -> tuple[int, socket.socket]:
    """``ifname``'s index in the netns at ``netns_path`` and a netlink socket opened there."""
    fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with _in_netns(fd):
            return socket.if_nametoindex(ifname), socket.socket(
                socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
    finally:
        os.close(fd)


def _request(sock: socket.socket, message: bytes) -> int:
    """Send one request and read its ack: 0, or the errno the kernel refused it with."""
    sock.send(message)
    seq = struct.unpack_from("I", message, 8)[0]
    while True:
        reply = sock.recv(65536)
        offset = 0
        while offset + 16 <= len(reply):
            length, kind, _flags, rseq, _pid = struct.unpack_from("IHHII", reply, offset)
            if kind == _NLMSG_ERROR and rseq == seq:
                return -int(struct.unpack_from("i", reply, offset + 16)[0])
            offset += max(length + (-length % 4), 16)


class InetSandbox:
    """An AF_INET socket inside one container netns, configuring it with ioctls (as ifconfig
    and route do): a pyroute2 socket costs ~1 ms to open plus ~0.4 ms per request, which
    every bridged start paid; a plain socket also works from any thread (the netns pool
    makes it on its own)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def configure(self, ifname: str, address: str, prefixlen: int, gateway: str | None) -> None:
        """Address and netmask (the broadcast follows), up, and the default route."""
        name = ifname.encode()
        mask = str(ipaddress.IPv4Network(f"0.0.0.0/{prefixlen}").netmask)
        try:
            fcntl.ioctl(self._sock, _SIOCSIFADDR, struct.pack("16s16s", name, _sin(address)))
            fcntl.ioctl(self._sock, _SIOCSIFNETMASK, struct.pack("16s16s", name, _sin(mask)))
            flags = struct.unpack_from("16sH", fcntl.ioctl(self._sock, _SIOCGIFFLAGS,
                                                           struct.pack("16sH14x", name, 0)))[1]
            fcntl.ioctl(self._sock, _SIOCSIFFLAGS, struct.pack("16sH14x", name, flags | _IFF_UP))
            if gateway:
                self._route_default(gateway)
        except OSError as exc:
            raise NetworkError(f"failed to configure {ifname}: {exc.strerror}") from None

    def route_default(self, gateway: str) -> None:
        """The default route through ``gateway`` (it moves here when its endpoint went)."""
        try:
            self._route_default(gateway)
        except OSError as exc:
            raise NetworkError(f"failed to route through {gateway}: {exc.strerror}") from None

    def _route_default(self, gateway: str) -> None:
        fcntl.ioctl(self._sock, _SIOCADDRT, struct.pack(
            _RTENTRY, 0, _sin("0.0.0.0"), _sin(gateway), _sin("0.0.0.0"),
            _RTF_UP_GATEWAY, 0, 0, 0, 0, 0, 0, 0, 0))


def _sin(ip: str) -> bytes:
    return struct.pack("HH4s8x", socket.AF_INET, 0, socket.inet_aton(ip))


@contextmanager
def _in_netns(fd: int) -> Iterator[None]:
    """Run the block with this thread in another netns, always coming back."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.setns(fd, _NET)
        try:
            yield
        finally:
            syscalls.setns(home, _NET)
    finally:
        os.close(home)


def create_netns(path: str, with_socket: bool = True) -> InetSandbox | None:
    """A new network namespace pinned at ``path`` with ``lo`` up and dockerd's sysctls
    (``linux.sysctls.NETNS_DEFAULTS``, IPv6 off: ``NETNS_IPV6_OFF``); with ``with_socket``, a socket inside it for
    configuring it further."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o444))
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    sandbox = None
    try:
        syscalls.unshare(_NET)
        try:
            syscalls.mount("/proc/thread-self/ns/net", path, None, syscalls.MS_BIND)
            _loopback_up()
            sysctls.set_netns_defaults()
            sysctls.set_ipv6_off()
            if with_socket:
                sandbox = InetSandbox(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        finally:
            syscalls.setns(home, _NET)
    except BaseException:
        os.close(home)
        delete_netns(path)
        raise
    os.close(home)
    return sandbox


def _loopback_up() -> None:
    """``lo`` up with one SIOCSIFFLAGS (0.05 ms; a pyroute2 socket for it alone costs ~2 ms,
    which matters for every ``--network none`` start)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", _IFF_UP_LOOPBACK_RUNNING))
    finally:
        sock.close()


def open_netns(path: str) -> InetSandbox:
    """A socket inside an existing pinned netns (``network connect`` while running)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with _in_netns(fd):
            return InetSandbox(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    finally:
        os.close(fd)


def delete_netns(path: str) -> None:
    """Unpin the namespace (idempotent); the kernel frees it once no process is inside."""
    try:
        syscalls.umount2(path, syscalls.MNT_DETACH)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOENT):
            raise
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


@contextmanager
def socket_in_netns(path: str) -> Iterator[None]:
    """Sockets created inside the block belong to the netns at ``path`` (the port proxy's
    way into a container that has no address reachable from the host)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with _in_netns(fd):
            yield
    finally:
        os.close(fd)


def ip_forward() -> None:
    """Routing between the bridge and the host's interfaces, as dockerd enables it."""
    _switch_on("/proc/sys/net/ipv4/ip_forward")


def ipv6_forward() -> None:
    """IPv6 routing, as dockerd 20.10's bridge driver switches it on for a network with an IPv6
    pool and ``EnableIPv6`` (libnetwork's setupIPv6Forwarding: ``default`` then ``all``, each
    only when not 1 already; ``accept_ra`` untouched, nothing restored at its stop)."""
    for path in ("/proc/sys/net/ipv6/conf/default/forwarding", "/proc/sys/net/ipv6/conf/all/forwarding"):
        _switch_on(path)


def _switch_on(path: str) -> None:
    with open(path, encoding="ascii") as f:
        if f.read().strip() == "1":
            return
    with open(path, "w", encoding="ascii") as f:
        f.write("1\n")
