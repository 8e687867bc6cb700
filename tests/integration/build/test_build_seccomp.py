"""A build's RUN steps run under dockerd's default seccomp profile, as any container does: what
dockerd 20.10's classic builder answered to ``RUN unshare -U true``."""

from __future__ import annotations

from collections.abc import Callable

from buildhelp import Built


def test_a_run_step_is_confined(build: Callable[..., Built]) -> None:
    got = build({"Dockerfile": "FROM busybox\nRUN unshare -U true\n"})
    assert got.image_id is None
    assert "unshare: unshare(0x10000000): Operation not permitted\n" in got.text
    assert got.error == "The command '/bin/sh -c unshare -U true' returned a non-zero code: 1"
