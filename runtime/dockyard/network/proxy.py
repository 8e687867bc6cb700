"""The userland port proxy: published ports as listening sockets in the daemon, forwarding to
the container (dockerd runs one ``docker-proxy`` process per port; here one asyncio loop on one
thread serves them all).

Sockets are bound in the caller's thread, so a taken port fails ``setup`` at once with dockerd's
message and ``-P`` learns its ephemeral port before the container starts. The upstream side
connects to the container's address on the bridge, or — when the container has none reachable
from the host — from a socket created inside the container's netns to its 127.0.0.1.
Proxies live as long as the daemon; a restarted daemon re-publishes running containers' ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from .errors import NetworkError, PortAllocated
from .netlink import socket_in_netns


@dataclass(frozen=True)
class Target:
    """Where forwarded traffic goes: ``ip`` on the bridge, or 127.0.0.1 inside ``netns`` (a path
    the daemon can enter), or 127.0.0.1 through sockets ``factory`` makes inside the container."""

    ip: str | None
    netns: str | None = None
    factory: Callable[[int], socket.socket] | None = None


@dataclass
class Published:
    """One bound host port; ``close`` stops listening and drops its live connections."""

    proto: str
    host_ip: str
    host_port: int
    container_port: int
    sock: socket.socket
    closers: list[Callable[[], None]] = field(default_factory=list)


def check_protocol(proto: str, host_ip: str) -> None:
    """Whether a published port's protocol can be served, before any host port is taken:
    dockerd's bridge driver refuses a protocol it has no address type for (``icmp``, and "0"
    for a name it does not know) in its words, ``invalid transport protocol: 0``.

    ``sctp``: dockerd's docker-proxy opens an SCTP socket (``socket(AF_INET, SOCK_STREAM,
    IPPROTO_SCTP)``); where the kernel has no SCTP that fails, and so does the start: ``Error
    starting userland proxy: protocol not supported`` (the errno in Go's words). The socket is
    tried here for real, so that failure is the kernel's. Where the kernel does take it,
    dockyard still refuses the start, in the same shape: its proxy relays TCP streams and UDP
    datagrams only — it has no SCTP association relay — and a port that carries nothing would
    be worse than a clear refusal. (That branch needs a kernel with SCTP to be exercised.)"""
    if proto not in ("tcp", "udp", "sctp"):
        raise NetworkError(f"invalid transport protocol: {proto}")
    if proto != "sctp":
        return
    try:
        probe = socket.socket(socket.AF_INET6 if ":" in host_ip else socket.AF_INET,
                              socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    except OSError as exc:
        raise NetworkError(f"Error starting userland proxy: {go_errno(exc)}") from None
    probe.close()
    raise NetworkError("Error starting userland proxy: sctp ports are not supported by dockyard "
                       "(it has no SCTP proxy)")


def go_errno(exc: OSError) -> str:
    """An errno as Go's ``syscall.Errno.Error`` words it: the C library's text, lower case
    first ("protocol not supported")."""
    text = os.strerror(exc.errno) if exc.errno else str(exc)
    return text[:1].lower() + text[1:]


def bind(proto: str, host_ip: str, host_port: int) -> socket.socket:
    """A bound (and, for TCP, listening) socket, or dockerd's "port is already allocated" (any other
    failure in the words of its userland proxy's Go listen)."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    v6 = ":" in host_ip
    sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, kind)
    try:
        if v6:  # [::] beside 0.0.0.0, as dockerd's: IPv6 only, or the port would clash
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if proto == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host_ip, host_port))
        if proto == "tcp":
            sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortAllocated(host_ip, host_port) from None
        address = f"[{host_ip}]:{host_port}" if v6 else f"{host_ip}:{host_port}"  # Go's JoinHostPort
        raise NetworkError(f"Error starting userland proxy: listen {proto}{6 if v6 else 4} {address}: "
                           f"bind: {go_errno(exc)}") from None
    sock.setblocking(False)
    return sock


class PortProxy:
    """One event loop thread, started on first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="port-proxy", daemon=True).start()
                self._loop = loop
            return self._loop

    def close(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop = None

    def start(self, pub: Published, target: Target) -> None:
        """Serve ``pub`` until :meth:`stop`."""
        loop = self._ensure_loop()
        coro = _serve_tcp(pub, target) if pub.proto == "tcp" else _serve_udp(pub, target)
        asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=10)

    def stop(self, pub: Published) -> None:
        loop = self._loop
        if loop is None or not loop.is_running():
            pub.sock.close()
            return
        asyncio.run_coroutine_threadsafe(_close(pub), loop).result(timeout=10)


async def _close(pub: Published) -> None:
    for closer in pub.closers:
        closer()
    pub.closers.clear()
    pub.sock.close()


def _upstream_socket(kind: int, target: Target) -> socket.socket:
    if target.factory is not None:
        sock = target.factory(kind)
    elif target.ip is not None:  # an endpoint's IPv6 address for an IPv6 host address
        sock = socket.socket(socket.AF_INET6 if ":" in target.ip else socket.AF_INET, kind)
    else:
        assert target.netns is not None
        with socket_in_netns(target.netns):
            sock = socket.socket(socket.AF_INET, kind)
    sock.setblocking(False)
    return sock


async def _serve_tcp(pub: Published, target: Target) -> None:
    conns: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns.add(writer)
        try:
            await _pipe_to(reader, writer, target, pub.container_port, conns)
        finally:
            conns.discard(writer)
            writer.close()

    server = await asyncio.start_server(handle, sock=pub.sock)

    def close() -> None:
        server.close()
        for w in list(conns):
            w.transport.abort()

    pub.closers.append(close)


async def _pipe_to(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: Target,
                   port: int, conns: set[asyncio.StreamWriter]) -> None:
    loop = asyncio.get_running_loop()
    try:
        up = _upstream_socket(socket.SOCK_STREAM, target)
    except OSError:
        return
    try:
        await loop.sock_connect(up, (target.ip or "127.0.0.1", port))
    except OSError:
        up.close()
        return
    up_reader, up_writer = await asyncio.open_connection(sock=up)
    conns.add(up_writer)
    try:
        await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer))
    finally:
        conns.discard(up_writer)
        up_writer.close()


async def _copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    """Bytes one way until EOF, then half-close (so request/response protocols finish)."""
    with contextlib.suppress(ConnectionError, OSError):
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()


class _UdpUpstream(asyncio.DatagramProtocol):
    def __init__(self, reply: Callable[[bytes], None]) -> None:
        self.reply = reply

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.reply(data)


class _UdpServer(asyncio.DatagramProtocol):
    """One upstream socket per client address, so replies find their way back."""

    def __init__(self, target: Target, port: int) -> None:
        self.target, self.port = target, port
        self.transport: asyncio.DatagramTransport | None = None
        self.clients: dict[Any, asyncio.DatagramTransport] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        up = self.clients.get(addr)
        if up is not None:
            up.sendto(data)
        else:
            asyncio.ensure_future(self._open(data, addr))

    async def _open(self, data: bytes, addr: Any) -> None:
        sock = _upstream_socket(socket.SOCK_DGRAM, self.target)
        sock.connect((self.target.ip or "127.0.0.1", self.port))
        server = self.transport
        assert server is not None
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _UdpUpstream(lambda reply: server.sendto(reply, addr)), sock=sock)
        self.clients[addr] = transport
        transport.sendto(data)

    def close(self) -> None:
        for t in self.clients.values():
            t.close()
        if self.transport is not None:
            self.transport.close()


async def _serve_udp(pub: Published, target: Target) -> None:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(lambda: _UdpServer(target, pub.container_port),
                                                      sock=pub.sock)
    pub.closers.append(protocol.close)
