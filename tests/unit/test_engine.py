"""The engine facade: system endpoints and the image calls end to end through the store."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from pathlib import Path

import pytest

import dockyard
from dockyard.config import DaemonConfig
from dockyard.engine import Engine, cgroup_version


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(DaemonConfig(data_root=tmp_path / "data"))
    yield eng
    eng.close()


def test_version_reports_api_versions(engine: Engine) -> None:
    v = engine.version()
    assert v["Version"] == dockyard.__version__
    assert v["ApiVersion"] == dockyard.API_VERSION
    assert v["MinAPIVersion"] == dockyard.MIN_API_VERSION
    assert v["Os"] == "linux" and v["KernelVersion"] == platform.release()
    assert v["Components"][0]["Name"] == "Engine"


def test_info_describes_the_daemon(engine: Engine, tmp_path: Path) -> None:
    info = engine.info()
    assert info["Driver"] == "overlay2" and info["OSType"] == "linux"
    assert info["DockerRootDir"] == str(tmp_path / "data")
    assert info["Images"] == 0 and info["NCPU"] >= 1 and info["MemTotal"] > 0
    assert info["CgroupVersion"] == cgroup_version() and info["CgroupDriver"] == "cgroupfs"


def test_engine_id_survives_restart(tmp_path: Path) -> None:
    first = Engine(DaemonConfig(data_root=tmp_path))
    first_id = first.info()["ID"]
    first.close()
    second = Engine(DaemonConfig(data_root=tmp_path))
    assert second.info()["ID"] == first_id
    second.close()


def test_one_store_per_data_root(engine: Engine) -> None:
    from dockyard.errors import Conflict

    with pytest.raises(Conflict, match=rf"in use by another process \(pid {os.getpid()}\)"):
        Engine(DaemonConfig(data_root=engine.data_root))


def test_cgroup_version_matches_mounts() -> None:
    v1_memory = Path("/sys/fs/cgroup/memory").is_dir() and any(
        line.split()[2] == "cgroup" and "memory" in line.split()[3]
        for line in Path("/proc/mounts").read_text().splitlines()
    )
    assert cgroup_version() == ("1" if v1_memory else "2")


def test_system_df_empty(engine: Engine) -> None:
    df = engine.system_df()
    assert df["LayersSize"] == 0 and df["Images"] == [] and df["Containers"] == []


def _busybox(engine: Engine, tmp_path: Path) -> str:
    from dockyard.testing import busybox

    with open(busybox.build_busybox_archive(tmp_path), "rb") as f:
        assert list(engine.images_load(f)) == [{"stream": "Loaded image: busybox:latest\n"}]
    return busybox.image_id()


def test_image_calls_end_to_end(engine: Engine, tmp_path: Path) -> None:
    image_id = _busybox(engine, tmp_path)
    assert engine.info()["Images"] == 1
    engine.image_tag("busybox", "localhost:5000/bb", "v1")
    listed = engine.images_list()
    assert listed[0]["Id"] == image_id and sorted(listed[0]["RepoTags"]) == ["busybox:latest", "localhost:5000/bb:v1"]
    assert engine.images_list(filters={"reference": ["localhost:5000/*"]})[0]["Id"] == image_id
    assert engine.image_inspect(image_id[7:19])["Id"] == image_id
    assert engine.image_history("busybox")[0]["Id"] == image_id
    layers = engine.image_rootfs_layers("busybox")
    assert (layers[0] / "bin" / "busybox").is_file()
    df = engine.system_df()
    assert df["LayersSize"] > 1_000_000 and df["Images"][0]["Id"] == image_id
    archive = b"".join(engine.images_save(["localhost:5000/bb:v1"]))
    assert engine.image_remove("localhost:5000/bb:v1") == [{"Untagged": "localhost:5000/bb:v1"}]
    records = engine.image_remove("busybox")
    assert records[:2] == [{"Untagged": "busybox:latest"}, {"Deleted": image_id}]
    assert engine.images_list() == [] and engine.images_prune() == {"ImagesDeleted": None, "SpaceReclaimed": 0}
    import io

    assert list(engine.images_load(io.BytesIO(archive))) == [{"stream": "Loaded image: localhost:5000/bb:v1\n"}]


def test_image_import_through_engine(engine: Engine) -> None:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    msgs = list(engine.image_import(io.BytesIO(buf.getvalue()), "imported", "1", changes=["CMD /hello"]))
    assert engine.image_inspect("imported:1")["Config"]["Cmd"] == ["/bin/sh", "-c", "/hello"]
    assert msgs == [{"status": engine.image_inspect("imported:1")["Id"]}]


def test_missing_image_errors(engine: Engine) -> None:
    from dockyard.errors import NotFound

    with pytest.raises(NotFound, match="^no such image: nope: No such image: nope:latest$"):
        engine.image_inspect("nope")  # dockerd 20.10's LookupImage
    with pytest.raises(NotFound, match="^No such image: nope$"):
        engine.images_save(["nope"])  # its tarexport: the name as given
    for call in (lambda: engine.image_history("nope"),
                 lambda: engine.image_remove("nope"), lambda: engine.image_tag("nope", "x", None)):
        with pytest.raises(NotFound, match="^No such image: nope:latest$"):
            call()


def test_one_event_bus_for_every_manager(engine: Engine) -> None:
    """``engine.events`` is made with the engine: a volume's create reaches it on a fresh
    engine (it was dropped while no containers manager existed), and the managers share it."""
    seen: list[str] = []
    engine.events.subscribe(lambda e: seen.append(f"{e['Type']} {e['Action']} {e['Actor']['ID']}"))
    engine.volumes.create({"Name": "ev-vol"})
    engine.volumes.remove("ev-vol")
    assert seen == ["volume create ev-vol", "volume destroy ev-vol"]
    assert engine.containers.events is engine.events is engine.volumes.events
