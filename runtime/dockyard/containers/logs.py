"""Reading a container's json-file log (written by its shim) for ``GET /containers/{id}/logs``
and attach's ``logs=1``: stream selection, ``since``/``until``, ``tail``, ``timestamps``,
``details``.

Each line of ``<id>-json.log`` is ``{"log": "hi\\n", "stream": "stdout", "time": "…Z"}``.
:class:`LogReader` reads from an offset, so a follower re-reads only what was appended.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

from ..errors import InvalidArgument, NotSupported

Entry = tuple[str, bytes]  # ("stdout"|"stderr", payload)


@dataclass
class LogOptions:
    stdout: bool = True
    stderr: bool = True
    since_ns: int = 0
    until_ns: int = 0           # 0: no end
    tail: int = -1              # -1: all
    timestamps: bool = False
    details: bool = False
    attrs: dict[str, str] = field(default_factory=dict)  # the container's, for ``details``


def check_readable(host_config: dict[str, Any]) -> None:
    """dockerd's 501 for ``docker logs`` of a container logging to ``none`` (the shim keeps
    its json-file log all the same: attach and the API's followers read through it)."""
    if (host_config.get("LogConfig") or {}).get("Type") == "none":
        raise NotSupported("configured logging driver does not support reading")


def extra_attrs(config: dict[str, Any], host_config: dict[str, Any]) -> dict[str, str]:
    """The attributes ``--log-opt labels=/labels-regex=/env=/env-regex=`` pick from the
    container's labels and environment (dockerd's ``logger.Info.ExtraAttributes``, which its
    json-file driver stores in each line's ``attrs`` and ``docker logs --details`` prints).
    They never change over a container's life, so they are computed when the log is read."""
    options = (host_config.get("LogConfig") or {}).get("Config") or {}
    labels: dict[str, str] = config.get("Labels") or {}
    env = dict(e.split("=", 1) for e in config.get("Env") or [] if "=" in e)
    extra: dict[str, str] = {}
    if options.get("labels"):
        extra.update((k, labels[k]) for k in options["labels"].split(",") if k in labels)
    if options.get("labels-regex"):
        extra.update(_matching(options["labels-regex"], labels))
    if options.get("env"):
        extra.update((k, env[k]) for k in options["env"].split(",") if k in env)
    if options.get("env-regex"):
        extra.update(_matching(options["env-regex"], env))
    return extra


def _matching(pattern: str, values: dict[str, str]) -> dict[str, str]:
    try:
        found = re.compile(pattern)
    except re.error:
        return {}
    return {k: v for k, v in values.items() if found.search(k)}


def details_prefix(attrs: dict[str, str]) -> bytes:
    """``k=v,k2=v2 `` (sorted, query-escaped, then a space: a bare space without attributes)."""
    return (",".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in sorted(attrs.items())) + " ").encode()


def parse_time(text: str | None) -> int:
    """dockerd's since/until: unix seconds (with fraction) or RFC 3339 → nanoseconds."""
    if not text:
        return 0
    try:
        secs, _, frac = text.partition(".")
        return int(secs) * 1_000_000_000 + int((frac + "000000000")[:9] or 0)
    except ValueError:
        ns = _rfc3339_ns(text)
        if ns is None:
            raise InvalidArgument(f'invalid value for "since": {text}') from None
        return ns


def _rfc3339_ns(text: str) -> int | None:
    from datetime import datetime
    main, _, rest = text.rstrip("Z").partition(".")
    try:
        base = datetime.fromisoformat(main + "+00:00") if text.endswith("Z") or "+" not in text \
            else datetime.fromisoformat(text)
    except ValueError:
        return None
    digits = "".join(c for c in rest if c.isdigit())
    return int(base.timestamp()) * 1_000_000_000 + int((digits + "000000000")[:9])


def entry_ns(stamp: str) -> int:
    ns = _rfc3339_ns(stamp)
    return 0 if ns is None else ns


class LogReader:
    """Incremental reader of one log file; ``read()`` returns the new matching entries."""

    def __init__(self, path: str, options: LogOptions) -> None:
        self.path = path
        self.options = options
        self.offset = 0
        self._rest = b""

    def read(self) -> list[Entry]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self._rest + data
        lines = data.split(b"\n")
        self._rest = lines.pop()
        return [e for line in lines if line and (e := self._entry(json.loads(line)))]

    def _entry(self, item: dict[str, Any]) -> Entry | None:
        o = self.options
        stream = item.get("stream", "stdout")
        if (stream == "stdout" and not o.stdout) or (stream == "stderr" and not o.stderr):
            return None
        if o.since_ns or o.until_ns:
            ns = entry_ns(item.get("time", ""))
            if ns < o.since_ns or (o.until_ns and ns > o.until_ns):
                return None
        payload = item.get("log", "").encode()
        if o.details:
            payload = details_prefix(item.get("attrs") or o.attrs) + payload
        if o.timestamps:
            payload = item.get("time", "").encode() + b" " + payload
        return stream, payload

    def initial(self) -> list[Entry]:
        """The first read, cut to ``tail``."""
        entries = self.read()
        tail = self.options.tail
        if tail >= 0:
            entries = entries[len(entries) - tail:] if tail else []
        return entries
