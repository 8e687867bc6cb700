"""Block I/O weights and throttles as runc writes them, on v1 and v2, into a directory standing
in for a container's cgroup (a plain file per cgroup file: the last write stays) — the
branches this host cannot give for real: a v1 ``blkio.weight`` (this kernel has BFQ's, in
child cgroups only, so dockerd drops a weight here), and v2's ``io`` controller. And
``docker stats``' blkio keys from v2's io.stat, as dockerd 20.10 fills them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.containers import stats
from dockyard.errors import Unavailable
from dockyard.linux import cgroups, cgstats
from dockyard.linux.cgroups import Limits

DISK = [[254, 0, 300]]


def _v1(tmp_path: Path, *files: str) -> tuple[cgroups.CgroupV1, Path]:
    hier = cgroups.Hierarchies(v1={c: str(tmp_path / c) for c in cgroups.V1_JOINED})
    blkio = tmp_path / "blkio" / "dockyard" / "c1"
    blkio.mkdir(parents=True)
    for name in files:
        (blkio / name).write_text("")
    return cgroups.CgroupV1("c1", hier), blkio


def test_v1_writes_blkio_weight_where_the_kernel_has_it(tmp_path: Path) -> None:
    cg, blkio = _v1(tmp_path, "blkio.weight", "blkio.weight_device")
    cg.create(Limits(blkio_weight=500, blkio_devices={"weight": DISK}))
    assert (blkio / "blkio.weight").read_text() == "500"
    assert (blkio / "blkio.weight_device").read_text() == "254:0 300"
    assert not (blkio / "blkio.bfq.weight").exists()
    cg.update(Limits(blkio_weight=200, devices=None))  # docker update --blkio-weight
    assert (blkio / "blkio.weight").read_text() == "200"


def test_v1_writes_bfqs_weight_otherwise(tmp_path: Path) -> None:
    cg, blkio = _v1(tmp_path)
    cg.create(Limits(blkio_weight=500, blkio_devices={"weight": [[8, 0, 0], *DISK]}))
    assert (blkio / "blkio.bfq.weight").read_text() == "500"
    assert (blkio / "blkio.bfq.weight_device").read_text() == "254:0 300"  # 0: not written
    assert not (blkio / "blkio.weight").exists()


@pytest.mark.parametrize("name", cgroups.BLKIO_THROTTLES)
def test_v1_writes_each_throttle(tmp_path: Path, name: str) -> None:
    cg, blkio = _v1(tmp_path)
    cg.create(Limits(blkio_devices={name: [[254, 0, 1048576]]}))
    assert (blkio / f"blkio.throttle.{name}_device").read_text() == "254:0 1048576"


def test_v1_writes_nothing_for_a_container_without_settings(tmp_path: Path) -> None:
    cg, blkio = _v1(tmp_path)
    cg.create(Limits())
    assert list(blkio.iterdir()) == []


def _v2(tmp_path: Path, *files: str, io: bool = True) -> tuple[cgroups.CgroupV2, Path]:
    """A v2 cgroup in ``tmp_path`` (its limits are given ``devices=None``: v2's device rules
    are an eBPF program, :mod:`dockyard.linux.devicebpf`, no file)."""
    controllers = {"memory", "cpu", "pids", *(["io"] if io else [])}
    cg = cgroups.CgroupV2("c1", cgroups.Hierarchies(v2=str(tmp_path),
                                                    v2_controllers=frozenset(controllers)))
    path = tmp_path / "dockyard" / "c1"
    path.mkdir(parents=True)
    for name in files:
        (path / name).write_text("")
    return cg, path


def test_v2_writes_bfqs_weight_where_the_kernel_has_it(tmp_path: Path) -> None:
    cg, path = _v2(tmp_path, "io.bfq.weight")
    cg.create(Limits(devices=None, blkio_weight=500))
    assert (path / "io.bfq.weight").read_text() == "500"
    assert not (path / "io.weight").exists()
    cg, path = _v2(tmp_path / "d", "io.bfq.weight")
    cg.create(Limits(devices=None, blkio_devices={"weight": DISK}))
    assert (path / "io.bfq.weight").read_text() == "254:0 300"


def test_v2_converts_the_weight_for_io_weight_otherwise(tmp_path: Path) -> None:
    cg, path = _v2(tmp_path)
    cg.create(Limits(devices=None, blkio_weight=500, blkio_devices={"weight": DISK}))
    assert (path / "io.weight").read_text() == "4950"  # runc: 1 + (w - 10) * 9999 / 990
    assert not (path / "io.bfq.weight").exists()  # no device weight without BFQ
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu +io +memory +pids"


@pytest.mark.parametrize("name,key", cgroups.BLKIO_THROTTLES.items())
def test_v2_writes_each_throttle_to_io_max(tmp_path: Path, name: str, key: str) -> None:
    cg, path = _v2(tmp_path)
    cg.create(Limits(devices=None, blkio_devices={name: [[254, 0, 100]]}))
    assert (path / "io.max").read_text() == f"254:0 {key}=100"


def test_v2_without_the_io_controller_says_so(tmp_path: Path) -> None:
    cg, _path = _v2(tmp_path, io=False)
    with pytest.raises(Unavailable, match="controller 'io' is not available"):
        cg.create(Limits(devices=None, blkio_devices={"read_bps": [[254, 0, 100]]}))


def test_v2_stats_fill_io_service_bytes_alone(tmp_path: Path) -> None:
    (tmp_path / "io.stat").write_text("254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 "
                                      "dios=0\n")
    sample = cgstats._sample_v2(str(tmp_path))
    blkio = stats.blkio_stats(sample)
    assert blkio.pop("io_service_bytes_recursive") == [
        {"major": 254, "minor": 0, "op": "read", "value": 4096},
        {"major": 254, "minor": 0, "op": "write", "value": 8192}]
    assert set(blkio.values()) == {None}
    (tmp_path / "io.stat").write_text("")
    assert set(stats.blkio_stats(cgstats._sample_v2(str(tmp_path))).values()) == {None}
