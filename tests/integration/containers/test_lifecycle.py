"""The container lifecycle through the Engine API with docker-py: run, create/start/stop/kill/
wait/restart/rm/rename/pause, inspect and ps shapes, and dockerd's errors for bad input."""

from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path
from typing import Any

import docker.errors
import pytest


def test_run_echo_remove(client: Any) -> None:
    before = len(client.api.containers(all=True))
    assert client.containers.run("busybox", "echo hi", remove=True) == b"hi\n"
    assert len(client.api.containers(all=True)) == before


def test_run_stdout_stderr_and_exit_code(client: Any) -> None:
    with pytest.raises(docker.errors.ContainerError) as info:
        client.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert info.value.exit_status == 3
    assert info.value.stderr == b"err\n"


def test_create_inspect_shape(client: Any) -> None:
    c = client.api.create_container("busybox", "true", name="shape", labels={"a": "b"},
                                    environment=["X=1"], working_dir="/tmp")
    data = client.api.inspect_container(c["Id"])
    assert data["Id"] == c["Id"] and data["Name"] == "/shape"
    assert data["State"]["Status"] == "created" and data["State"]["Running"] is False
    assert data["Config"]["Hostname"] == c["Id"][:12]
    assert data["Config"]["Cmd"] == ["true"] and data["Path"] == "true"
    assert "X=1" in data["Config"]["Env"] and any(e.startswith("PATH=") for e in data["Config"]["Env"])
    assert data["Config"]["Labels"] == {"a": "b"} and data["Config"]["WorkingDir"] == "/tmp"
    assert data["HostConfig"]["LogConfig"]["Type"] == "json-file"
    assert data["Platform"] == "linux" and data["Driver"] == "overlay2"
    assert data["Image"].startswith("sha256:") and data["LogPath"] == ""  # dockerd's: set at start
    assert set(data["GraphDriver"]["Data"]) == {"LowerDir", "MergedDir", "UpperDir", "WorkDir"}
    assert data["RestartCount"] == 0 and data["Mounts"] == []
    assert "Networks" in data["NetworkSettings"]


def test_generated_names_are_adjective_surname(client: Any) -> None:
    c = client.containers.create("busybox", "true")
    left, _, right = c.name.partition("_")
    assert left.isalpha() and right.rstrip("0123456789").isalpha()


def test_name_conflict_has_dockerd_wording(client: Any) -> None:
    first = client.api.create_container("busybox", "true", name="taken")
    with pytest.raises(docker.errors.APIError) as info:
        client.api.create_container("busybox", "true", name="taken")
    assert info.value.status_code == 409
    assert info.value.explanation == (
        f'Conflict. The container name "/taken" is already in use by container "{first["Id"]}". '
        "You have to remove (or rename) that container to be able to reuse that name.")


def test_bad_input(client: Any) -> None:
    with pytest.raises(docker.errors.ImageNotFound) as info:
        client.api.create_container("nope", "true")
    assert "No such image: nope:latest" in str(info.value)
    with pytest.raises(docker.errors.APIError) as bad:
        client.api.create_container("busybox", "true", host_config=client.api.create_host_config(
            mem_limit="1m"))
    assert bad.value.status_code == 400
    assert bad.value.explanation == "Minimum memory limit allowed is 6MB"
    with pytest.raises(docker.errors.APIError) as name:
        client.api.create_container("busybox", "true", name="bad name!")
    assert name.value.status_code == 400 and "Invalid container name" in name.value.explanation
    with pytest.raises(docker.errors.APIError) as workdir:
        client.api.create_container("busybox", "true", working_dir="rel")
    assert workdir.value.explanation == ("the working directory 'rel' is invalid, it needs to be "
                                         "an absolute path")
    with pytest.raises(docker.errors.NotFound) as missing:
        client.api.inspect_container("nosuchcontainer")
    assert missing.value.explanation == "No such container: nosuchcontainer"


def test_entrypoint_not_found_is_127(client: Any) -> None:
    c = client.api.create_container("busybox", "nope")
    with pytest.raises(docker.errors.APIError) as info:
        client.api.start(c)
    assert 'exec: "nope": executable file not found in $PATH' in info.value.explanation
    state = client.api.inspect_container(c)["State"]
    assert state["ExitCode"] == 127 and state["Status"] == "created"
    # the record said running while the init exec'd; the failed exec took that back
    assert state["Running"] is False and state["Pid"] == 0
    assert state["StartedAt"] == "0001-01-01T00:00:00Z"


def _executable(name: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(content), 0o755
        tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


@pytest.mark.parametrize(("content", "message"), [
    (b"#!/nowhere/sh\necho hi\n", "exec /x: no such file or directory"),
    (b"not a program\n", "exec /x: exec format error"),
])
def test_an_exec_that_fails_after_the_lookup_ends_the_started_container(
        client: Any, content: bytes, message: str) -> None:
    """The entrypoint exists, so the start succeeds, as with runc; its execve's failure (a
    missing interpreter, not a program) is the container's exit 1 with runc's words in its
    log — what dockerd answers for these two, recorded on this machine."""
    c = client.containers.create("busybox", "/x")
    assert c.put_archive("/", _executable("x", content))
    c.start()
    assert c.wait(timeout=20)["StatusCode"] == 1
    assert c.logs(stdout=False) == message.encode() + b"\n" and c.logs(stderr=False) == b""
    c.reload()
    assert c.attrs["State"]["Status"] == "exited" and c.attrs["State"]["Error"] == ""
    c.remove()


def test_containers_and_their_shims_run_at_normal_priority(client: Any) -> None:
    """Spares and embryos get ready on idle CPU (SCHED_IDLE); whatever takes a container is
    raised first, so no container, nor the shim serving it, inherits the idle policy — a
    container on it would starve beside any busy process."""
    for _ in range(3):  # each start takes the spare the one before left getting ready
        c = client.containers.run("busybox", ["sleep", "30"], detach=True)
        try:
            pid = client.api.inspect_container(c.id)["State"]["Pid"]
            shim = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            assert os.sched_getscheduler(pid) == os.SCHED_OTHER
            assert os.sched_getscheduler(shim) == os.SCHED_OTHER
            exec_id = client.api.exec_create(c.id, ["sh", "-c", "sleep 0.2; echo done"])
            assert client.api.exec_start(exec_id) == b"done\n"
        finally:
            c.remove(force=True)


def test_stop_kill_wait_restart_remove(client: Any) -> None:
    c = client.containers.run("busybox", ["sleep", "100"], detach=True, name="sleeper")
    assert client.api.inspect_container(c.id)["State"]["Running"]
    with pytest.raises(docker.errors.APIError) as running:
        c.remove()
    assert running.value.status_code == 409
    assert "You cannot remove a running container" in running.value.explanation
    t0 = time.monotonic()
    c.stop(timeout=5)  # sleep as pid 1 ignores SIGTERM: the stop ends with SIGKILL
    assert time.monotonic() - t0 > 4
    assert c.wait()["StatusCode"] == 137
    c.restart(timeout=1)
    c.reload()
    assert c.status == "running"
    c.kill(signal="SIGTERM")  # ignored by pid 1
    c.kill("KILL")
    assert c.wait(timeout=10)["StatusCode"] == 137
    with pytest.raises(docker.errors.APIError) as notrunning:
        c.kill()
    assert notrunning.value.status_code == 409
    c.rename("sleeper2")
    assert client.containers.get("sleeper2").id == c.id
    c.remove()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(c.id)


def test_a_kill_answers_once_the_container_is_gone(client: Any) -> None:
    """dockerd's Kill answers after the exit: ``docker kill c && docker rm c`` removes it (a
    SIGKILL answered at once left it running for the rm: 409), and ``rm -f`` tells one kill."""
    for _ in range(5):
        c = client.containers.run("busybox", ["sleep", "100"], detach=True)
        c.kill()
        assert client.api.inspect_container(c.id)["State"]["Running"] is False
        c.remove()
    c = client.containers.run("busybox", ["sleep", "100"], detach=True)
    since = time.time()
    client.api.remove_container(c.id, force=True)
    events = client.api.events(since=since, until=time.time() + 0.5, decode=True, filters={"container": c.id})
    assert [(e["Action"], e["Actor"]["Attributes"].get("signal")) for e in events] == \
        [("kill", "9"), ("die", None), ("destroy", None)]


def test_force_remove_running(client: Any) -> None:
    c = client.containers.run("busybox", ["sleep", "100"], detach=True)
    client.api.remove_container(c.id, force=True)
    assert c.id not in {x["Id"] for x in client.api.containers(all=True)}


def test_pause_unpause_and_top(client: Any) -> None:
    c = client.containers.run("busybox", ["sleep", "100"], detach=True)
    top = c.top()
    assert top["Titles"][1] == "PID" and any("sleep 100" in p[-1] for p in top["Processes"])
    c.pause()
    c.reload()
    assert c.status == "paused" and c.attrs["State"]["Paused"]
    with pytest.raises(docker.errors.APIError) as again:
        c.pause()
    assert again.value.status_code == 409
    c.unpause()
    c.reload()
    assert c.status == "running"
    c.remove(force=True)


def test_ps_filters_and_limit(client: Any) -> None:
    a = client.containers.run("busybox", "true", detach=True, labels={"t": "ps"})
    a.wait()
    b = client.containers.run("busybox", ["sh", "-c", "exit 2"], detach=True, labels={"t": "ps"})
    b.wait()
    r = client.containers.run("busybox", ["sleep", "100"], detach=True, labels={"t": "ps"})
    def ids(**kw: Any) -> set[str]:
        return {x["Id"] for x in client.api.containers(**kw)}
    assert r.id in ids() and a.id not in ids()
    assert {a.id, b.id, r.id} <= ids(all=True, filters={"label": "t=ps"})
    assert ids(all=True, filters={"exited": "2", "label": "t"}) == {b.id}
    assert ids(filters={"status": "running", "label": "t=ps"}) == {r.id}
    assert ids(all=True, filters={"id": a.id[:10]}) == {a.id}
    assert ids(all=True, filters={"ancestor": "busybox", "label": "t=ps"}) == {a.id, b.id, r.id}
    assert len(client.api.containers(limit=1)) == 1
    assert ids(all=True, filters={"since": a.id, "label": "t=ps"}) == {b.id, r.id}
    assert ids(all=True, filters={"before": r.id, "label": "t=ps"}) == {a.id, b.id}
    url = client.api._url("/containers/{0}/json", b.id)  # docker-py has no size parameter
    sized = client.api._result(client.api._get(url, params={"size": 1}), True)
    assert sized["SizeRw"] >= 0 and sized["SizeRootFs"] > sized["SizeRw"]
    summary = next(x for x in client.api.containers() if x["Id"] == r.id)
    assert summary["Status"].startswith("Up ") and summary["State"] == "running"
    assert summary["Command"] == "sleep 100" and summary["Names"][0].startswith("/")
    exited = next(x for x in client.api.containers(all=True) if x["Id"] == b.id)
    assert exited["Status"].startswith("Exited (2) ")


def test_user_env_hostname_workdir(client: Any) -> None:
    out = client.containers.run("busybox", ["sh", "-c", "id -u; id -g; echo $HOSTNAME $HOME; pwd"],
                                user="nobody", working_dir="/tmp", hostname="box", remove=True)
    assert out.decode().split() == ["65534", "65534", "box", "/home", "/tmp"]
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.run("busybox", "true", user="ghost", remove=True)
    assert "unable to find user ghost" in info.value.explanation


def test_entrypoint_and_cmd_combination(client: Any) -> None:
    out = client.containers.run("busybox", ["a", "b"], entrypoint=["echo", "x"], remove=True)
    assert out == b"x a b\n"


def test_oom_is_137_and_oomkilled(client: Any) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "tail /dev/zero"], mem_limit="8m",
                              memswap_limit="8m", detach=True)
    assert c.wait(timeout=30)["StatusCode"] == 137
    c.reload()
    assert c.attrs["State"]["OOMKilled"] is True


def test_restart_policy_on_failure(client: Any) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "exit 1"], detach=True,
                              restart_policy={"Name": "on-failure", "MaximumRetryCount": 2})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        c.reload()
        if c.attrs["RestartCount"] == 2 and not c.attrs["State"]["Running"] \
                and not c.attrs["State"]["Restarting"]:
            break
        time.sleep(0.05)
    assert c.attrs["RestartCount"] == 2 and c.attrs["State"]["ExitCode"] == 1


def test_auto_remove_and_wait_removed(client: Any) -> None:
    # it runs a moment: an exit and removal quicker than the wait request would leave it a 404,
    # as with dockerd (the docker CLI sends this wait before the start)
    c = client.api.create_container("busybox", ["sh", "-c", "sleep 1; exit 4"],
                                    host_config=client.api.create_host_config(auto_remove=True))
    client.api.start(c)
    assert client.api.wait(c, condition="removed")["StatusCode"] == 4
    with pytest.raises(docker.errors.NotFound):
        client.api.inspect_container(c)


def test_prune(client: Any) -> None:
    c = client.containers.run("busybox", "true", detach=True, labels={"prune": "yes"})
    c.wait()
    keep = client.containers.run("busybox", ["sleep", "100"], detach=True, labels={"prune": "yes"})
    result = client.api.prune_containers(filters={"label": "prune=yes"})
    assert result["ContainersDeleted"] == [c.id]
    assert keep.id in {x["Id"] for x in client.api.containers()}


def test_info_counts_and_rmi_of_an_image_in_use(client: Any) -> None:
    before = client.info()
    c = client.containers.run("busybox", ["sleep", "100"], detach=True)
    info = client.info()
    assert info["Containers"] == before["Containers"] + 1
    assert info["ContainersRunning"] == before["ContainersRunning"] + 1
    image_id = client.api.inspect_image("busybox")["Id"]
    with pytest.raises(docker.errors.APIError) as rmi:
        client.api.remove_image(image_id)
    assert rmi.value.status_code == 409 and "conflict: unable to delete" in rmi.value.explanation
    c.remove(force=True)


def test_read_only_caps_and_limits_reach_the_container(client: Any) -> None:
    with pytest.raises(docker.errors.ContainerError) as ro:
        client.containers.run("busybox", ["touch", "/x"], read_only=True, remove=True)
    assert b"Read-only file system" in ro.value.stderr
    def capeff(**kw: Any) -> int:
        show = "grep CapEff /proc/self/status | cut -f2"
        return int(client.containers.run("busybox", ["sh", "-c", show], remove=True, **kw), 16)
    default = capeff()
    assert default & (1 << 13)  # CAP_NET_RAW is in Docker's default set
    assert not capeff(cap_drop=["NET_RAW"]) & (1 << 13)
    assert capeff(cap_add=["SYS_ADMIN"]) & (1 << 21)
    assert capeff(privileged=True) > default
    script = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max"
    out = client.containers.run("busybox", ["sh", "-c", script], mem_limit="64m",
                                pids_limit=42, remove=True)
    assert out.split() == [str(64 << 20).encode(), b"42"]
    with pytest.raises(docker.errors.APIError) as cpus:
        client.containers.run("busybox", "true", nano_cpus=-1, remove=True)
    assert "Range of CPUs is from 0.01" in cpus.value.explanation


def test_empty_entrypoint_resets_it(client: Any) -> None:
    assert client.containers.run("busybox", ["echo", "plain"], entrypoint=[""],
                                 remove=True) == b"plain\n"


# What dockerd 20.10 on this machine showed in inspect's HostConfig for a container docker-py
# created with nothing but an image and a command (recorded 2026-11-29): the fields it was not
# sent, as Go's zero values.
DOCKERD_ZERO_HOST_CONFIG = {
    "BlkioDeviceReadBps": None, "BlkioDeviceReadIOps": None, "BlkioDeviceWriteBps": None,
    "BlkioDeviceWriteIOps": None, "BlkioWeight": 0, "BlkioWeightDevice": None, "Cgroup": "",
    "CgroupParent": "", "ContainerIDFile": "", "CpuCount": 0, "CpuPercent": 0, "CpuRealtimePeriod": 0,
    "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "", "DeviceCgroupRules": None,
    "DeviceRequests": None, "Devices": None, "Dns": None, "DnsOptions": None, "DnsSearch": None,
    "ExtraHosts": None, "GroupAdd": None, "IOMaximumBandwidth": 0, "IOMaximumIOps": 0, "Isolation": "",
    "KernelMemory": 0, "KernelMemoryTCP": 0, "Links": None, "MemoryReservation": 0,
    "OomKillDisable": False, "OomScoreAdj": 0, "PidMode": "", "SecurityOpt": None, "UTSMode": "",
    "Ulimits": None, "UsernsMode": "", "VolumeDriver": "", "VolumesFrom": None,
}


def test_inspect_shows_every_host_config_field(client: Any) -> None:
    cid = client.api.create_container("busybox", "true")["Id"]
    try:
        shown = client.api.inspect_container(cid)["HostConfig"]
        assert {k: shown.get(k, "missing") for k in DOCKERD_ZERO_HOST_CONFIG} == DOCKERD_ZERO_HOST_CONFIG
        given = client.api.create_container("busybox", "true", host_config=client.api.create_host_config(
            dns=["10.1.1.1"], security_opt=["no-new-privileges"]))["Id"]
        shown = client.api.inspect_container(given)["HostConfig"]
        assert shown["Dns"] == ["10.1.1.1"] and shown["SecurityOpt"] == ["no-new-privileges"]
        client.api.remove_container(given)
    finally:
        client.api.remove_container(cid)
