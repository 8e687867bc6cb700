"""A name ends where Go's regexp ``$`` ends it — at the end of the text, never before a final
newline as Python's ``$`` would — and a tag's ``\\w`` is ASCII, as Go's: references, tags,
digests, container and volume names (dockerd 20.10 refuses each; dockyard took them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dockyard.containers import create
from dockyard.errors import InvalidArgument
from dockyard.oci import digest, reference
from dockyard.volumes import parse

REFUSED: list[tuple[Callable[[str], Any], str]] = [
    (reference.parse, "busybox\n"), (reference.parse, "busybox:t\n"),
    (reference.validate_tag, "t\n"),
    (reference.validate_tag, "tä"), (reference.validate_tag, "٣"),
    (digest.validate, "sha256:" + "a" * 64 + "\n"), (create.check_name, "ab\n"),
    (create.check_name, "/ab\n"), (parse.check_volume_name, "ab\n"),
]


@pytest.mark.parametrize(("check", "value"), REFUSED)
def test_a_trailing_newline_or_a_non_ascii_letter_is_refused(check: Callable[[str], Any],
                                                              value: str) -> None:
    with pytest.raises(InvalidArgument):
        check(value)
    check(value.replace("\n", "").replace("ä", "a").replace("٣", "3"))  # the name without it is taken
