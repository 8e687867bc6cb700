"""``/v2/<name>/tags/list`` and ``/v2/_catalog``, with ``n``/``last`` pagination and ``Link``."""

from __future__ import annotations

import bisect
import re
from typing import ClassVar
from urllib.parse import urlencode

from ..auth.policy import Scope
from ..errors import RegistryError
from .base import RegistryHandler


def page(items: list[str], n: str | None, last: str | None) -> tuple[list[str], bool]:
    """Items after ``last`` (sorted order), at most ``n``; and whether more follow."""
    start = bisect.bisect_right(items, last) if last else 0
    if n is None:
        return items[start:], False
    if not re.fullmatch(r"[0-9]{1,9}", n):
        raise RegistryError("PAGINATION_NUMBER_INVALID", detail={"n": n[:20]})
    chunk = items[start : start + int(n)]
    return chunk, start + int(n) < len(items) and int(n) > 0


class _Paged(RegistryHandler):
    def write_page(self, path: str, key: str, items: list[str], extra: dict[str, str]) -> None:
        n = self.get_query_argument("n", None)
        chunk, more = page(items, n, self.get_query_argument("last", None))
        if more and chunk:
            query = urlencode({"n": n or "", "last": chunk[-1]})
            self.set_header("Link", f'<{path}?{query}>; rel="next"')
        self.write_json({**extra, key: chunk})


class TagsHandler(_Paged):
    ACTIONS: ClassVar[dict[str, tuple[str, ...]]] = {"GET": ("pull",)}

    def get(self, name: str) -> None:
        self.write_page(f"/v2/{name}/tags/list", "tags", self.storage.tags(name), {"name": name})


class CatalogHandler(_Paged):
    def scope(self) -> Scope:
        return Scope("registry", "catalog", ("*",))

    def get(self) -> None:
        policy, account = self.registry.auth.policy, self.identity.account
        visible = [r for r in self.storage.repositories() if "pull" in policy.granted(account, r)]
        self.write_page("/v2/_catalog", "repositories", visible, {})
