"""Block I/O side by side with a private real dockerd 20.10: the same docker CLI runs print the
same throttles (read from inside the container: its own blkio cgroup) and the same refusals
— the cgroup's path aside (``/docker/<id>``, ``/dockyard/<id>``) — and ``docker stats`` of a
container doing direct I/O has dockerd's blkio keys, kinds, entry fields and ops for the disk
(not its counts: they depend on the page cache and on what else the kernel queued)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.blockdev import Disk, scratch_on_disk

pytestmark = pytest.mark.slow

READ = ("cd /sys/fs/cgroup/blkio && cat blkio.throttle.read_bps_device "
        "blkio.throttle.write_bps_device blkio.throttle.read_iops_device "
        "blkio.throttle.write_iops_device")


@pytest.fixture(scope="module")
def scratch() -> Iterator[tuple[Path, Disk]]:
    with scratch_on_disk() as found:
        yield found


def _said(both: dict[str, Any], *args: str) -> dict[str, tuple[int, str, str]]:
    said = {}
    for name, (cli, _client) in both.items():
        done = cli("run", "--rm", "--network", "none", *args)
        err = re.sub(r"/(docker|dockyard)/[0-9a-f]{64}/", "/<cgroup>/", done.stderr)
        said[name] = (done.returncode, done.stdout, err)
    return said


def test_the_throttles_read_as_dockerds(both: dict[str, Any], scratch: tuple[Path, Disk]) -> None:
    node = scratch[1].node
    said = _said(both, "--device-read-bps", f"{node}:1mb", "--device-write-bps", f"{node}:2kb",
                 "--device-read-iops", f"{node}:100", "--device-write-iops", f"{node}:7",
                 "--device-write-iops", f"{node}:9", "busybox", "sh", "-c", READ)
    assert said["dockyard"] == said["dockerd"]
    assert said["dockerd"][1].split("\n")[:4] == [f"{scratch[1].number} {v}"
                                                  for v in (1048576, 2048, 100, 9)]
    said = _said(both, "--device-read-bps", f"{node}:0", "busybox", "sh", "-c", READ)
    assert said["dockyard"] == said["dockerd"] == (0, "", "")


@pytest.mark.parametrize("args", [
    ["--device-read-iops", "/dev/null:10"],  # a character device: the kernel's ENODEV
    ["--device-write-bps", "/dev/dytest-nope:1mb"],  # dockerd stats the path at the start
])
def test_refusals_read_as_dockerds(both: dict[str, Any], args: list[str]) -> None:
    said = _said(both, *args, "busybox", "true")
    assert said["dockyard"] == said["dockerd"]
    assert said["dockerd"][0] != 0


def _stats(client: Any, directory: Path, disk: Disk, name: str) -> dict[str, Any]:
    """The blkio stats of a container that wrote and read 100 blocks directly (with a throttle
    on the disk: the kernel counts only where one is, see test_blkio_cgroup_daemon)."""
    c = client.containers.run(
        "busybox", ["sh", "-c", (f"dd if=/dev/zero of=/v/{name} bs=4096 count=100 oflag=direct "
                    f"&& dd if=/v/{name} of=/dev/null bs=4096 iflag=direct && touch /v/{name}.done"
                    " && sleep 60")],
        detach=True, network_mode="none", volumes={str(directory): {"bind": "/v"}},
        device_write_bps=[{"Path": disk.node, "Rate": 1 << 30}])
    try:
        while not (directory / f"{name}.done").exists():
            c.reload()
            assert c.status == "running", c.logs()
            time.sleep(0.05)
        return dict(c.stats(stream=False)["blkio_stats"])
    finally:
        c.remove(force=True)


def test_stats_have_dockerds_blkio_shape(both: dict[str, Any],
                                         scratch: tuple[Path, Disk]) -> None:
    directory, disk = scratch
    shapes = {}
    for name, (_cli, client) in both.items():
        blkio = _stats(client, directory, disk, name)
        shapes[name] = {key: (type(value).__name__,
                              sorted({tuple(sorted(e)) for e in value or []}),
                              [e["op"] for e in value or []
                               if (e["major"], e["minor"]) == (disk.major, disk.minor)])
                        for key, value in blkio.items()}
    assert shapes["dockyard"] == shapes["dockerd"]
    for key in ("io_service_bytes_recursive", "io_serviced_recursive"):
        assert shapes["dockerd"][key][2] == ["Read", "Write", "Sync", "Async", "Discard", "Total"]
