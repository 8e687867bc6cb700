"""HTTP/1.1 to the daemon for :mod:`.engineapi`, written and read by hand over one socket.

``http.client`` would bring ``email.parser`` and ``ssl`` — ~20 ms of a CLI start, more than the
request — for what the Engine API answers: a status line, a few headers and a body sized by
Content-Length, by chunks (Go's net/http past its buffer, a wait), or not at all (1xx, 204, 304;
an attach's ``101 UPGRADED``, after which the socket is the caller's).
"""

from __future__ import annotations

import select
import socket


class Connection:
    """One connection: a unix socket path or a (host, port); opened on first use, opened again
    when the daemon has closed it while idle."""

    def __init__(self, address: str | tuple[str, int], timeout: float | None) -> None:
        self.address, self.timeout = address, timeout
        self.host = "localhost" if isinstance(address, str) else f"{address[0]}:{address[1]}"
        self.sock: socket.socket | None = None
        self.buf = bytearray()

    def _socket(self) -> socket.socket:
        if self.sock is not None and not _dropped(self.sock):
            return self.sock
        self.close()
        if isinstance(self.address, tuple):
            self.sock = socket.create_connection(self.address, self.timeout)
            return self.sock
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.address)
        except OSError:
            sock.close()
            raise
        self.sock = sock
        return sock

    def send(self, method: str, target: str, body: bytes | None, headers: dict[str, str]) -> None:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}"]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._socket().sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))

    def head(self) -> tuple[int, dict[str, str]]:
        """The status and headers (names lower-cased) of the next response."""
        status_line = self._line()
        status = int(status_line.split(None, 2)[1])
        headers: dict[str, str] = {}
        while line := self._line():
            name, _, value = line.partition(b":")
            headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
        return status, headers

    def body(self, method: str, status: int, headers: dict[str, str]) -> bytes:
        """The rest of the response; the connection is kept for the next unless it must close."""
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            data = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            data = self._chunks()
        elif "content-length" in headers:
            data = self._exactly(int(headers["content-length"]))
        else:
            data = self._to_the_end()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return data

    def detach(self) -> socket.socket:
        """The socket, let go of (an upgraded attach): what a stream reads is now the caller's."""
        sock, self.sock = self.sock, None
        assert sock is not None
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.buf.clear()

    def _fill(self) -> None:
        assert self.sock is not None
        data = self.sock.recv(65536)
        if not data:
            self.close()
            raise ConnectionResetError("the daemon closed the connection")
        self.buf += data

    def _line(self) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            self._fill()
        line = bytes(self.buf[:end])
        del self.buf[:end + 2]
        return line

    def _exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def _chunks(self) -> bytes:
        data = bytearray()
        while size := int(self._line().split(b";")[0], 16):
            data += self._exactly(size)
            self._exactly(2)
        while self._line():  # trailers, then the empty line
            pass
        return bytes(data)

    def _to_the_end(self) -> bytes:
        assert self.sock is not None
        while chunk := self.sock.recv(65536):
            self.buf += chunk
        data = bytes(self.buf)
        self.close()
        return data


def _dropped(sock: socket.socket) -> bool:
    """An idle kept-alive connection is readable only once the daemon has closed it (urllib3
    asks the same before reusing one)."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True
