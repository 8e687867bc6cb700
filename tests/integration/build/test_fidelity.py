"""Fidelity: each Dockerfile case built on the dockyard daemon gives the image dockerd gave.

The expected snapshots (config, platform, layer count, history, and every path's type, mode,
owner, size and content digest) were recorded from a real dockerd by
``python3 -m dockyard.testing.record_builds``: Debian bookworm's dockerd 20.10 for the classic
builder's cases, Debian's dockerd 28.5.2 (current BuildKit) for the BuildKit cases and for
``34-variable-modifiers``; each fixture's ``recorded_with`` says which. A case that names a
``# syntax=`` frontend image was recorded with the daemon's built-in frontend (``frontend``).
``36-copy-parents-exclude`` has no fixture (``COPY --parents`` is only in the ``-labs``
frontend image). Deliberate differences are listed here, each with its reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.buildcompare import case_context, compare, report, snapshot_image

CORPUS = Path(__file__).parents[2] / "fixtures" / "dockerfiles"
RECORDED = sorted(p.parent.name for p in CORPUS.glob("*/expected.json"))
# Compared only for cases recorded with the classic builder, whose texts and config dockyard
# writes: BuildKit's history ("RUN … # buildkit") is its own, and BuildKit sets ArgsEscaped on
# every CMD (both forms) where the classic builder sets it on Windows only.
BUILDKIT_ONLY = ["history", "config.ArgsEscaped"]
# Files whose content cannot match between two builds, even on one dockerd.
UNMATCHABLE = {
    "07-cache-mount": ["/cache-info"],  # `ls -ld` output: the cache directory's mtime
}
# Files whose bytes differ only by a random id of the same length: all but the digest compared.
SAME_SIZE = {
    "12-env-forms": ["/env.txt"],  # `env` in RUN: HOSTNAME=<the step container's random id>,
                                   # besides PATH, HOME=/root and the ENVs: the size pins them
    "34-variable-modifiers": ["/vars"],  # the same (`env | sort`)
}

def build(client: Any, case: Path, cfg: dict[str, Any]) -> tuple[str | None, str | None]:
    """(image id, error) of one build on the daemon under test."""
    image, error = None, None
    for message in client.api.build(path=str(case), buildargs=cfg.get("build_args") or None,
                                    target=cfg.get("target"), platform=cfg.get("target_platform"),
                                    rm=True, forcerm=True, decode=True):
        error = error or message.get("error")
        if "aux" in message:
            image = message["aux"].get("ID")
    return image, error


@pytest.mark.slow
@pytest.mark.parametrize("name", RECORDED)
def test_build_matches_dockerd(client: Any, name: str) -> None:
    case = CORPUS / name
    expected = json.loads((case / "expected.json").read_text())
    cfg = json.loads((case / "case.json").read_text())
    with case_context(case) as context:
        image, error = build(client, context, cfg)
    if "error" in expected:
        assert error is not None, f"dockerd failed this build, dockyard did not: {expected['error']}"
        assert expected["error"].split(":")[-1].strip() in error
        return
    assert error is None and image, error
    actual = snapshot_image(client.api, image)
    buildkit = expected["recorded_with"].endswith("buildkit")
    ignore_keys = BUILDKIT_ONLY if buildkit else []
    differences = compare(expected, actual, ignore_keys=ignore_keys,
                          ignore_paths=UNMATCHABLE.get(name, ()),
                          ignore_digests=SAME_SIZE.get(name, ()))
    assert not differences, report(name, differences)
