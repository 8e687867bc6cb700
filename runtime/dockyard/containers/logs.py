"""Reading a container's json-file log (written by its shim) for ``GET /containers/{id}/logs``
and attach's ``logs=1``: stream selection, ``since``/``until``, ``tail``, ``timestamps``,
``details``.

Each line of ``<id>-json.log`` is ``{"log": "hi\\n", "stream": "stdout", "time": "…Z"}``.
:class:`LogReader` reads from an offset, so a follower re-reads only what was appended; with
``max-size`` it reads the rotated files too (``<id>-json.log.N``, :mod:`.logfile`).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import quote_plus

from ..errors import InvalidArgument, NotSupported
from . import logfile

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


def log_files(host_config: dict[str, Any]) -> int:
    """How many of the log's files dockerd reads: 0 when the log never rotates (no
    ``max-size``, or a driver whose output dockyard keeps in one json-file log), else
    ``max-file`` (the ``local`` driver's defaults: 5). A start refused bad values already."""
    config = host_config.get("LogConfig") or {}
    options = config.get("Config") or {}
    driver = config.get("Type") or "json-file"
    if driver == "local":
        return int(options.get("max-file", 5)) or 1
    if driver == "json-file" and "max-size" in options:
        return int(options.get("max-file", 1))
    return 0


class LogReader:
    """Incremental reader of a container's log; ``read()`` returns the new matching entries.

    A log that rotates (``files``: see :func:`log_files`) is read from its rotated files,
    oldest first, then the live file, which a follower keeps open: when the shim replaces
    it, the follower reads the old one to its end, then whatever was rotated after it, then
    the new one — nothing twice, nothing lost unless a whole file was dropped meanwhile
    (:mod:`.logfile`)."""

    def __init__(self, path: str, options: LogOptions, files: int = 0) -> None:
        self.path = path
        self.options = options
        self.files = files
        self.offset = 0
        self._rest = b""
        self._live: BinaryIO | None = None  # a rotating log's live file
        self._tail = b""                    # the last bytes read from it (see logfile._same)

    def read(self) -> list[Entry]:
        data = self._follow() if self.files else self._append()
        data = self._rest + data
        lines = data.split(b"\n")
        self._rest = lines.pop()
        return self._entries(lines)

    def _entries(self, lines: list[bytes]) -> list[Entry]:
        return [e for line in lines if line and (e := self._entry(json.loads(line)))]

    def _append(self) -> bytes:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return b""
        self.offset += len(data)
        return data

    def _follow(self) -> bytes:
        if self._live is None:
            self._live = logfile.open_live(self.path)
            if self._live is None:
                return b""
        data = self._drain()
        if self._replaced():
            data += self._drain()  # what the shim wrote before the rename
            with logfile.locked(os.path.dirname(self.path), fcntl.LOCK_SH):
                fresh = logfile.open_live(self.path)
                data += logfile.newer_than(self.path, self.files - 1, self._live, self.offset,
                                           self._tail)
            self._live.close()
            self._live, self.offset, self._tail = fresh, 0, b""
            data += self._drain()
        return data

    def _drain(self) -> bytes:
        if self._live is None:
            return b""
        data = self._live.read() or b""
        self.offset += len(data)
        self._tail = (self._tail + data)[-4096:]
        return data

    def _replaced(self) -> bool:
        assert self._live is not None
        try:
            return os.stat(self.path).st_ino != os.fstat(self._live.fileno()).st_ino
        except FileNotFoundError:  # between the shim's rename and its new file
            return True

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
        """The first read — a rotating log's rotated files first —, cut to ``tail`` (which
        reads back from the live file only as many rotated files as it takes)."""
        entries: list[Entry] = []
        rotated: list[BinaryIO] = []
        if self.files:
            self._live, rotated = logfile.open_set(self.path, self.files - 1)
        tail = self.options.tail
        if tail < 0:
            for f in rotated:
                entries += self._entries(logfile.contents(f).split(b"\n"))
            return entries + self.read()
        entries = self.read()
        while rotated and len(entries) < tail:
            entries = self._entries(logfile.contents(rotated.pop()).split(b"\n")) + entries
        for f in rotated:
            f.close()
        return entries[len(entries) - tail:] if tail else []
