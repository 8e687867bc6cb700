"""Log drivers that deliver, in the shim: syslog, GELF and fluentd messages as dockerd 20.10
sends them (recorded on this machine: tests/unit/containers/test_logdrivers.py), over a
transport that never blocks the container.

The shim imports this module only for a container whose driver delivers
(``ContainerSpec.log_delivery``, resolved and checked by ``containers.logopts`` at the
start); it goes on writing the json-file log as well, so ``docker logs`` works as with
dockerd 20.10's dual logging. Each whole line (or 16 KiB piece) becomes one message; an
empty line none (dockerd's syslog, gelf and fluentd loggers skip them).

Delivery is dockerd's ``mode=non-blocking`` whatever the mode: a datagram that cannot go
is dropped; a stream keeps up to ``max-buffer-size`` (1 MB) unsent, written as its socket
takes it (the shim's selector watches it), and drops what does not fit. A peer that goes away
is dialled again, at most once a second, on the next message. Each outage is noted once in
``<container dir>/log-driver.log`` (dockerd notes its own in the daemon's log).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import selectors
    from typing import Any

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
GELF_CHUNK = 1420
"""go-gelf's UDP chunk size: a larger (compressed) message goes in chunks of 1408 bytes of
payload after a 12-byte header (magic ``1e 0f``, 8-byte id, index, count), at most 128."""


# ---- formats -----------------------------------------------------------------------------------


def _zone(tm: time.struct_time) -> str:
    off = tm.tm_gmtoff or 0
    if off == 0:
        return "Z"
    sign, off = ("+", off) if off > 0 else ("-", -off)
    return f"{sign}{off // 3600:02d}:{off % 3600 // 60:02d}"


def syslog_message(conf: dict[str, Any], stream: str, line: bytes, ns: int) -> bytes:
    """One syslog message as dockerd's formatters write it: priority = facility × 8 +
    (info 6 for stdout, err 3 for stderr); the pid is the sender's (dockerd's, here the
    shim's); every message ends in ``\\n`` (srslog adds one)."""
    pri = conf["facility"] * 8 + (3 if stream == "stderr" else 6)
    secs, frac = divmod(ns, 1_000_000_000)
    tm = time.localtime(secs)
    tag, pid, fmt = conf["tag"], os.getpid(), conf["format"]
    if fmt in ("", "rfc3164"):
        stamp = f"{_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:>2} {time.strftime('%H:%M:%S', tm)}"
        host = f" {conf['hostname']}" if fmt else ""  # the unix formatter has none
        head = f"<{pri}>{stamp}{host} {tag}[{pid}]: "
    else:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", tm)
        if fmt == "rfc5424micro" and frac // 1000:
            stamp += "." + f"{frac // 1000:06d}".rstrip("0")
        head = f"<{pri}>1 {stamp}{_zone(tm)} {conf['hostname']} {tag} {pid} {tag} - "
    message = head.encode() + line
    return message if message.endswith(b"\n") else message + b"\n"


def go_json(value: Any) -> bytes:
    """JSON as Go's encoding/json writes it: compact, UTF-8 as is, ``<``, ``>``, ``&``,
    U+2028 and U+2029 escaped (structure never holds them: only strings are changed)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text.encode()


def gelf_message(conf: dict[str, Any], stream: str, line: bytes, ns: int) -> bytes:
    """A GELF 1.1 message as dockerd's: version, host, short_message, a timestamp in
    milliseconds, level (6 info, 3 err), then the container's fields (``_command`` …
    ``_tag``)."""
    message = {"version": "1.1", "host": conf["hostname"],
               "short_message": line.rstrip(b"\n").decode("utf-8", "replace"),
               "timestamp": ns // 1_000_000 / 1000, "level": 3 if stream == "stderr" else 6,
               **conf["extra"]}
    return go_json(message)


def gelf_datagrams(conf: dict[str, Any], payload: bytes) -> list[bytes]:
    """The UDP datagram(s) for one GELF message: compressed as asked (gzip by default, at
    level 1), chunked beyond ``GELF_CHUNK`` bytes; more than 128 chunks are dropped."""
    import zlib
    level, kind = conf.get("level", 1), conf.get("compression", "gzip")
    if kind == "gzip":
        payload = go_gzip(payload, level)
    elif kind == "zlib":
        payload = zlib.compress(payload, level)
    if len(payload) <= GELF_CHUNK:
        return [payload]
    size = GELF_CHUNK - 12
    pieces = [payload[i:i + size] for i in range(0, len(payload), size)]
    if len(pieces) > 128:
        return []
    ident = os.urandom(8)
    return [b"\x1e\x0f" + ident + bytes((i, len(pieces))) + p for i, p in enumerate(pieces)]


def go_gzip(data: bytes, level: int) -> bytes:
    """gzip as Go's compress/gzip writes it: no name, mtime 0, XFL 4 at level 1 (2 at 9),
    OS 255 (Python's gzip module writes 3)."""
    import struct
    import zlib
    packer = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = packer.compress(data) + packer.flush()
    xfl = {1: 4, 9: 2}.get(level, 0)
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + bytes((xfl, 0xFF)) + body
            + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF))


def msgpack(value: Any) -> bytes:
    """The msgpack encoding of str, bytes, int, bool, None, lists and dicts (what a fluentd
    forward message holds), smallest form first, as msgpack encoders write."""
    import struct
    if value is None:
        return b"\xc0"
    if value is True or value is False:
        return b"\xc3" if value else b"\xc2"
    if isinstance(value, int):
        if 0 <= value < 0x80:
            return bytes((value,))
        if -32 <= value < 0:
            return struct.pack("b", value)
        for lo, hi, code, fmt in ((0, 1 << 8, 0xCC, "B"), (0, 1 << 16, 0xCD, ">H"),
                                  (0, 1 << 32, 0xCE, ">I"), (0, 1 << 64, 0xCF, ">Q"),
                                  (-(1 << 7), 1 << 7, 0xD0, "b"), (-(1 << 15), 1 << 15, 0xD1, ">h"),
                                  (-(1 << 31), 1 << 31, 0xD2, ">i"), (-(1 << 63), 1 << 63, 0xD3, ">q")):
            if lo <= value < hi:
                return bytes((code,)) + struct.pack(fmt, value)
        raise OverflowError("integer out of msgpack's range")
    if isinstance(value, str):
        return _msgpack_head(len(value.encode()), 0xA0, 32, (0xD9, 0xDA, 0xDB)) + value.encode()
    if isinstance(value, (bytes, bytearray)):
        return _msgpack_head(len(value), -1, 0, (0xC4, 0xC5, 0xC6)) + bytes(value)
    if isinstance(value, (list, tuple)):
        return _msgpack_head(len(value), 0x90, 16, (None, 0xDC, 0xDD)) + b"".join(
            msgpack(v) for v in value)
    if isinstance(value, dict):
        return _msgpack_head(len(value), 0x80, 16, (None, 0xDE, 0xDF)) + b"".join(
            msgpack(k) + msgpack(v) for k, v in value.items())
    raise TypeError(f"cannot encode {type(value).__name__} as msgpack")


def _msgpack_head(n: int, fix: int, fix_max: int, codes: tuple[int | None, ...]) -> bytes:
    import struct
    if n < fix_max:
        return bytes((fix | n,))
    for code, fmt, limit in zip(codes, ("B", ">H", ">I"), (1 << 8, 1 << 16, 1 << 32)):
        if code is not None and n < limit:
            return bytes((code,)) + struct.pack(fmt, n)
    raise OverflowError("too long for msgpack")


def event_time(ns: int) -> bytes:
    """fluentd's EventTime (msgpack ext type 0: seconds and nanoseconds, big-endian), for
    ``fluentd-sub-second-precision``."""
    import struct
    secs, frac = divmod(ns, 1_000_000_000)
    return b"\xd7\x00" + struct.pack(">II", secs, frac)


def fluentd_message(conf: dict[str, Any], stream: str, line: bytes, ns: int,
                    partial: dict[str, str] | None = None) -> bytes:
    """A forward-mode message as dockerd's fluent logger sends it: ``[tag, time, record,
    {}]`` with container_id, container_name (with its ``/``), source and log, and
    partial_message … partial_last for a line's pieces."""
    record: dict[str, str] = {"container_id": conf["id"], "container_name": conf["name"],
                              "source": stream,
                              "log": line.rstrip(b"\n").decode("utf-8", "replace"),
                              **conf.get("extra", {})}
    if partial:
        record.update(partial)
    if conf.get("subsecond"):
        stamp = event_time(ns)
    else:  # Go's msgp writes a signed form: int32 until 2038
        import struct
        secs = ns // 1_000_000_000
        stamp = b"\xd2" + struct.pack(">i", secs) if secs < 1 << 31 else \
            b"\xd3" + struct.pack(">q", secs)
    return b"\x94" + msgpack(conf["tag"]) + stamp + msgpack(record) + b"\x80"


# ---- the transport ---------------------------------------------------------------------------


def tls_context(tls: dict[str, Any]) -> Any:
    """The client's TLS settings as dockerd's syslog driver makes them: the CA file (else
    the system's roots), a client certificate and key, or no verification at all."""
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if tls.get("skip_verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif tls.get("ca"):
        try:
            context.load_verify_locations(tls["ca"])
        except OSError as exc:
            text = exc.strerror or str(exc)
            raise ValueError(f'could not read CA certificate "{tls["ca"]}": open {tls["ca"]}: '
                             f"{text[:1].lower()}{text[1:]}") from None
    else:
        context.load_default_certs()
    if tls.get("cert") and tls.get("key"):
        context.load_cert_chain(tls["cert"], tls["key"])
    return context


class Sink:
    """One connection to the log's sink that never blocks: datagrams sent or dropped, a
    stream buffered up to ``limit`` bytes and written when its socket takes it."""

    RETRY = 1.0
    """Seconds between two dials of a sink that went away (``gelf-tcp-reconnect-delay``,
    ``fluentd-retry-wait`` when given)."""

    def __init__(self, conf: dict[str, Any], directory: str, sel: selectors.BaseSelector,
                 fd: int | None = None, pending: bytes = b"") -> None:
        self.conf, self.dir, self.sel = conf, directory, sel
        scheme = conf["scheme"]
        self.stream = scheme not in ("udp", "unixgram")
        self.limit = int(conf.get("limit") or 1 << 20)
        self.pending = bytearray(pending)
        self.sock: socket.socket | None = None
        self.watched = 0                  # the selector's events for our socket, or 0
        self.connecting = False
        self.handshaking = False          # TLS (syslog's tcp+tls) after the TCP connect
        self.want_read = False            # the handshake (or a TLS write) waits to read
        self.retry_at = 0.0
        self.failing = False
        if fd is not None:
            self.sock = socket.socket(fileno=fd)
            os.set_inheritable(fd, False)
            self._watch()
        else:
            self._connect()

    def _target(self) -> tuple[int, Any]:
        scheme, address = self.conf["scheme"], self.conf["address"]
        if scheme in ("unix", "unixgram"):
            return socket.AF_UNIX, address
        host, _, port = address.rpartition(":")
        kind = socket.SOCK_STREAM if self.stream else socket.SOCK_DGRAM
        found = socket.getaddrinfo(host.strip("[]") or None, int(port), type=kind)
        return found[0][0], found[0][4]

    def _connect(self) -> None:
        self.retry_at = time.monotonic() + float(self.conf.get("retry") or self.RETRY)
        try:
            family, target = self._target()
            kind = socket.SOCK_STREAM if self.stream else socket.SOCK_DGRAM
            sock = socket.socket(family, kind | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
        except OSError as exc:
            self._failed(exc)
            return
        code = sock.connect_ex(target)
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            self._failed(OSError(code, os.strerror(code)))
            return
        self.sock, self.connecting = sock, self.stream  # a stream's first flush finishes it
        self._watch()

    def send(self, messages: list[bytes]) -> None:
        if self.sock is None:
            if time.monotonic() < self.retry_at:
                return
            self._connect()
            if self.sock is None:
                return
        if not self.stream:
            for message in messages:
                self._datagram(message)
            return
        for message in messages:
            if len(self.pending) + len(message) <= self.limit:
                self.pending += message
        self.flush()

    def _datagram(self, message: bytes) -> None:
        """Sent, or dropped: no listener (ECONNREFUSED), a full queue (EAGAIN)."""
        assert self.sock is not None
        for _ in range(2):  # a refusal reported now may be an earlier datagram's: once more
            try:
                self.sock.send(message)
                self._ok()
                return
            except ConnectionRefusedError as exc:
                error = exc
            except OSError as exc:
                self._failed(exc, reconnect=exc.errno not in (errno.EAGAIN, errno.EMSGSIZE))
                return
        self._failed(error, reconnect=False)

    def flush(self) -> None:
        """Write what the socket takes now (the shim calls this when it is writable)."""
        if self.sock is None:
            return
        if self.connecting and not self._connected():
            return
        if self.handshaking and not self._handshake():
            return
        while self.pending and self.stream:
            try:
                sent = self.sock.send(self.pending)
            except BlockingIOError:
                break
            except OSError as exc:
                if self._tls_wait(exc):
                    break
                self._failed(exc, reconnect=True)  # the peer went away: its share is lost
                return
            del self.pending[:sent]
            self._ok()
        self._watch()

    def _connected(self) -> bool:
        """Whether the dial finished (False: still under way, or failed and dropped)."""
        assert self.sock is not None
        code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._failed(OSError(code, os.strerror(code)), reconnect=True)
            return False
        try:
            self.sock.getpeername()
        except OSError:  # ENOTCONN: still connecting
            self._watch()
            return False
        self.connecting = False
        if self.conf.get("tls"):
            try:
                self._wrap()
            except (OSError, ValueError) as exc:  # a CA file gone since the start
                self._failed(exc if isinstance(exc, OSError) else OSError(str(exc)))
                return False
        return True

    def _wrap(self) -> None:
        """TLS over the connected socket (syslog's ``tcp+tls``), its handshake driven by
        the shim's selector like any write."""
        assert self.sock is not None
        self._unwatch()
        host = self.conf["address"].rpartition(":")[0].strip("[]")
        self.sock = tls_context(self.conf["tls"]).wrap_socket(
            self.sock, server_hostname=host, do_handshake_on_connect=False)
        self.handshaking = True

    def _handshake(self) -> bool:
        assert self.sock is not None
        try:
            self.sock.do_handshake()  # type: ignore[attr-defined]
        except OSError as exc:
            if not self._tls_wait(exc):
                self._failed(exc, reconnect=True)
            else:
                self._watch()
            return False
        self.handshaking, self.want_read = False, False
        return True

    def _tls_wait(self, exc: OSError) -> bool:
        """Whether ``exc`` is TLS waiting for the socket (to read, or to write)."""
        name = type(exc).__name__
        if name in ("SSLWantReadError", "SSLWantWriteError"):
            self.want_read = name == "SSLWantReadError"
            return True
        return False

    def _watch(self) -> None:
        busy = self.connecting or self.handshaking or bool(self.pending)
        wanted = (1 if self.want_read else 2) if self.sock is not None and busy else 0
        if wanted == self.watched:  # 1, 2: selectors.EVENT_READ, EVENT_WRITE
            return
        self._unwatch()
        if wanted:
            self.sel.register(self.sock, wanted, "log-sink")  # type: ignore[arg-type]
        self.watched = wanted

    def _unwatch(self) -> None:
        if self.watched:
            self.sel.unregister(self.sock)  # type: ignore[arg-type]
            self.watched = 0

    def _failed(self, exc: OSError, reconnect: bool = True) -> None:
        if reconnect and self.sock is not None:
            self._unwatch()
            self.sock.close()
            self.sock, self.connecting, self.handshaking = None, False, False
            self.pending.clear()
        if not self.failing:
            self.failing = True
            self._note(f"{self.conf['driver']}: delivery to {self.conf['address'] or 'syslog'} "
                       f"failed, dropping messages: {exc.strerror or exc}")

    def _ok(self) -> None:
        if self.failing:
            self.failing = False
            self._note(f"{self.conf['driver']}: delivering again")

    def _note(self, text: str) -> None:
        try:
            with open(os.path.join(self.dir, "log-driver.log"), "a") as f:
                f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {text}\n")
        except OSError:
            pass

    def close(self, timeout: float = 1.0) -> None:
        """The container is gone: what is buffered goes out for up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.sock is not None and (self.pending or self.connecting or self.handshaking) \
                and time.monotonic() < deadline:
            import select
            ready = [self.sock]
            select.select(ready if self.want_read else [], [] if self.want_read else ready, [],
                          max(0.0, deadline - time.monotonic()))
            self.flush()
        if self.sock is not None:
            self._unwatch()
            self.sock.close()
            self.sock = None


# ---- the shim's view ---------------------------------------------------------------------------


class Delivery:
    """A driver's messages for the shim's lines, through a :class:`Sink`."""

    def __init__(self, conf: dict[str, Any], directory: str, sel: selectors.BaseSelector,
                 fd: int | None = None, pending: bytes = b"") -> None:
        self.conf = conf
        self.driver = conf["driver"]
        self.sink = Sink(conf, directory, sel, fd, pending)
        self.partials: dict[str, tuple[str, int]] = {}

    def send(self, stream: str, entries: list[bytes]) -> None:
        ns = time.time_ns()
        messages = []
        for entry in entries:
            if entry in (b"", b"\n"):
                continue
            messages.extend(self._encode(stream, entry, ns))
        if messages:
            self.sink.send(messages)

    def _encode(self, stream: str, entry: bytes, ns: int) -> list[bytes]:
        if self.driver == "syslog":
            message = syslog_message(self.conf, stream, entry.rstrip(b"\n"), ns)
            if self.conf.get("octets"):  # RFC 5425's framing, which dockerd uses over TLS
                message = b"%d %s" % (len(message), message)
            return [message]
        if self.driver == "gelf":
            payload = gelf_message(self.conf, stream, entry, ns)
            if self.sink.stream:
                return [payload + b"\x00"]
            return gelf_datagrams(self.conf, payload)
        return [fluentd_message(self.conf, stream, entry, ns, self._partial(stream, entry))]

    def _partial(self, stream: str, entry: bytes) -> dict[str, str] | None:
        """fluentd's partial_* fields for a line logged in pieces (or cut at the exit)."""
        whole = entry.endswith(b"\n")
        if whole and stream not in self.partials:
            return None
        ident, ordinal = self.partials.get(stream) or (os.urandom(32).hex(), 0)
        ordinal += 1
        if whole:
            del self.partials[stream]
        else:
            self.partials[stream] = (ident, ordinal)
        return {"partial_message": "true", "partial_id": ident,
                "partial_ordinal": str(ordinal), "partial_last": "true" if whole else "false"}

    def writable(self) -> None:
        self.sink.flush()

    def close(self) -> None:
        self.sink.close()

    def state(self) -> dict[str, Any]:
        """What crosses the shim's hand-off (its socket's fd stays open across the exec)."""
        sock = self.sink.sock
        if sock is not None and self.conf.get("tls"):  # a TLS session cannot cross an exec:
            self.sink.close(0.0)                        # the next interpreter dials again
            sock = None
        if sock is not None:
            os.set_inheritable(sock.fileno(), True)
        return {"conf": self.conf, "fd": None if sock is None else sock.fileno(),
                "pending": bytes(self.sink.pending).decode("latin-1")}

    @classmethod
    def resume(cls, state: dict[str, Any], directory: str,
               sel: selectors.BaseSelector) -> Delivery:
        """A delivery from the spec's settings, or from ``state`` after the hand-off."""
        if "conf" not in state:
            return cls(state, directory, sel)
        return cls(state["conf"], directory, sel, state["fd"],
                   state["pending"].encode("latin-1"))
