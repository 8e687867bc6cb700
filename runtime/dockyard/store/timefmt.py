"""Timestamps as Go writes them (RFC 3339 with nanoseconds), since clients parse dockerd's."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

ZERO_TIME = "0001-01-01T00:00:00Z"
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})$"
)


def rfc3339_ns(ns: int) -> str:
    """Format nanoseconds since the epoch like Go's ``time.RFC3339Nano`` (trailing zeros cut)."""
    secs, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(secs, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        base += "." + f"{frac:09d}".rstrip("0")
    return base + "Z"


def rfc3339_now() -> str:
    return rfc3339_ns(time.time_ns())


def parse_unix(text: str | None) -> int:
    """Seconds since the epoch for an RFC 3339 timestamp; 0 when absent or unparsable."""
    if not text:
        return 0
    m = _RFC3339.match(text)
    if not m:
        return 0
    day, clock, _frac, zone = m.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        return int(datetime.fromisoformat(f"{day}T{clock}{zone}").timestamp())
    except ValueError:
        return 0
