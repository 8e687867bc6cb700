"""The build cache: keys from content, not timestamps; survives a daemon restart; pruned by
``builder prune`` (docker-py) and by the docker CLI's ``system prune`` (a tagged image's
cache only with ``all``, as BuildKit prunes)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from buildhelp import Built, write_context

from dockyard.testing.daemon import DaemonProcess

DOCKERFILE = """FROM busybox
ENV A=1
COPY one.txt /one.txt
RUN cat /one.txt > /copy1
COPY two.txt /two.txt
RUN cat /two.txt > /copy2
CMD ["cat", "/copy2"]
"""


def _ctx(tmp_path: Path, name: str) -> Path:
    return write_context(tmp_path / name, {"Dockerfile": DOCKERFILE, "one.txt": "1\n",
                                           "two.txt": "2\n"})


def test_rebuild_touch_edit_and_no_cache(build: Callable[..., Built], tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, "cache")
    first = build(path=ctx)
    assert first.error is None and first.cached == 0
    again = build(path=ctx)
    assert (again.image_id, again.cached) == (first.image_id, 6)
    os.utime(ctx / "one.txt", (1, 1))
    os.utime(ctx / "two.txt", None)
    touched = build(path=ctx)
    assert (touched.image_id, touched.cached) == (first.image_id, 6)
    (ctx / "two.txt").write_text("edited\n")
    edited = build(path=ctx)
    assert edited.image_id != first.image_id
    assert edited.cached == 3  # ENV, COPY one.txt, RUN: everything from COPY two.txt reruns
    nocache = build(path=ctx, nocache=True)
    assert nocache.cached == 0 and nocache.image_id != edited.image_id
    os.chmod(ctx / "one.txt", 0o600)  # a mode Docker keeps is part of the key
    assert build(path=ctx).cached == 1


def test_build_args_are_part_of_the_key(build: Callable[..., Built]) -> None:
    files = {"Dockerfile": "FROM busybox\nARG V\nRUN echo $V > /v\n"}
    a = build(files, buildargs={"V": "a"})
    b = build(files, buildargs={"V": "b"})
    a2 = build(files, buildargs={"V": "a"})
    assert a.image_id != b.image_id and a2.image_id == a.image_id and a2.cached == 2


def test_cache_survives_a_daemon_restart_and_is_pruned(busybox_archive: Path,
                                                       tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, "restart")
    with DaemonProcess() as daemon:
        client = daemon.client()
        with open(busybox_archive, "rb") as f:
            list(client.api.load_image(f))

        def go() -> Built:
            messages = list(client.api.build(path=str(ctx), decode=True, tag="kept:1"))
            return Built(next(m["aux"]["ID"] for m in messages if "aux" in m), messages)

        first = go()
        client.close()
        daemon.restart()
        client = daemon.client()
        again = go()
        assert (again.image_id, again.cached) == (first.image_id, 6)
        usage: dict[str, Any] = client.api.df()
        assert len(usage["BuildCache"]) >= 6
        assert {"ID", "Type", "Size", "UsageCount", "LastUsedAt"} <= set(usage["BuildCache"][0])
        (ctx / "two.txt").write_text("a variant nothing tags\n")
        assert go().cached == 3
        client.api.tag(first.image_id, "kept", "1")
        pruned = client.api.prune_builds()  # the variant's own records: nothing tags them
        assert pruned["SpaceReclaimed"] > 0 and len(pruned["CachesDeleted"]) == 3
        assert len(client.api.df()["BuildCache"]) == 6  # kept:1's stays, as BuildKit keeps it
        pruned = client.api.prune_builds(all=True)
        assert pruned["SpaceReclaimed"] > 0 and len(pruned["CachesDeleted"]) >= 6
        assert client.api.df()["BuildCache"] == []
        assert client.api.inspect_image("kept:1")["Id"] == first.image_id  # tagged: kept
        rebuilt = go()
        assert rebuilt.cached == 0 and client.api.df()["BuildCache"]
        pruned = _docker(daemon, "system", "prune", "-f")  # the real CLI's system prune
        assert pruned.returncode == 0, pruned.stderr
        assert "Total reclaimed space" in pruned.stdout
        assert len(client.api.df()["BuildCache"]) >= 6  # without -a: kept:1's cache stays
        assert client.api.inspect_image("kept:1")["Id"] == rebuilt.image_id
        assert go().cached == 6
        client.close()


def _docker(daemon: DaemonProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": daemon.host}
    env.pop("DOCKER_CONTEXT", None)
    return subprocess.run([shutil.which("docker") or "/usr/local/bin/docker", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_cache_from_an_image_without_its_intermediates(build: Callable[..., Built], client: Any,
                                                       tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, "cachefrom")
    first = build(path=ctx, tag="cf:1")
    assert first.error is None
    archive = b"".join(client.api.get_image("cf:1"))
    client.api.remove_image("cf:1")  # the whole chain of intermediates goes with it
    client.api.prune_builds()
    client.api.load_image(archive)
    assert client.api.inspect_image("cf:1")["Parent"] == ""
    plain = build(path=ctx, nocache=False, cache_from=["nope:missing"])
    assert plain.cached == 0
    client.api.remove_image(plain.image_id)
    client.api.prune_builds()
    got = build(path=ctx, cache_from=["cf:1"])
    assert got.cached == 6, got.text
    assert got.image_id == first.image_id  # the last step is the source image itself
    (ctx / "two.txt").write_text("changed\n")
    edited = build(path=ctx, cache_from=["cf:1"])
    assert edited.cached == 3 and edited.image_id != first.image_id
