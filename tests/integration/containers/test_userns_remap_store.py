"""The store side of ``--userns-remap`` through the engine (in this process, no container
started): an engine given a remapped root keeps its state under ``<data-root>/<uid>.<gid>``,
unpacks images with shifted owners, makes containers' init layers and volumes the remapped
root's, and maps ids back for ``docker diff``/commit/export/``cp`` out and forward for ``cp``
in and a build's COPY/WORKDIR; create refuses what dockerd refuses. (dockerd 20.10's ``cp``
out gives the host ids — moby#43698, open —; dockyard gives the container's, as export does.)
Containers running remapped: tests/integration/containers/test_userns_remap_daemon.py."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.build.builder import BuildOptions
from dockyard.config import DaemonConfig
from dockyard.containers import archive, commit
from dockyard.engine import Engine
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.linux import idmap
from dockyard.linux.remap import RemappedRoot

SHIFT = 400000
ROOT = RemappedRoot("dytest-remap", "dytest-remap",
                    idmap.UserNamespace([(0, SHIFT, 65536)], [(0, SHIFT, 65536)]))


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, busybox_archive: Path) -> Iterator[Engine]:
    if os.geteuid() != 0:
        pytest.skip("a remapped store gives owners with lchown and mounts overlays: root")
    eng = Engine(DaemonConfig(data_root=tmp_path_factory.mktemp("remap") / "root", hosts=[],
                              remapped=ROOT))
    try:
        with open(busybox_archive, "rb") as f:
            list(eng.images_load(f))
        yield eng
    finally:
        for item in eng.containers.listing(all=True):
            eng.containers.remove(item["Id"], force=True)
        eng.close()


def _owner(path: Path | str) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_uid, st.st_gid


def _tar(entries: dict[str, tuple[int, int]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, (uid, gid) in entries.items():
            info = tarfile.TarInfo(name)
            info.uid, info.gid, info.size = uid, gid, 2
            tar.addfile(info, io.BytesIO(b"hi"))
    return buf.getvalue()


def _headers(chunks: Iterator[bytes] | bytes) -> dict[str, tuple[int, int]]:
    data = chunks if isinstance(chunks, bytes) else b"".join(chunks)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name.rstrip("/"): (m.uid, m.gid) for m in tar}


def test_state_and_images_live_in_the_remapped_root(engine: Engine) -> None:
    assert engine.data_root.name == f"{SHIFT}.{SHIFT}"
    info = engine.info()
    assert info["DockerRootDir"] == str(engine.data_root) and "name=userns" in info["SecurityOptions"]
    top = engine.image_rootfs_layers("busybox")[-1]
    assert _owner(top) == (SHIFT, SHIFT)
    assert _owner(Path(top) / "bin" / "busybox") == (SHIFT, SHIFT)


def test_a_containers_files_are_shifted_in_and_mapped_back_out(engine: Engine) -> None:
    cid = engine.containers.create({"Image": "busybox", "Cmd": ["true"]}, name="dytest-remap-cp")["Id"]
    record = engine.containers.get(cid)
    upper = Path(record.upper_dir)
    assert _owner(upper) == _owner(upper / "etc" / "hosts") == (SHIFT, SHIFT)
    assert _owner(upper / "etc") == (SHIFT, SHIFT)  # the image's /etc owner, fitted

    archive.put(engine.containers, cid, "/", io.BytesIO(_tar({"root-file": (0, 0), "app-file": (1000, 100)})))
    assert _owner(upper / "root-file") == (SHIFT, SHIFT)
    assert _owner(upper / "app-file") == (SHIFT + 1000, SHIFT + 100)
    with pytest.raises(DockyardError, match="Container ID 70000 cannot be mapped to a host ID"):
        archive.put(engine.containers, cid, "/", io.BytesIO(_tar({"far": (70000, 70000)})))

    user = engine.containers.create({"Image": "busybox", "User": "1000:100"}, name="dytest-remap-cpa")["Id"]
    archive.put(engine.containers, user, "/", io.BytesIO(_tar({"given": (0, 0)})), copy_uid_gid=True)
    given = Path(engine.containers.get(user).upper_dir) / "given"  # -a: the user's ids, shifted
    assert _owner(given) == (SHIFT + 1000, SHIFT + 100)  # (dockerd until moby#53084: unshifted)

    _, chunks = archive.get(engine.containers, cid, "/app-file")
    assert _headers(chunks) == {"app-file": (1000, 100)}
    exported = _headers(archive.export(engine.containers, cid))
    assert exported["app-file"] == (1000, 100) and exported["root-file"] == (0, 0)
    assert exported["bin/busybox"] == (0, 0)

    changes = {c["Path"]: c["Kind"] for c in commit.changes(engine.containers, cid) or []}
    assert changes["/app-file"] == 1 and changes["/root-file"] == 1
    image_id = commit.commit(engine, cid, "dytest-remap-commit", "v1")
    top = engine.store.meta.layers(image_id)[-1]
    with engine.store.content.open(top.blob_digest) as blob:
        layer = _headers(blob.read())
    assert layer["app-file"] == (1000, 100) and layer["root-file"] == (0, 0)
    snapshot = engine.image_rootfs_layers(image_id)[-1]
    assert _owner(Path(snapshot) / "app-file") == (SHIFT + 1000, SHIFT + 100)


def test_create_refuses_what_dockerd_refuses_and_host_opts_out(engine: Engine) -> None:
    for hc, words in (({"Privileged": True}, "privileged mode is incompatible with user namespaces"),
                      ({"NetworkMode": "host"}, "cannot share the host's network namespace"),
                      ({"PidMode": "host"}, "cannot share the host PID namespace")):
        with pytest.raises(InvalidArgument, match=words):
            engine.containers.create({"Image": "busybox", "HostConfig": hc})
    cid = engine.containers.create({"Image": "busybox", "HostConfig": {
        "UsernsMode": "host", "Privileged": True}}, name="dytest-remap-host")["Id"]
    assert engine.containers.inspect(cid)["HostConfig"]["UsernsMode"] == "host"


def test_volumes_are_the_remapped_roots(engine: Engine) -> None:
    volume = engine.volumes.create({"Name": "dytest-remap-vol"})
    assert _owner(volume["Mountpoint"]) == (SHIFT, SHIFT)
    cid = engine.containers.create({"Image": "busybox", "HostConfig": {
        "Binds": ["dytest-remap-copy:/etc"]}}, name="dytest-remap-vol")["Id"]
    data = Path(engine.volumes.inspect("dytest-remap-copy")["Mountpoint"])
    assert _owner(data) == (SHIFT, SHIFT) and _owner(data / "passwd") == (SHIFT, SHIFT)
    engine.containers.remove(cid, force=True)


def _context(files: dict[str, str | bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in files.items():
            data = text.encode() if isinstance(text, str) else text
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def test_a_builds_copy_and_workdir_give_shifted_owners(engine: Engine) -> None:
    dockerfile = ("FROM busybox\nCOPY plain /plain\nCOPY --chown=1000:100 owned /owned\n"
                  "WORKDIR /made/here\nCOPY plain rel\nADD arch.tar /unpacked/\n")
    archived = _tar({"in/arch-file": (1234, 5)})  # an ADDed archive keeps its owners, shifted
    messages: list[dict[str, Any]] = list(engine.builder.build(
        _context({"Dockerfile": dockerfile, "plain": "p", "owned": "o", "arch.tar": archived}),
        BuildOptions(tags=["dytest-remap-build:1"])))
    assert not [m for m in messages if "error" in m], messages
    image_id = engine.store.resolve("dytest-remap-build:1")
    layers = engine.store.meta.layers(image_id)
    found: dict[str, tuple[int, int]] = {}
    for layer in layers[-5:]:
        with engine.store.content.open(layer.blob_digest) as blob:
            found.update(_headers(blob.read()))
    assert found["plain"] == (0, 0) and found["owned"] == (1000, 100)
    assert found["made"] == found["made/here"] == found["made/here/rel"] == (0, 0)
    assert found["unpacked/in/arch-file"] == (1234, 5) and found["unpacked/in"] == (0, 0)
    snapshots = [Path(p) for p in engine.image_rootfs_layers(image_id)]
    owned = next(s / "owned" for s in snapshots if (s / "owned").exists())
    assert _owner(owned) == (SHIFT + 1000, SHIFT + 100)
    assert _owner(next(s / "made/here" for s in snapshots if (s / "made/here").exists())) == (SHIFT, SHIFT)
    arch = next(s / "unpacked/in" for s in snapshots if (s / "unpacked/in").exists())
    assert _owner(arch) == (SHIFT, SHIFT) and _owner(arch / "arch-file") == (SHIFT + 1234, SHIFT + 5)
