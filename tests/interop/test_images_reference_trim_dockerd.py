"""An image list's ``reference`` filter (``docker images REPO``, ``--filter reference=…``) side
by side with a private dockerd 20.10.

dockerd 20.10.24's, recorded here: each image keeps only the references a pattern matches —
busybox tagged ``dyref-x:one`` and ``dyref-y:two`` shows one row under ``docker images
dyref-x``, not three — and an image none of whose references match is not listed.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow

TAGS = ["dyref-x:one", "dyref-y:two", "dyref-x:three"]
PATTERNS = ["dyref-x", "dyref-*", "*:two", "dyref-x:one", "dyref-y:*", "busybox", "nothing-here"]


def _lists(cli: Any, api: Any) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for pattern in PATTERNS:
        shown = cli("images", pattern, "--format", "{{.Repository}}:{{.Tag}}")
        seen[f"cli {pattern}"] = (shown.returncode, sorted(shown.stdout.split()))
        summaries = api.images(filters={"reference": pattern})
        seen[f"api {pattern}"] = sorted(sorted(s["RepoTags"] or []) for s in summaries)
    return seen


def test_a_reference_filter_lists_only_the_matching_tags_as_dockerd(both: dict[str, Any]) -> None:
    seen: dict[str, Any] = {}
    for side, (cli, client) in both.items():
        try:
            for tag in TAGS:
                repository, _, name = tag.partition(":")
                client.api.tag("busybox", repository, name)
            seen[side] = _lists(cli, client.api)
        finally:
            for tag in TAGS:
                client.api.remove_image(tag)
    assert seen["dockyard"] == seen["dockerd"]
    theirs = seen["dockerd"]
    assert theirs["cli dyref-x"] == (0, ["dyref-x:one", "dyref-x:three"])
    assert theirs["api *:two"] == [["dyref-y:two"]] and theirs["api nothing-here"] == []
