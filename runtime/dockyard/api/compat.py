"""Per-version response shapes: the engine answers in API v1.45 terms, older clients get theirs.

Only fields whose presence or form changed between MIN_API_VERSION and API_VERSION live here
(the Engine API's version-history page lists them).
"""

from __future__ import annotations

from typing import Any

from .handlers.base import parse_version

V1_42 = (1, 42)
V1_44 = (1, 44)
V1_45 = (1, 45)


def adapt_image_summaries(images: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    """Before 1.44 untagged images read ``<none>:<none>`` and carry ``VirtualSize``."""
    wanted = parse_version(version)
    for image in images:
        if wanted < V1_44:
            image.setdefault("VirtualSize", image.get("Size", 0))
            if not image.get("RepoTags"):
                image["RepoTags"] = ["<none>:<none>"]
                if not image.get("RepoDigests"):
                    image["RepoDigests"] = ["<none>@<none>"]
        else:
            image.pop("VirtualSize", None)
    return images


def adapt_image_inspect(image: dict[str, Any], version: str) -> dict[str, Any]:
    """``VirtualSize`` left in 1.44, ``Container``/``ContainerConfig`` in 1.45."""
    wanted = parse_version(version)
    if wanted < V1_44:
        image.setdefault("VirtualSize", image.get("Size", 0))
    else:
        image.pop("VirtualSize", None)
    if wanted >= V1_45:
        image.pop("Container", None)
        image.pop("ContainerConfig", None)
    return image


def adapt_disk_usage(usage: dict[str, Any], version: str) -> dict[str, Any]:
    """``/system/df``: build cache ``Parent`` became ``Parents`` in 1.42, when dockerd also
    stopped sending the deprecated ``BuilderSize`` (the sum of the records' sizes before)."""
    wanted = parse_version(version)
    usage["Images"] = adapt_image_summaries(usage.get("Images") or [], version)
    records = usage.get("BuildCache") or []
    for record in records:
        parent = record.pop("Parent", "")
        if wanted < V1_42:
            record["Parent"] = parent
        elif parent:
            record["Parents"] = [parent]
    if wanted < V1_42:
        usage["BuilderSize"] = sum(int(r.get("Size") or 0) for r in records)
    return usage


def complete_version(body: dict[str, Any]) -> dict[str, Any]:
    """Fields ``docker version`` prints that dockerd always sends (Details are strings)."""
    for component in body.get("Components") or []:
        if component.get("Name") == "Engine":
            component.setdefault("Details", {}).setdefault("Experimental", "false")
    body.setdefault("Experimental", False)
    return body
