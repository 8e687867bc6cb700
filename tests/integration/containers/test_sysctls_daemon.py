"""Kernel parameters through the real docker CLI and docker-py, as dockerd 20.10 sets them (each
checked side by side with a private dockerd 20.10; its words recorded here): its defaults in a
network namespace of the container's own (any port binds without ``CAP_NET_BIND_SERVICE``,
ICMP echo sockets for every group), none for ``--network host``, the donor's for
``container:x``; ``--sysctl`` written in the container's namespaces and winning over the
defaults; runc's refusals at the start (the create goes through).

Each run is made twice: the second may take a pooled network namespace or an embryo."""

from __future__ import annotations

from typing import Any

import pytest
from docker.errors import APIError

from dockyard.testing.daemon import DockerCLI

PORTS = "/proc/sys/net/ipv4/ip_unprivileged_port_start"
PING = "/proc/sys/net/ipv4/ping_group_range"
READ = f"cat {PORTS} {PING}"
DEFAULTS = "0\n0\t2147483647\n"
RUNC = "failed to create shim task: OCI runtime create failed: runc create failed: "


def _run(docker: DockerCLI, *args: str) -> str:
    done = docker("run", "--rm", *args)
    assert done.returncode == 0, done.stderr
    return str(done.stdout)


def _host(path: str) -> str:
    with open(path, encoding="ascii") as f:
        return f.read()


@pytest.mark.parametrize("network", ["none", "bridge"])
def test_an_own_network_has_dockerds_defaults(docker: DockerCLI, network: str) -> None:
    for _ in range(2):
        assert _run(docker, "--network", network, "busybox", "sh", "-c", READ) == DEFAULTS
        bound = _run(docker, "--network", network, "--user", "1000", "busybox", "sh", "-c",
                     "httpd -p 80 && echo bound")  # (httpd goes to the background)
        assert bound == "bound\n"


def test_the_host_network_keeps_the_hosts(docker: DockerCLI) -> None:
    assert _run(docker, "--network", "host", "busybox", "sh", "-c", READ) == \
        _host(PORTS) + _host(PING)


def test_a_joined_network_has_its_donors(docker: DockerCLI, client: Any) -> None:
    own = client.containers.run("busybox", "sleep 100", detach=True, network_mode="none")
    hosted = client.containers.run("busybox", "sleep 100", detach=True, network_mode="host")
    try:
        assert _run(docker, "--network", f"container:{own.id}", "busybox", "sh", "-c",
                    READ) == DEFAULTS
        assert _run(docker, "--network", f"container:{hosted.id}", "busybox", "sh", "-c",
                    READ) == _host(PORTS) + _host(PING)
    finally:
        own.remove(force=True)
        hosted.remove(force=True)


def test_a_sysctl_wins_over_the_defaults(docker: DockerCLI) -> None:
    for _ in range(2):
        said = _run(docker, "--network", "none", "--user", "1000",
                    "--sysctl", "net.ipv4.ip_unprivileged_port_start=1024",
                    "--sysctl", "net.ipv4.ping_group_range=1 5", "busybox", "sh", "-c",
                    f"{READ}; httpd -p 80 || echo refused")
        assert said == "1024\n1\t5\nrefused\n"


def test_ipc_and_uts_sysctls_are_the_containers_own(docker: DockerCLI, client: Any) -> None:
    """Written in the container's IPC and UTS namespaces (the host's stay as they were), over
    ``--domainname`` as runc writes them after it."""
    host = {k: _host(f"/proc/sys/{k}") for k in ("kernel/shmmax", "fs/mqueue/msg_max",
                                                 "kernel/domainname")}
    for _ in range(2):
        said = _run(docker, "--sysctl", "kernel.shmmax=100000", "--sysctl", "fs.mqueue.msg_max=20",
                    "--sysctl", "kernel.sem=250 32000 32 200", "busybox", "sh", "-c",
                    "cat /proc/sys/kernel/shmmax /proc/sys/fs/mqueue/msg_max /proc/sys/kernel/sem")
        assert said == "100000\n20\n250\t32000\t32\t200\n"
        out = client.containers.run("busybox", "cat /proc/sys/kernel/domainname", remove=True,
                                    domainname="given", sysctls={"kernel.domainname": "set"})
        assert out == b"set\n"
    assert host == {k: _host(f"/proc/sys/{k}") for k in host}


REFUSED = [
    ({"network_mode": "host"}, {"net.ipv4.ip_forward": "1"},
     'sysctl "net.ipv4.ip_forward" not allowed in host network namespace'),
    ({"ipc_mode": "host"}, {"kernel.shmmax": "100000"},
     'sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace'),
    ({"ipc_mode": "host"}, {"fs.mqueue.msg_max": "20"},
     'sysctl "fs.mqueue.msg_max" is not allowed in the hosts ipc namespace'),
    ({}, {"vm.swappiness": "10"}, 'sysctl "vm.swappiness" is not in a separate kernel namespace'),
    ({"uts_mode": "host"}, {"kernel.domainname": "x"},
     'sysctl "kernel.domainname" is not in a separate kernel namespace'),
    ({}, {"kernel.hostname": "x"},
     'sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field'),
]


@pytest.mark.parametrize(("options", "sysctls", "words"), REFUSED,
                         ids=[next(iter(s)) + "-" + "".join(o) for o, s, _ in REFUSED])
def test_runc_refuses_at_the_start(client: Any, options: dict[str, str], sysctls: dict[str, str],
                                   words: str) -> None:
    made = client.containers.create("busybox", "true", sysctls=sysctls, **options)
    with pytest.raises(APIError) as refused:
        made.start()
    assert refused.value.status_code == 500
    assert refused.value.explanation == f"{RUNC}{words}: unknown"
    state = client.api.inspect_container(made.id)["State"]
    assert (state["Status"], state["ExitCode"], state["Error"]) == \
        ("created", 128, f"{RUNC}{words}: unknown")


def test_a_joined_host_network_refuses_net_sysctls(client: Any) -> None:
    hosted = client.containers.run("busybox", "sleep 100", detach=True, network_mode="host")
    try:
        made = client.containers.create("busybox", "true", network_mode=f"container:{hosted.id}",
                                        sysctls={"net.ipv4.ip_forward": "1"})
        with pytest.raises(APIError) as refused:
            made.start()
        assert "not allowed in host network namespace" in str(refused.value.explanation)
    finally:
        hosted.remove(force=True)


@pytest.mark.parametrize(("sysctl", "words", "code"), [
    ("net.ipv4.nosuch=1", "open /proc/sys/net/ipv4/nosuch: no such file or directory", 127),
    ("kernel.msgmax=abc", "write /proc/sys/kernel/msgmax: invalid argument", 125),
])
def test_a_write_the_kernel_refuses_fails_the_start(docker: DockerCLI, sysctl: str, words: str,
                                                    code: int) -> None:
    done = docker("run", "--rm", "--sysctl", sysctl, "busybox", "true")
    assert done.returncode == code
    assert done.stderr.startswith(
        f"docker: Error response from daemon: {RUNC}unable to start container process: "
        f"error during container init: {words}: unknown")


def test_the_cli_refuses_what_is_not_namespaced(docker: DockerCLI) -> None:
    done = docker("run", "--rm", "--sysctl", "vm.swappiness=10", "busybox", "true")
    assert done.returncode == 125
    assert done.stderr.startswith('invalid argument "vm.swappiness=10" for "--sysctl" flag: '
                                  "sysctl 'vm.swappiness=10' is not allowed")
