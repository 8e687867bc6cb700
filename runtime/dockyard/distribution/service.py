"""The facade the engine calls: pull, push, login, search, and ensure-present for run/build.

One :class:`Distribution` per engine; each operation gets a fresh :class:`~.transfer.Context`
(cancel flag, progress queue) but shares the connection pool and the distmeta database.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument, NotFound, Unavailable
from ..filters import Filters, InvalidFilter, check_keys, unique_exact_match
from ..oci import reference as _ref
from ..oci.digest import of_bytes
from ..oci.platform import Platform
from ..oci.reference import Reference
from ..store.images import ImageStore
from . import manifests
from . import pull as _pull
from . import push as _push
from .client import Registry, new_pool
from .credentials import AuthConfig
from .distmeta import DistMeta
from .endpoints import RegistryConfig
from .errors import RegistryError
from .manifests import parse_platform
from .progress import Message, status
from .pull import CONFIG_LIMIT
from .transfer import Context


class Distribution:
    def __init__(self, store: ImageStore, data_root: Path, config: RegistryConfig | None = None) -> None:
        self.store = store
        self.config = config or RegistryConfig()
        self.meta = DistMeta(data_root)
        self.pool = new_pool(16)
        self._lock = threading.Lock()

    def close(self) -> None:
        self.meta.close()
        self.pool.clear()

    def _context(self, cancel: threading.Event | None = None) -> Context:
        if cancel is None:
            return Context(self.store, self.meta, self.config, self.pool)
        return Context(self.store, self.meta, self.config, self.pool, cancel)

    # ---- pull -----------------------------------------------------------------------------

    def pull(self, name: str, tag: str | None = None, platform: str | None = None,
             auth: AuthConfig | None = None, all_tags: bool = False,
             cancel: threading.Event | None = None) -> Iterator[Message]:
        """``POST /images/create?fromImage=name&tag=tag``: dockerd's progress messages.
        ``cancel`` is the pull's cancel flag, for a caller that stops it from another thread."""
        ref = pull_reference(name, tag, all_tags)
        wanted = parse_platform(platform)
        ctx = self._context(cancel)
        if all_tags:
            yield from self._pull_all(ctx, ref, wanted, auth or AuthConfig())
        else:
            result = _pull.Pulled()
            yield from _pull.pull(ctx, ref, wanted, auth or AuthConfig(), result, strict=bool(platform))
            yield _pull.final_status(ref, result)
        self._log_event("pull", ref)

    def _pull_all(self, ctx: Context, ref: Reference, wanted: Any, auth: AuthConfig) -> Iterator[Message]:
        endpoint = self.config.endpoints(ref.domain)[-1]
        tags = ctx.registry(endpoint, auth).tags(ref.path)
        if not tags:
            raise NotFound(f"no tags found for {ref.familiar_repository}")
        yield status(f"Pulling from {ref.path}", "")
        updated = False
        for tag in sorted(tags):
            result = _pull.Pulled()
            yield from _pull.pull(ctx, ref.with_tag(tag), wanted, auth, result, announce=False)
            updated |= result.updated
        bare = ref.familiar_repository
        text = "Downloaded newer image for" if updated else "Image is up to date for"
        yield status(f"Status: {text} {bare}")

    def ensure_image(self, name: str, platform: str | None = None, auth: AuthConfig | None = None) -> str:
        """Pull-through for run/build: the image ID, pulling ``name`` first if it is not local."""
        try:
            return self.store.resolve(name)
        except NotFound:
            pass
        for _ in self.pull(name, None, platform, auth):
            pass
        return self.store.resolve(name)

    # ---- push -----------------------------------------------------------------------------

    def push(self, name: str, tag: str | None = None, auth: AuthConfig | None = None,
             options: _push.Options | None = None) -> Iterator[Message]:
        """``POST /images/{name}/push?tag=``: every tag of the repository when none is given."""
        ref = _ref.parse(name, default_tag=False)
        if ref.digest:
            raise InvalidArgument("cannot push a digest reference")
        if tag:
            ref = ref.with_tag(tag)
        targets = self._push_targets(ref)
        ctx = self._context()
        yield status(f"The push refers to repository [{ref.repository}]")
        endpoint = self.config.endpoints(ref.domain)[-1]
        reg = ctx.registry(endpoint, auth or AuthConfig())
        for target, image_id in targets:
            yield from _push.push_image(ctx, reg, target, image_id, options or _push.Options())
        self._log_event("push", ref)

    def _log_event(self, action: str, ref: Reference) -> None:
        """dockerd 20.10's event once a pull or push is done (up to date too): the reference as
        asked (a repository alone for every tag), named by its repository."""
        self.store.log_event(action, ref.familiar(), ref.familiar_repository)

    def _push_targets(self, ref: Reference) -> list[tuple[Reference, str]]:
        if ref.tag:
            row = self.store.meta.ref(str(ref))
            if row is None:
                raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_repository}")
            return [(ref, row.image_id)]
        rows = [r for r in self.store.meta.refs() if r.repository == ref.repository and r.tag]
        if not rows:
            raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_repository}")
        return [(ref.with_tag(r.tag or ""), r.image_id) for r in rows]

    # ---- login / search ------------------------------------------------------------------

    def login(self, auth: AuthConfig) -> dict[str, Any]:
        """``POST /auth``: check the credentials against the registry's /v2/."""
        server = auth.serveraddress or "https://index.docker.io/v1/"
        domain = login_domain(server)
        endpoint = self.config.endpoints(domain)[-1]
        Registry(endpoint, auth, self.pool).check_login()
        return {"Status": "Login Succeeded", "IdentityToken": ""}

    def search(self, term: str, limit: int = 25, auth: AuthConfig | None = None,
               filters: Filters | None = None) -> list[dict[str, Any]]:
        """``GET /images/search``: the registry's v1 search API (OCI registries have none);
        ``filters`` (:func:`search_filter`) choose among the ``limit`` results, as dockerd's."""
        keep = search_filter(filters or {})
        domain, _, text = term.partition("/") if _has_domain(term) else (_ref.DEFAULT_DOMAIN, "", term)
        endpoint = self.config.endpoints(domain)[-1]
        if domain == _ref.DEFAULT_DOMAIN:  # dockerd pings no official index
            check_search_limit(limit)
        reg = Registry(endpoint, auth or AuthConfig(), self.pool)
        reg.ping()
        check_search_limit(limit)
        query = urllib.parse.urlencode({"q": text, "n": str(limit)})
        resp = reg.request("GET", f"/v1/search?{query}", frozenset())
        if resp.status != 200:
            raise Unavailable(f"{domain} does not support search: the OCI Distribution API has no "
                              f"search endpoint (GET /v1/search answered {resp.status})")
        try:
            results = json.loads(resp.data).get("results") or []
        except (ValueError, AttributeError):
            raise RegistryError(f"{domain}: invalid search response") from None
        found = [{"name": r.get("name", ""), "description": r.get("description", ""),
                  "star_count": r.get("star_count", 0), "is_official": bool(r.get("is_official")),
                  "is_automated": bool(r.get("is_automated"))} for r in results[:limit]]
        return [r for r in found if keep(r)]

    def inspect(self, name: str, auth: AuthConfig | None = None) -> dict[str, Any]:
        """``GET /distribution/{name}/json``: descriptor and platforms, nothing downloaded."""
        ref = _ref.parse(name)
        ctx = self._context()
        endpoint = self.config.endpoints(ref.domain)[-1]
        reg = ctx.registry(endpoint, auth or AuthConfig())
        data, media_type, _ = reg.get_manifest(ref.path, ref.digest or ref.tag or "latest")
        parsed = manifests.parse(data, media_type)
        descriptor = {"mediaType": parsed.media_type, "digest": of_bytes(data), "size": len(data)}
        if isinstance(parsed, manifests.Index):
            platforms = [_platform_json(d.platform) for d in parsed.manifests if d.platform]
        else:
            resp = reg.get_blob(ref.path, parsed.config.digest)
            config = json.loads(resp.read(CONFIG_LIMIT))
            resp.release()
            platforms = [{"architecture": config.get("architecture", ""), "os": config.get("os", ""),
                          **({"variant": config["variant"]} if config.get("variant") else {})}]
        return {"Descriptor": descriptor, "Platforms": platforms}


SEARCH_FILTERS = ("is-automated", "is-official", "stars")


def check_search_limit(limit: int) -> None:
    """dockerd 20.10's range of a search's ``limit`` (its registry session checks it after
    the endpoint answered its ping)."""
    if not 1 <= limit <= 100:
        raise InvalidArgument(f"Limit {limit} is outside the range of [1, 100]")


def search_filter(filters: Filters) -> Callable[[dict[str, Any]], bool]:
    """A search's filters as dockerd 20.10 reads them, refused before any registry is asked:
    ``is-automated``/``is-official`` one value, "true" or "false" (``UniqueExactMatch``),
    ``stars`` Go integers (the largest is the least a result has)."""
    check_keys(filters, SEARCH_FILTERS)
    wanted: dict[str, bool] = {}
    for key in ("is-automated", "is-official"):
        if key in filters:
            if not (unique_exact_match(filters, key, "true") or unique_exact_match(filters, key, "false")):
                raise InvalidFilter(key, filters[key])
            wanted[key.replace("-", "_")] = unique_exact_match(filters, key, "true")
    stars = 0
    for value in filters.get("stars", []):
        if not re.fullmatch(r"[+-]?[0-9]+", value):  # Go's Atoi
            raise InvalidFilter("stars", value)
        stars = max(stars, int(value))
    return lambda r: r["star_count"] >= stars and all(r[k] == v for k, v in wanted.items())


def pull_reference(name: str, tag: str | None, all_tags: bool = False) -> Reference:
    """dockerd's reading of fromImage + tag: tag may also be a digest."""
    if not name:
        raise InvalidArgument("invalid reference format")
    if tag and not all_tags:
        if tag.startswith(("sha256:", "sha512:")):
            return _ref.parse(f"{name}@{tag}")
        base = _ref.parse(name, default_tag=False)
        if base.digest:
            return base
        return base.with_tag(tag)
    ref = _ref.parse(name, default_tag=not all_tags)
    return ref


def asks_every_tag(name: str, tag: str | None) -> bool:
    """Whether ``fromImage=name`` with this ``tag`` pulls every tag, as dockerd 20.10's pull
    of a reference with neither tag nor digest does (``docker pull -a`` sends that; the CLI
    and docker-py add ``latest`` otherwise)."""
    if tag:
        return False
    try:
        ref = _ref.parse(name, default_tag=False)
    except InvalidArgument:
        return False  # the pull refuses it in its words
    return ref.tag is None and ref.digest is None


def _has_domain(term: str) -> bool:
    first, sep, _ = term.partition("/")
    return bool(sep) and ("." in first or ":" in first or first == "localhost")


def _platform_json(p: Platform) -> dict[str, str]:
    out = {"architecture": p.architecture, "os": p.os}
    if p.variant:
        out["variant"] = p.variant
    return out


def login_domain(server: str) -> str:
    """``https://index.docker.io/v1/`` → docker.io; ``http://localhost:5000/`` → localhost:5000."""
    host = server.split("://", 1)[-1].split("/", 1)[0]
    if host in ("index.docker.io", "registry-1.docker.io", "docker.io", ""):
        return _ref.DEFAULT_DOMAIN
    return host
