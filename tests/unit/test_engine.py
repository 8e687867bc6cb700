"""The engine facade: system endpoints and the image calls end to end through the store."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

import dockyard
from dockyard.config import DaemonConfig
from dockyard.engine import Engine, cgroup_version


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
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
    second = Engine(DaemonConfig(data_root=tmp_path))
    assert first.info()["ID"] == second.info()["ID"]
    first.close()
    second.close()


def test_cgroup_version_matches_mounts() -> None:
    v1_memory = Path("/sys/fs/cgroup/memory").is_dir() and any(
        line.split()[2] == "cgroup" and "memory" in line.split()[3]
        for line in Path("/proc/mounts").read_text().splitlines()
    )
    assert cgroup_version() == ("1" if v1_memory else "2")


def test_system_df_empty(engine: Engine) -> None:
    df = engine.system_df()
    assert df["LayersSize"] == 0 and df["Images"] == [] and df["Containers"] == []
