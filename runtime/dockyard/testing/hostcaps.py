"""What this host's network namespace can do, for tests that expect what dockerd does there."""

from __future__ import annotations

import socket


def ipv6_listen() -> bool:
    """Whether a socket can listen on ``[::]`` here: where it can, a port published without a
    host IP is bound there too (dockerd's, and dockyard's, behaviour)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(("::", 0))
    except OSError:
        return False
    return True
