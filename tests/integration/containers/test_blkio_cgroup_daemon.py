"""Block I/O through the real docker CLI and docker-py, as dockerd 20.10 does it on this cgroup
v1 host: every container in a blkio cgroup of its own (its execs, a ``--cgroupns host`` one, a
``--cgroup-parent`` and a build's RUN step too), ``docker stats`` reading its counts
(``io_service_bytes_recursive`` and ``io_serviced_recursive``), ``--device-read-bps`` and the
three others written to its ``blkio.throttle.*`` files before it runs, and dockerd's words for
what cannot be.

The kernel counts a cgroup's I/O in those files only once some cgroup has a throttle on the
device (``blk_throtl_activated``; before, no line shows, under dockerd too): the container
doing I/O has one, a rate no test reaches. Each run is made twice: the second may take an
embryo."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker.errors import APIError

from dockyard.linux import cgroups
from dockyard.testing.blockdev import Disk, scratch_on_disk
from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.skipif(cgroups.detected().mode != "v1"
                                or "blkio" not in cgroups.detected().v1,
                                reason="the blkio hierarchy is v1's (v2: io, not on this host)")

THROTTLES = ("read_bps", "write_bps", "read_iops", "write_iops")
GIB = 1 << 30


@pytest.fixture
def scratch() -> Iterator[tuple[Path, Disk]]:
    with scratch_on_disk() as found:
        yield found


def _blkio_dir(pid: str | int) -> str:
    """A process's blkio cgroup on the host (from its /proc/<pid>/cgroup)."""
    with open(f"/proc/{pid}/cgroup", encoding="ascii") as f:
        path = next(line.split(":", 2)[2] for line in f.read().splitlines()
                    if "blkio" in line.split(":")[1].split(","))
    return cgroups.detected().v1["blkio"] + path


def _started(docker: DockerCLI, *args: str) -> tuple[str, str]:
    """A container sleeping after ``args``' options: its id and its init's pid."""
    done = docker("run", "-d", "--network", "none", *args, "busybox", "sleep", "60")
    assert done.returncode == 0, done.stderr
    cid = done.stdout.strip()
    return cid, docker("inspect", "-f", "{{.State.Pid}}", cid).stdout.strip()


def _throttles(directory: str) -> dict[str, str]:
    return {name: Path(f"{directory}/blkio.throttle.{name}_device").read_text().strip()
            for name in THROTTLES}


def test_a_container_and_its_execs_are_in_a_blkio_cgroup_of_its_own(docker: DockerCLI) -> None:
    for args in ((), (), ("--cgroupns", "host")):
        cid, pid = _started(docker, *args)
        try:
            assert _blkio_dir(pid) == f"{cgroups.detected().v1['blkio']}/dockyard/{cid}"
            done = docker("exec", "-d", cid, "sleep", "59")
            assert done.returncode == 0, done.stderr
            execs = [p for p in Path(f"{_blkio_dir(pid)}/cgroup.procs").read_text().split()
                     if p != pid]
            assert len(execs) == 1 and _blkio_dir(execs[0]) == _blkio_dir(pid)
        finally:
            docker("rm", "-f", cid)  # its cgroups go with its shim (the plugin's leak report)


def test_a_cgroup_parent_holds_the_blkio_cgroup_too(docker: DockerCLI) -> None:
    parent = f"/dytest-blkio-{os.getpid()}"
    try:
        cid, pid = _started(docker, "--cgroup-parent", parent)
        try:
            assert _blkio_dir(pid) == f"{cgroups.detected().v1['blkio']}{parent}/{cid}"
        finally:
            docker("rm", "-f", cid)
    finally:
        for mountpoint in cgroups.detected().v1.values():
            if os.path.isdir(mountpoint + parent):
                os.rmdir(mountpoint + parent)


def test_a_build_step_is_in_a_blkio_cgroup_of_its_own(docker: DockerCLI, tmp_path: Path) -> None:
    """Seen from the host: below the build's ``--cgroup-parent`` (the classic builder's; the
    docker CLI: docker-py's build has none), made in every hierarchy a step joins — before,
    not in blkio's."""
    parent = f"/dytest-blkio-build-{os.getpid()}"
    blkio = cgroups.detected().v1["blkio"] + parent
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN true\n")
    docker.env["DOCKER_BUILDKIT"] = "0"
    try:
        done = docker("build", "-q", "--no-cache", "--network", "none", "--cgroup-parent",
                      parent, str(tmp_path))
        assert done.returncode == 0, done.stderr
        docker("rmi", done.stdout.strip())
        assert os.path.isdir(blkio) and not [e for e in os.scandir(blkio) if e.is_dir()]
    finally:
        for mountpoint in cgroups.detected().v1.values():
            if os.path.isdir(mountpoint + parent):
                os.rmdir(mountpoint + parent)


def _io_done(c: Any, marker: Path) -> None:
    """Wait for the container's I/O: it touches ``marker`` when done (or it has stopped)."""
    while not marker.exists():
        c.reload()
        assert c.status == "running", c.logs()
        time.sleep(0.05)


def test_block_io_shows_in_stats(client: Any, scratch: tuple[Path, Disk]) -> None:
    directory, disk = scratch
    for n in range(2):
        c = client.containers.run(
            "busybox", ["sh", "-c", (f"dd if=/dev/zero of=/v/f{n} bs=4096 count=100 oflag=direct"
                        f" && dd if=/v/f{n} of=/dev/null bs=4096 iflag=direct && touch /v/done{n}"
                        " && sleep 60")],
            detach=True, network_mode="none", volumes={str(directory): {"bind": "/v"}},
            device_write_bps=[{"Path": disk.node, "Rate": GIB}])
        try:
            _io_done(c, directory / f"done{n}")
            blkio = c.stats(stream=False)["blkio_stats"]
        finally:
            c.remove(force=True)
        for key, least in (("io_service_bytes_recursive", 409600), ("io_serviced_recursive", 100)):
            mine = {e["op"]: e["value"] for e in blkio[key]
                    if (e["major"], e["minor"]) == (disk.major, disk.minor)}
            assert set(mine) == {"Read", "Write", "Sync", "Async", "Discard", "Total"}, blkio
            assert mine["Write"] >= least and mine["Read"] >= least, blkio
        others = ("io_queue_recursive", "io_service_time_recursive", "io_wait_time_recursive",
                  "io_merged_recursive", "io_time_recursive", "sectors_recursive")
        assert [blkio[k] for k in others] == [[]] * len(others)


def test_the_throttles_are_written_before_the_container_runs(docker: DockerCLI,
                                                             scratch: tuple[Path, Disk]) -> None:
    _directory, disk = scratch
    args = ("--device-read-bps", f"{disk.node}:1mb", "--device-write-bps", f"{disk.node}:2mb",
            "--device-read-iops", f"{disk.node}:100", "--device-write-iops", f"{disk.node}:200")
    for _ in range(2):
        cid, pid = _started(docker, *args)
        try:
            assert _throttles(_blkio_dir(pid)) == {
                "read_bps": f"{disk.number} 1048576", "write_bps": f"{disk.number} 2097152",
                "read_iops": f"{disk.number} 100", "write_iops": f"{disk.number} 200"}
        finally:
            docker("rm", "-f", cid)
        cid, pid = _started(docker)
        try:
            assert _throttles(_blkio_dir(pid)) == dict.fromkeys(THROTTLES, "")
        finally:
            docker("rm", "-f", cid)


def _start_error(client: Any, **host: Any) -> tuple[int, str, Any]:
    made = client.api.create_container("busybox", ["true"], host_config=client.api.create_host_config(
        network_mode="none", **host))
    with pytest.raises(APIError) as info:
        client.api.start(made["Id"])
    return info.value.status_code, info.value.explanation, client.api.inspect_container(made["Id"])


def test_refusals_are_dockerds(client: Any) -> None:
    status, message, inspect = _start_error(
        client, device_read_bps=[{"Path": "/dev/dytest-nope", "Rate": 1024}])
    assert (status, message) == (500, "stat /dev/dytest-nope: no such file or directory")
    assert (inspect["State"]["Status"], inspect["State"]["ExitCode"]) == ("created", 128)
    status, message, inspect = _start_error(
        client, device_read_iops=[{"Path": "/dev/null", "Rate": 10}])
    where = f"{cgroups.detected().v1['blkio']}/dockyard/{inspect['Id']}"
    assert (status, message) == (500, (
        "failed to create shim task: OCI runtime create failed: runc create failed: unable to "
        "start container process: error during container init: error setting cgroup config for "
        f'procHooks process: failed to write "1:3 10": write {where}/blkio.throttle.'
        "read_iops_device: no such device: unknown"))
    assert (inspect["State"]["Status"], inspect["State"]["ExitCode"]) == ("created", 128)
    assert not os.path.exists(where)
    body = {"Image": "busybox", "HostConfig": {
        "BlkioDeviceWriteBps": [{"Path": "/dev/null", "Rate": -1}]}}
    response = client.api.post(client.api._url("/containers/create"), json=body)
    assert (response.status_code, response.json()["message"]) == (500, (
        "json: cannot unmarshal number -1 into Go struct field ThrottleDevice.HostConfig."
        "BlkioDeviceWriteBps.Rate of type uint64"))


def test_docker_update_leaves_the_throttles(client: Any, scratch: tuple[Path, Disk]) -> None:
    """As dockerd: an update naming one is taken without a word, neither applied nor
    recorded; the start's stays."""
    _directory, disk = scratch
    c = client.containers.run("busybox", ["sleep", "60"], detach=True, network_mode="none",
                              device_read_bps=[{"Path": disk.node, "Rate": 8192}])
    response = client.api.post(client.api._url(f"/containers/{c.id}/update"), json={
        "BlkioDeviceReadBps": [{"Path": disk.node, "Rate": 4096}]})
    assert response.status_code == 200, response.text
    c.reload()
    assert c.attrs["HostConfig"]["BlkioDeviceReadBps"] == [{"Path": disk.node, "Rate": 8192}]
    assert _throttles(_blkio_dir(c.attrs["State"]["Pid"]))["read_bps"] == f"{disk.number} 8192"
