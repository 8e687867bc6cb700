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


def parse_ns(text: str | None) -> int:
    """Nanoseconds since the epoch for an RFC 3339 timestamp; 0 when absent or unparsable. What
    to order and compare by: Go's fractions are trimmed, so as strings ``.1Z`` sorts after
    ``.15Z`` and ``05Z`` after ``05.5Z``."""
    m = _RFC3339.match(text or "")
    if not m:
        return 0
    return parse_unix(text) * 1_000_000_000 + int((m.group(3) or "")[:9].ljust(9, "0"))


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def filter_time(value: str, now: float | None = None) -> float:
    """An ``until``/``since`` filter value as dockerd reads it (Go's ``GetTimestamp``): a Go
    duration before now (``10m``, ``1h30m``), unix seconds (``1700000000.5``), or an RFC 3339
    time or date (local time without a zone). Anything else is dockerd's 500."""
    parts = _DURATION.findall(value)
    if value != "0" and parts and "".join(a + b for a, b in parts) == value:
        return (time.time() if now is None else now) - sum(float(a) * _UNIT_SECONDS[b] for a, b in parts)
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return float(value)
    try:
        stamp = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        from ..errors import DockyardError

        raise DockyardError(f'failed to parse value as time or duration: "{value}"') from None
    return (stamp if stamp.tzinfo is not None else stamp.astimezone()).timestamp()
