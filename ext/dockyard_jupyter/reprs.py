"""What ``%docker`` returns: lists that render as docker's tables (text and HTML), and rich
reprs for image and container objects. A result assigned to a variable is still a list of
docker-py objects."""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import docker.models.containers
import docker.models.images


def human_size(n: float) -> str:
    """Decimal units, as docker prints sizes."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1000
    return f"{n}B"


def human_ago(created: Any) -> str:
    seconds = time.time() - _timestamp(created)
    for unit, span in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= span:
            count = int(seconds // span)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "Less than a minute ago"


def _timestamp(created: Any) -> float:
    if isinstance(created, (int, float)):
        return float(created)
    text = str(created).rstrip("Z").split(".")[0]
    try:
        return datetime.fromisoformat(text + "+00:00").timestamp()
    except ValueError:
        return time.time()


class Table(list[Any]):
    """A list whose repr is a docker-style table (``columns`` × ``rows``)."""

    def __init__(self, items: Sequence[Any], columns: Sequence[str], rows: Sequence[Sequence[str]]):
        super().__init__(items)
        self.columns = list(columns)
        self.rows = [list(r) for r in rows]

    def __repr__(self) -> str:
        grid = [self.columns, *self.rows]
        widths = [max(len(r[i]) for r in grid) for i in range(len(self.columns))]
        return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in grid)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                       for r in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def short_id(full: str, no_trunc: bool = False) -> str:
    return full if no_trunc else full.split(":")[-1][:12]


def image_table(images: list[docker.models.images.Image], no_trunc: bool = False) -> Table:
    rows = []
    for image in images:
        attrs = image.attrs
        tags = attrs.get("RepoTags") or ["<none>:<none>"]
        for tag in tags:
            repo, _, version = tag.rpartition(":")
            rows.append([repo, version, short_id(image.id, no_trunc), human_ago(attrs["Created"]),
                         human_size(attrs.get("Size", 0))])
    return Table(images, ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows)


def container_status(container: docker.models.containers.Container) -> str:
    """The state, with the healthcheck's as ``docker ps`` words it: "running (healthy)",
    "running (health: starting)" (a listing's ``State`` is a bare word: its ``Status`` has it)."""
    state = container.attrs.get("State")
    health = state.get("Health") if isinstance(state, dict) else None
    if not health or container.status != "running":
        return str(container.status)
    word = str(health.get("Status") or "")
    return f"{container.status} ({'health: starting' if word == 'starting' else word})"


def container_table(containers: list[docker.models.containers.Container],
                    no_trunc: bool = False) -> Table:
    rows = []
    for c in containers:
        a = c.attrs
        command = " ".join([a.get("Path", ""), *a.get("Args", [])]).strip() if "Path" in a \
            else str(a.get("Command", ""))
        rows.append([short_id(c.id, no_trunc), str(a.get("Config", {}).get("Image") or
                     a.get("Image", "")), f'"{command[:20] if not no_trunc else command}"',
                     human_ago(a.get("Created", 0)), container_status(c), c.name])
    return Table(containers, ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES"],
                 rows)


def _image_html(self: docker.models.images.Image) -> str:
    tags = ", ".join(self.tags) or "&lt;none&gt;"
    return (f"<b>Image</b> {html.escape(short_id(self.id))} — {tags} — "
            f"{human_size(self.attrs.get('Size', 0))}")


def _container_html(self: docker.models.containers.Container) -> str:
    return (f"<b>Container</b> {html.escape(self.name or '')} "
            f"({html.escape(short_id(self.id))}) — {html.escape(container_status(self))}")


def install() -> None:
    """Give docker-py's models notebook reprs (idempotent)."""
    docker.models.images.Image._repr_html_ = _image_html
    docker.models.containers.Container._repr_html_ = _container_html
