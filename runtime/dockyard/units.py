"""go-units' human forms of sizes and durations, as docker's CLI and dockerd print them
(``docker images`` sizes, ``docker ps`` "Up 3 hours", "2 weeks ago")."""

from __future__ import annotations

_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(size: float, precision: int = 3) -> str:
    """go-units' ``HumanSizeWithPrecision``: decimal units, ``precision`` significant digits."""
    unit = 0
    while size >= 1000.0 and unit < len(_DECIMAL_UNITS) - 1:
        size /= 1000.0
        unit += 1
    return f"{size:.{precision}g}{_DECIMAL_UNITS[unit]}"


def human_duration(seconds: float) -> str:
    """go-units' ``HumanDuration`` ("Less than a second", "About an hour", "2 years")."""
    secs = int(seconds)
    if secs < 1:
        return "Less than a second"
    if secs == 1:
        return "1 second"
    if secs < 60:
        return f"{secs} seconds"
    minutes = secs // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds // 3600) // 24 // 365} years"



def bytes_size(size: float) -> str:
    """go-units' ``BytesSize``: binary units, 4 significant digits (``1.5MiB``), as ``docker
    stats`` and ``docker info`` print memory."""
    unit = 0
    while size >= 1024 and unit < len(_BINARY_UNITS) - 1:
        size /= 1024
        unit += 1
    return f"{size:.4g}{_BINARY_UNITS[unit]}"


__all__ = ["bytes_size", "human_duration", "human_size"]
