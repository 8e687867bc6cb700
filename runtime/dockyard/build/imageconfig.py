"""Image configs as dockerd's classic builder writes them, one per step.

Every step commits an image whose parent is the previous step's (``docker history`` shows
their IDs): ``config`` is the container config so far (``Image`` = the parent ID),
``container_config`` the probe container's (its ``Cmd`` is the step's comment), ``history``
gains one entry whose ``created_by`` is that ``Cmd`` joined with spaces, and ``empty_layer``
is true when the step changed no file. The comment texts follow the classic dispatchers:

- metadata steps: ``<shell> #(nop)  ENV K=V`` (``"#(nop) "`` and the comment are two words,
  hence the two spaces); ``CMD``/``ENTRYPOINT`` print their argv with Go's ``%q``;
- ``COPY``/``ADD``/``WORKDIR``: ``<shell> #(nop) COPY file:<digest> in /dest `` (one word);
- ``RUN``: ``<shell> <command>``, prefixed ``|N K=V…`` when build args are in scope.
"""

from __future__ import annotations

import copy
import json
import secrets
from typing import Any

from .. import __version__
from ..gostrconv import quote as go_quote
from ..store.timefmt import rfc3339_now
from ..store.views import EMPTY_CONFIG

DEFAULT_SHELL = ["/bin/sh", "-c"]
DEFAULT_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def go_list(items: list[str]) -> str:
    """``%q`` of a ``[]string``: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(i) for i in items) + "]"


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String`` for non-negative values."""
    if ns == 0:
        return "0s"
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return _trim(ns / size) + unit
    secs_total, frac = divmod(ns, 1_000_000_000)
    hours, rest = divmod(secs_total, 3600)
    minutes, secs = divmod(rest, 60)
    sec_text = str(secs) + (f".{frac:09d}".rstrip("0") if frac else "") + "s"
    if hours:
        return f"{hours}h{minutes}m{sec_text}"
    if minutes:
        return f"{minutes}m{sec_text}"
    return sec_text


def _trim(value: float) -> str:
    return f"{value:.9f}".rstrip("0").rstrip(".")


def go_rune(value: int) -> str:
    """``%q`` of an int (Go prints it as a quoted character)."""
    if value < 0x20 or value == 0x7F:
        return f"'\\x{value:02x}'"
    ch = chr(value)
    return f"'\\{ch}'" if ch in "'\\" else f"'{ch}'"


class ImageConfig:
    """The config of the image a stage has built so far; :meth:`commit` makes the next one."""

    def __init__(self, base: dict[str, Any] | None, base_id: str, platform: tuple[str, str, str]) -> None:
        self.data: dict[str, Any] = copy.deepcopy(base) if base else {
            "architecture": platform[1], "os": platform[0],
            "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
        if not base and platform[2]:
            self.data["variant"] = platform[2]
        self.image_id = base_id  # "" for scratch
        cfg = {**EMPTY_CONFIG, **(self.data.get("config") or {})}
        if not cfg.get("Env"):
            cfg["Env"] = [DEFAULT_ENV] if not base else cfg.get("Env")
        self.data["config"] = cfg
        self.cmd_set = False

    @property
    def config(self) -> dict[str, Any]:
        return self.data["config"]  # type: ignore[no-any-return]

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    @property
    def diff_ids(self) -> list[str]:
        return list(self.data.get("rootfs", {}).get("diff_ids") or [])

    def set_env(self, key: str, value: str) -> None:
        env = list(self.config.get("Env") or [])
        for i, item in enumerate(env):
            if item.partition("=")[0] == key:
                env[i] = f"{key}={value}"
                break
        else:
            env.append(f"{key}={value}")
        self.config["Env"] = env

    def nop_cmd(self, comment: str, one_word: bool = False) -> list[str]:
        """The probe container's Cmd for a step that runs nothing."""
        if one_word:
            return [*self.shell, "#(nop) " + comment]
        return [*self.shell, "#(nop) ", comment]

    def commit(self, container_cmd: list[str], diff_id: str | None,
               container_env: list[str] | None = None) -> bytes:
        """The next image's config bytes (``diff_id`` None = an empty layer); updates self."""
        data = self.data
        created = rfc3339_now()
        config = dict(self.config)
        config["Image"] = self.image_id
        container_config = {**config, "Cmd": container_cmd,
                            "Hostname": secrets.token_hex(6)}
        if container_env is not None:
            container_config["Env"] = container_env
        entry: dict[str, Any] = {"created": created, "created_by": " ".join(container_cmd)}
        if data.get("author"):
            entry["author"] = data["author"]
        if diff_id is None:
            entry["empty_layer"] = True
        else:
            data.setdefault("rootfs", {"type": "layers", "diff_ids": []})
            data["rootfs"] = {"type": "layers", "diff_ids": [*self.diff_ids, diff_id]}
        data["history"] = [*(data.get("history") or []), entry]
        data["config"] = config
        data["container_config"] = container_config
        data["container"] = secrets.token_hex(32)
        data["created"] = created
        data["docker_version"] = __version__
        return json.dumps(data, separators=(",", ":")).encode()
