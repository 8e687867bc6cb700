"""``--pid``, ``--ipc`` and ``--uts`` through the real docker CLI and docker-py, as dockerd 20.10
runs them (each checked side by side with a private dockerd 20.10; its words recorded here):
the host's namespaces (``ps`` sees the host's processes, /dev/shm is the host's, the hostname
is the host's and stays so), another container's (``container:x``: x must run, and share its
IPC), ``none`` (no /dev/shm), ``shareable``, and the refusals at create and at start.

Each mode is run twice: a second start may find an embryo waiting (with namespaces of its own),
which must not take it."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker.errors import APIError

from dockyard.testing.daemon import DaemonProcess, DockerCLI


def _run(docker: DockerCLI, *args: str) -> str:
    done = docker("run", "--rm", *args)
    assert done.returncode == 0, done.stderr
    return str(done.stdout)


def _ns(kind: str) -> str:
    return os.readlink(f"/proc/self/ns/{kind}")


@pytest.fixture
def host_shm_file() -> Iterator[str]:
    """A file in the host's /dev/shm (removed after the test)."""
    name = f"dockyard-test-{secrets.token_hex(4)}"
    path = f"/dev/shm/{name}"
    with open(path, "w", encoding="utf-8") as f:
        f.write("from the host\n")
    yield name
    os.unlink(path)


def test_pid_host_sees_the_hosts_processes(docker: DockerCLI) -> None:
    with open("/proc/1/comm", encoding="utf-8") as f:
        host_init = f.read()
    for _ in range(2):
        seen = _run(docker, "--pid", "host", "busybox", "sh", "-c",
                    "readlink /proc/self/ns/pid; cat /proc/1/comm")
        assert seen == f"{_ns('pid')}\n{host_init}"
    own = _run(docker, "busybox", "sh", "-c", "readlink /proc/self/ns/pid; cat /proc/1/comm")
    ns, init = own.split("\n")[:2]
    assert ns != _ns("pid") and init == "cat"  # its own: sh exec'd its last command as pid 1


def test_ipc_host_shares_the_hosts_ipc_and_shm(docker: DockerCLI, host_shm_file: str) -> None:
    for _ in range(2):
        seen = _run(docker, "--ipc", "host", "--shm-size", "1m", "busybox", "sh", "-c",
                    f"readlink /proc/self/ns/ipc; cat /dev/shm/{host_shm_file}; "
                    "grep -c ' /dev/mqueue ' /proc/self/mountinfo")
        assert seen == f"{_ns('ipc')}\nfrom the host\n1\n"
    own = _run(docker, "busybox", "sh", "-c", f"readlink /proc/self/ns/ipc; ls /dev/shm/{host_shm_file} || true")
    assert own.split("\n")[0] != _ns("ipc") and host_shm_file not in own


def test_ipc_none_has_no_dev_shm(docker: DockerCLI) -> None:
    for _ in range(2):
        seen = _run(docker, "--ipc", "none", "--shm-size", "1m", "busybox", "sh", "-c",
                    "ls /dev; grep -c ' /dev/shm ' /proc/self/mountinfo || true")
        assert "shm" not in seen.split() and "mqueue" in seen.split() and seen.endswith("0\n")


def test_ipc_shareable_and_a_joiner_share_ipc_and_shm(docker: DockerCLI, client: Any) -> None:
    donor = client.containers.run("busybox", "sleep 300", detach=True, ipc_mode="shareable",
                                  shm_size="2m")
    donor.exec_run(["sh", "-c", "echo from the donor > /dev/shm/note"])
    donor_ipc = donor.exec_run(["readlink", "/proc/self/ns/ipc"]).output.decode()
    for _ in range(2):
        seen = _run(docker, "--ipc", f"container:{donor.name}", "busybox", "sh", "-c",
                    "readlink /proc/self/ns/ipc; cat /dev/shm/note; df -k /dev/shm | tail -1")
        lines = seen.split("\n")
        assert lines[:2] == [donor_ipc.strip(), "from the donor"] and lines[2].split()[1] == "2048"
    joiner = client.containers.create("busybox", "true", ipc_mode=f"container:{donor.name}")
    assert joiner.attrs["HostConfig"]["IpcMode"] == f"container:{donor.id}"  # by its id, as dockerd
    shm = f"{donor.id}/mounts/shm"
    assert shm in Path("/proc/self/mountinfo").read_text(encoding="utf-8")
    donor.remove(force=True)
    assert shm not in Path("/proc/self/mountinfo").read_text(encoding="utf-8")


def test_ipc_container_of_a_host_ipc_container_is_the_hosts(docker: DockerCLI, client: Any,
                                                             host_shm_file: str) -> None:
    donor = client.containers.run("busybox", "sleep 300", detach=True, ipc_mode="host")
    seen = _run(docker, "--ipc", f"container:{donor.id}", "busybox", "sh", "-c",
                f"readlink /proc/self/ns/ipc; cat /dev/shm/{host_shm_file}")
    assert seen == f"{_ns('ipc')}\nfrom the host\n"


def test_pid_container_joins_the_others_pid_namespace(docker: DockerCLI, client: Any) -> None:
    donor = client.containers.run("busybox", "sleep 300", detach=True)
    for _ in range(2):
        seen = _run(docker, "--pid", f"container:{donor.name}", "busybox", "cat", "/proc/1/cmdline")
        assert seen == "sleep\x00300\x00"
    assert client.containers.create("busybox", "true", pid_mode=f"container:{donor.name}") \
        .attrs["HostConfig"]["PidMode"] == f"container:{donor.id}"


def _start_error(client: Any, **host: Any) -> tuple[int, str, dict[str, Any]]:
    """A create with ``host`` config, then its start's status and message, and its State."""
    made = client.api.create_container("busybox", "true",
                                       host_config=client.api.create_host_config(**host))
    with pytest.raises(APIError) as caught:
        client.api.start(made["Id"])
    state = client.api.inspect_container(made["Id"])["State"]
    return caught.value.response.status_code, caught.value.explanation, state


def test_joins_are_refused_in_dockerds_words(client: Any) -> None:
    private = client.containers.run("busybox", "sleep 300", detach=True)
    stopped = client.containers.create("busybox", "true", ipc_mode="shareable")
    cases = [
        ({"ipc_mode": f"container:{private.id}"},
         (f"can't join IPC of container {private.id}: non-shareable IPC (hint: use "
          "IpcMode:shareable for the donor container)")),
        ({"ipc_mode": f"container:{stopped.name}"},
         f"can't join IPC of container {stopped.id}: container {stopped.id} is not running"),
        ({"ipc_mode": "container:"}, 'can\'t join IPC of container : invalid name or ID supplied: ""'),
        ({"ipc_mode": "foo"}, "Invalid IPC mode: foo"),
        ({"pid_mode": f"container:{stopped.name}"}, f"container {stopped.id} is not running"),
        ({"pid_mode": "container:"},
         'cannot join PID of a non running container: : invalid name or ID supplied: ""'),
    ]
    for host, words in cases:
        status, message, state = _start_error(client, **host)
        assert (status, message) == (500, words), host
        assert (state["Status"], state["ExitCode"], state["Error"]) == ("created", 128, words)
    for key in ("ipc_mode", "pid_mode"):
        with pytest.raises(APIError) as caught:
            client.api.create_container("busybox", "true", host_config=client.api.create_host_config(
                **{key: "container:no-such-thing"}))
        assert caught.value.response.status_code == 400
        assert caught.value.explanation == "No such container: no-such-thing"


def test_other_pid_and_uts_modes_are_taken_as_private(client: Any) -> None:
    api = client.api
    for host in ({"PidMode": "foo"}, {"UTSMode": "foo"}, {"UTSMode": "container:x"}):
        made = api.create_container("busybox", ["sh", "-c", ("readlink /proc/self/ns/pid; "
                                                 "readlink /proc/self/ns/uts")], host_config=host)
        api.start(made["Id"])
        assert api.wait(made["Id"])["StatusCode"] == 0
        out = api.logs(made["Id"]).decode().split()
        assert len(out) == 2 and _ns("pid") not in out and _ns("uts") not in out, host


def test_uts_host_keeps_the_hosts_hostname(docker: DockerCLI) -> None:
    host = socket.gethostname()
    for _ in range(2):
        made = docker("create", "--uts", "host", "busybox", "sh", "-c",
                      "hostname; cat /etc/hostname; readlink /proc/self/ns/uts")
        assert made.returncode == 0, made.stderr
        cid = made.stdout.strip()
        done = docker("start", "-a", cid)
        assert done.stdout == f"{host}\n{cid[:12]}\n{_ns('uts')}\n", done.stderr
        docker("rm", cid)
    assert socket.gethostname() == host
    refused = docker("run", "--rm", "--uts", "host", "--hostname", "foo", "busybox", "true")
    assert refused.returncode == 125
    assert "Error response from daemon: conflicting options: hostname and the UTS mode" in refused.stderr


def test_a_daemons_default_shareable_ipc_can_be_joined(busybox_archive: Any) -> None:
    """``--default-ipc-mode shareable``: every container's IpcMode, and each can be joined."""
    with DaemonProcess(None, "--default-ipc-mode", "shareable") as daemon:
        daemon.load(busybox_archive)
        docker = DockerCLI(daemon.host)
        donor = docker("run", "-d", "--network", "none", "busybox", "sleep", "300").stdout.strip()
        try:
            assert docker("inspect", "-f", "{{.HostConfig.IpcMode}}", donor).stdout == "shareable\n"
            assert docker("exec", donor, "sh", "-c", "echo kept > /dev/shm/note").returncode == 0
            seen = _run(docker, "--network", "none", "--ipc", f"container:{donor}", "busybox",
                        "cat", "/dev/shm/note")
            assert seen == "kept\n"
        finally:
            docker("rm", "-f", donor)
