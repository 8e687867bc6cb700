"""``POST /build`` (the classic builder's JSON stream) and ``POST /build/prune``.

The context tar is streamed to the builder as it arrives (see ``UploadHandler``); query
parameters are read as dockerd reads them (``t`` repeatable, ``buildargs``/``labels`` JSON).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import tornado.web

from ...build.builder import BuildOptions, parse_build_args
from ...containers.create import check_resources
from ...errors import DockyardError, InvalidArgument
from ...gostrconv import atoi as go_atoi
from .base import EngineHandler
from .images import UploadHandler


def _json_object(text: str | None, name: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"failed to parse {name}: {exc}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"failed to parse {name}: expected a JSON object")
    return value


def _registry_config(value: str | None) -> dict[str, Any]:
    """``X-Registry-Config``: base64url JSON ``{"registry": {auth config}}`` for base pulls."""
    if not value or not value.strip():
        return {}
    try:
        raw = base64.urlsafe_b64decode(value.strip() + "=" * (-len(value.strip()) % 4))
        data = json.loads(raw)
    except (ValueError, TypeError):
        raise InvalidArgument("invalid X-Registry-Config header") from None
    return data if isinstance(data, dict) else {}


def _ulimits(text: str | None) -> list[dict[str, Any]]:
    """``ulimits`` (``docker build --ulimit``): ``[{"Name", "Soft", "Hard"}]``, as dockerd reads it."""
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"error reading ulimit settings: {exc}") from None
    if not isinstance(value, list) or not all(isinstance(u, dict) for u in value):
        raise InvalidArgument("error reading ulimit settings: json: cannot unmarshal "
                              "into Go value of type []*units.Ulimit")
    return value


def _int(text: str | None) -> int:
    """An integer parameter (``shmsize``, ``memory``, ``cpushares``, …); 0 when absent."""
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None


# ``docker build --memory, --memory-swap, --cpu-*``: each RUN container's HostConfig resources
_INT_RESOURCES = (("memory", "Memory"), ("memswap", "MemorySwap"), ("cpushares", "CpuShares"),
                  ("cpuperiod", "CpuPeriod"), ("cpuquota", "CpuQuota"))
_TEXT_RESOURCES = (("cpusetcpus", "CpusetCpus"), ("cpusetmems", "CpusetMems"))


def _resources(arg: Callable[[str], str | None]) -> dict[str, Any]:
    """The build's resources as HostConfig keys, checked as dockerd checks a container's."""
    resources: dict[str, Any] = {key: _int(arg(name)) for name, key in _INT_RESOURCES if arg(name)}
    resources.update({key: arg(name) for name, key in _TEXT_RESOURCES if arg(name)})
    check_resources(resources)
    return resources


@tornado.web.stream_request_body
class BuildHandler(UploadHandler):
    def options_from_query(self) -> BuildOptions:
        if self.str_arg("remote"):
            raise InvalidArgument("remote build contexts (git URLs, remote tarballs) are not "
                                  "supported by this daemon: send the context as the body")
        if self.str_arg("securityopt") not in (None, "null"):  # dockerd's refusal off Windows
            raise InvalidArgument("The daemon on this platform does not support setting security "
                                  "options on build")
        cache_from = self.get_query_arguments("cachefrom")
        if len(cache_from) == 1 and cache_from[0].startswith("["):
            cache_from = json.loads(cache_from[0])
        secrets = _json_object(self.request.headers.get("X-Dockyard-Secrets"), "secrets")
        return BuildOptions(
            tags=[t for t in self.get_query_arguments("t") if t],
            dockerfile=self._first("dockerfile") or "Dockerfile",
            build_args=parse_build_args(_json_object(self.str_arg("buildargs"), "build args")),
            labels={str(k): str(v) for k, v in
                    _json_object(self.str_arg("labels"), "labels").items()},
            nocache=self.bool_arg("nocache"), pull=self.bool_arg("pull"),
            target=self.str_arg("target"), network=self.str_arg("networkmode") or "default",
            quiet=self.bool_arg("q"), cache_from=list(cache_from),
            platform=self.str_arg("platform"),
            rm=self._rm(), force_rm=self.bool_arg("forcerm"),
            ulimits=_ulimits(self.str_arg("ulimits")),
            shm_size=_int(self.str_arg("shmsize")), resources=_resources(self.str_arg),
            extra_hosts=self._extra_hosts(), cgroup_parent=self.str_arg("cgroupparent") or "",
            secrets={k: base64.b64decode(v) for k, v in secrets.items()},
            registry_auth=_registry_config(self.request.headers.get("X-Registry-Config")))

    build_stream: Any = None

    def _extra_hosts(self) -> list[str]:
        """``extrahosts`` (``--add-host name:ip``), ``host-gateway`` resolved as for a container."""
        hosts = [h for h in self.get_query_arguments("extrahosts") if h]
        if any(h.endswith(":host-gateway") for h in hosts):
            gateway = self.engine.networks.host_gateway()
            hosts = [h.removesuffix("host-gateway") + gateway if h.endswith(":host-gateway") else h
                     for h in hosts]
        return hosts

    def _first(self, name: str) -> str:
        """The first of repeated values, as dockerd's ``FormValue`` reads it: docker-py sends
        ``dockerfile`` twice (name, then the text) for a Dockerfile outside the context."""
        values = self.get_query_arguments(name)
        return values[0] if values else ""

    def _rm(self) -> bool:
        """``rm`` defaults to true; ``forcerm`` implies it."""
        if self.bool_arg("forcerm"):
            return True
        value = self.get_query_argument("rm", None)
        return True if value is None or value == "" else self.bool_arg("rm")

    def start(self, reader: Any) -> Any:
        self.build_stream = self.engine.builder.build(reader, self.options_from_query())
        return self.build_stream

    def on_connection_close(self) -> None:
        """The client hung up (docker build interrupted): stop the build, kill its RUN."""
        super().on_connection_close()
        if self.build_stream is not None:
            self.build_stream.cancel()


class PruneHandler(EngineHandler):
    """``POST /build/prune``: dockerd 20.10 reads the filters, then ``keep-storage`` (Go's
    ``strconv.Atoi``), each refusal a 500 in its words."""

    async def post(self) -> None:
        try:
            filters = self.filters_arg()
        except DockyardError as exc:
            raise DockyardError(f"could not parse filters: {exc}") from None
        raw = self.get_query_argument("keep-storage", "", strip=False) or "0"
        try:
            keep = go_atoi(raw)
        except ValueError as exc:
            raise DockyardError(f"keep-storage is in bytes and expects an integer, got {raw}: "
                                f"{exc}") from None
        self.write_json(await self.call(self.engine.builder.prune, all=self.bool_arg("all"),
                                        filters=filters, keep_storage=keep))
