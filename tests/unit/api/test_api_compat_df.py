"""``/system/df`` per API version: build cache ``Parent``/``Parents`` and ``BuilderSize``."""

from __future__ import annotations

from typing import Any

from dockyard.api.compat import adapt_disk_usage


def _usage() -> dict[str, Any]:
    return {"LayersSize": 10, "Images": [{"Id": "sha256:a", "RepoTags": [], "Size": 10}], "Containers": [],
            "Volumes": [], "BuildCache": [{"ID": "k1", "Parent": "p", "Size": 3, "Shared": True},
                                          {"ID": "k2", "Parent": "", "Size": 4, "Shared": False}]}


def test_api_1_45_has_parents_and_no_builder_size() -> None:
    usage = adapt_disk_usage(_usage(), "1.45")
    assert "BuilderSize" not in usage and "VirtualSize" not in usage["Images"][0]
    assert usage["BuildCache"][0]["Parents"] == ["p"] and "Parent" not in usage["BuildCache"][0]
    assert "Parents" not in usage["BuildCache"][1] and "Parent" not in usage["BuildCache"][1]


def test_api_1_41_has_parent_and_builder_size_as_dockerd_20_10() -> None:
    usage = adapt_disk_usage(_usage(), "1.41")
    assert usage["BuilderSize"] == 7 and usage["Images"][0]["RepoTags"] == ["<none>:<none>"]
    assert [r["Parent"] for r in usage["BuildCache"]] == ["p", ""]
    assert all("Parents" not in r for r in usage["BuildCache"])
