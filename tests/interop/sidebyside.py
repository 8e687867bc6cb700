"""Side-by-side runs through the raw Engine API (the docker CLI checks much itself): a daemon
as docker-py's API client at dockerd 20.10's version, each request's status and decoded body;
and the tidying after a test."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any, TypeVar

import docker


class ApiSide:
    """One daemon: ``call`` gives (status, decoded body) without raising."""

    def __init__(self, name: str, host: str) -> None:
        self.name, self.host = name, host
        self.api = docker.APIClient(base_url=host, version="1.41", timeout=30)

    def call(self, method: str, path: str, body: Any = None, version: str = "1.41") -> tuple[int, Any]:
        api = self.api if version == "1.41" else docker.APIClient(base_url=self.host, version=version)
        url = api._url(path)
        if method == "POST":
            response = api._post_json(url, data=body)
        elif method == "GET":
            response = api._get(url)
        else:
            response = api._delete(url)
        text = response.text.strip()
        return response.status_code, json.loads(text) if text else None


S = TypeVar("S", bound=ApiSide)


@contextlib.contextmanager
def tidied(sides: list[S], volumes: bool = False) -> Iterator[list[S]]:
    """``sides`` for a test: the containers and networks it made go after it (a
    ``--config-from`` network before its template; with ``volumes``, each container's
    anonymous volumes), and the clients are closed."""
    before = [({c["Id"] for c in s.api.containers(all=True)}, {n["Id"] for n in s.api.networks()})
              for s in sides]
    try:
        yield sides
    finally:
        for side, (containers, networks) in zip(sides, before, strict=True):
            for c in side.api.containers(all=True):
                if c["Id"] not in containers:
                    side.api.remove_container(c["Id"], force=True, v=volumes)
            for n in sorted(side.api.networks(), key=lambda n: not n["ConfigFrom"]["Network"]):
                if n["Id"] not in networks:
                    side.call("DELETE", f"/networks/{n['Id']}")
            side.api.close()
