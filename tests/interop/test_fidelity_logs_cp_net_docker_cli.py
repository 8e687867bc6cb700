"""The real docker CLI against the dockyard daemon on what an earlier audit left out — logs,
cp, networks and volumes — each expectation recorded from dockerd 20.10 on this machine with
the same command (session 8 audit): ``logs --details`` and the log-opt attributes it prints,
``cp -a`` keeping the archive's owners, ``cp -`` of an empty, cut or garbled tar, network
create/connect/disconnect/ls refusals and inspect's IPAM order, the volume filter's wording."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI


@pytest.fixture
def docker(dockyard_daemon: Any, dockyard_client: Any, busybox_image: str) -> Iterator[Any]:
    """``docker ARGS…`` against the dockyard daemon; the containers, networks and volumes the
    test made are removed after it."""
    api = dockyard_client.api
    containers = {c["Id"] for c in api.containers(all=True)}
    networks = {n["Id"] for n in api.networks()}
    volumes = {v["Name"] for v in api.volumes()["Volumes"] or []}
    yield DockerCLI(dockyard_daemon.host)
    for c in api.containers(all=True):
        if c["Id"] not in containers:
            api.remove_container(c["Id"], force=True, v=True)
    for n in api.networks():
        if n["Id"] not in networks:
            api.remove_network(n["Id"])
    for v in api.volumes()["Volumes"] or []:
        if v["Name"] not in volumes:
            api.remove_volume(v["Name"])


def _daemon_error(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert (done.returncode, done.stderr) == (1, f"Error response from daemon: {message}\n")


# ---- logs --------------------------------------------------------------------------------------


def test_logs_details_prints_the_log_opt_attributes(docker: Any) -> None:
    """``--details`` puts each line's attributes (``--log-opt env/env-regex/labels/labels-regex``,
    sorted, query-escaped) and a space before it — a bare space without any (it printed the
    line alone); after the timestamp with ``-t``; the same for a TTY's output."""
    done = docker("run", "--name", "fid-lg1", "--network", "none", "busybox", "echo", "hi")
    assert done.returncode == 0, done.stderr
    assert docker("logs", "--details", "fid-lg1").stdout == " hi\n"
    docker("run", "--name", "fid-lg2", "--network", "none", "-e", "FOO=bar", "-e", "BAZ=q",
           "--label", "lab=v1", "--log-opt", "env=FOO,BAZ", "--log-opt", "labels=lab",
           "busybox", "sh", "-c", "echo a; echo b >&2")
    done = docker("logs", "--details", "fid-lg2")
    assert (done.stdout, done.stderr) == ("BAZ=q,FOO=bar,lab=v1 a\n", "BAZ=q,FOO=bar,lab=v1 b\n")
    stamped = docker("logs", "--details", "-t", "fid-lg2").stdout
    assert stamped.endswith("Z BAZ=q,FOO=bar,lab=v1 a\n") and stamped[:4].isdigit()
    docker("run", "--name", "fid-lg3", "--network", "none", "-e", "E1=x", "-e", "E2=a b,c",
           "--label", "la=1", "--label", "lb=2", "--log-opt", "labels-regex=^la",
           "--log-opt", "env-regex=^E", "busybox", "echo", "hi")
    assert docker("logs", "--details", "fid-lg3").stdout == "E1=x,E2=a+b%2Cc,la=1 hi\n"
    docker("run", "-t", "--name", "fid-lg4", "--network", "none", "--label", "la=1",
           "--log-opt", "labels=la", "busybox", "echo", "hi", stdin=subprocess.DEVNULL)
    assert docker("logs", "--details", "fid-lg4", text=False).stdout == b"la=1 hi\r\n"
    assert docker("logs", "fid-lg4", text=False).stdout == b"hi\r\n"


def test_log_path_is_the_json_files_once_started(docker: Any) -> None:
    """inspect's LogPath: "" for a created container and for a driver other than json-file
    (it was always the json file's path)."""
    docker("create", "--name", "fid-lp1", "--network", "none", "busybox", "true")
    docker("run", "--name", "fid-lp2", "--log-driver", "local", "--network", "none", "busybox", "true")
    for name in ("fid-lp1", "fid-lp2"):
        assert docker("inspect", "-f", "[{{.LogPath}}]", name).stdout == "[]\n"
    assert docker("start", "fid-lp1").returncode == 0
    assert docker("inspect", "-f", "{{.LogPath}}", "fid-lp1").stdout.endswith("-json.log\n")
    assert docker("logs", "fid-lp2").returncode == 0


def test_logs_follow_until_follows_up_to_that_time(docker: Any, dockyard_daemon: Any) -> None:
    """``-f --until T`` streams what comes before T and ends at T though the container runs on
    (it ended at once, with what was there): dockerd printed l0…l3 of a line a second, 2.5 s
    after a start 1.5 s in with T 3 s ahead. Here the second line is written on cue, well
    before T."""
    docker("run", "-d", "--name", "fid-lg5", "--network", "none", "busybox", "sh", "-c",
           "echo a; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo b; sleep 1000")
    assert docker("logs", "fid-lg5").stdout == "a\n"
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 8))
    env = dict(os.environ, DOCKER_HOST=dockyard_daemon.host)
    follower = subprocess.Popen(["docker", "logs", "-f", "--until", until, "fid-lg5"], env=env,
                                stdout=subprocess.PIPE, text=True)
    try:
        assert follower.stdout is not None and follower.stdout.readline() == "a\n"
        assert docker("exec", "fid-lg5", "touch", "/tmp/go").returncode == 0
        out, _ = follower.communicate(timeout=60)
    finally:
        follower.kill()
    assert (out, follower.returncode) == ("b\n", 0)
    assert docker("inspect", "-f", "{{.State.Running}}", "fid-lg5").stdout == "true\n"


# ---- cp ----------------------------------------------------------------------------------------


def test_cp_archive_keeps_the_owners_without_a_user(docker: Any, tmp_path: Path) -> None:
    """``cp -a`` into a container with no ``--user`` keeps the file's owner, as without ``-a``
    (dockerd's tarCopyOptions: only a configured user gives new owners; it made them 0:0)."""
    src = tmp_path / "f"
    src.write_text("hi\n")
    os.chown(src, 1234, 5678)
    os.chmod(src, 0o640)
    docker("run", "-d", "--name", "fid-cp1", "--network", "none", "busybox", "sleep", "1000")
    assert docker("cp", "-a", str(src), "fid-cp1:/tmp/fa").returncode == 0
    assert docker("cp", str(src), "fid-cp1:/tmp/fn").returncode == 0
    done = docker("exec", "fid-cp1", "stat", "-c", "%n %u:%g %a", "/tmp/fa", "/tmp/fn")
    assert done.stdout == "/tmp/fa 1234:5678 640\n/tmp/fn 1234:5678 640\n"


def _tar(*names: str, size: int = 3) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(b"x" * size))
    return buf.getvalue()


def test_cp_from_stdin_reads_the_tar_as_dockerd(docker: Any) -> None:
    """``docker cp - C:DIR``: an empty stream is no error (it was "empty file"); a cut or garbled
    one is Go's reader's error in dockerd's words (one cut after its first entry was taken
    without a word; "truncated header"/"invalid header" before)."""
    docker("run", "-d", "--name", "fid-cp2", "--network", "none", "busybox", "sleep", "1000")
    assert docker("exec", "fid-cp2", "mkdir", "/d").returncode == 0
    whole = _tar("one", "two", size=600)
    assert docker("cp", "-", "fid-cp2:/d", input=whole, text=False).returncode == 0
    assert docker("cp", "-", "fid-cp2:/d", input=b"", text=False).returncode == 0
    assert docker("cp", "-", "fid-cp2:/d", input=whole[:1536] + bytes(512), text=False).returncode == 0
    for data, message in ((b"notatar\n", "unexpected EOF"),
                          (b"a" * 2048, "archive/tar: invalid tar header"),
                          (whole[:1000], "unexpected EOF"),
                          (whole[:1536 + 700], "unexpected EOF"),
                          (whole[:1536] + bytes(700), "unexpected EOF"),
                          (whole[:1536] + b"b" * 1024, "archive/tar: invalid tar header")):
        done = docker("cp", "-", "fid-cp2:/d", input=data, text=False)
        assert (done.returncode, done.stderr.decode()) == (
            1, f"Error response from daemon: Error processing tar file(exit status 1): {message}\n"), data[:20]
    assert docker("exec", "fid-cp2", "ls", "/d").stdout == "one\ntwo\n"


def test_cp_into_mounts_of_a_read_only_container(docker: Any, tmp_path: Path) -> None:
    """A read-only root file system still takes copies into its read-write volumes, running or
    stopped (all were refused as the rootfs's); a read-only volume or bind refuses them in
    dockerd's words, with or without ``--read-only`` (it was the helper's EROFS)."""
    src = tmp_path / "f"
    src.write_text("hi\n")
    bound = tmp_path / "bound"
    bound.mkdir()
    docker("run", "-d", "--name", "fid-cp3", "--read-only", "-v", "fid-vro:/vol:ro", "-v", "fid-vrw:/rw",
           "-v", f"{bound}:/bnd:ro", "--network", "none", "busybox", "sleep", "1000")
    docker("run", "-d", "--name", "fid-cp4", "-v", "fid-vro:/vol:ro", "--network", "none", "busybox", "sleep", "1000")
    volume_ro, rootfs_ro = "mounted volume is marked read-only", "container rootfs is marked read-only"
    for dest, message in (("fid-cp3:/", rootfs_ro), ("fid-cp3:/tmp/", rootfs_ro), ("fid-cp3:/vol/", volume_ro),
                          ("fid-cp3:/bnd/", volume_ro), ("fid-cp4:/vol/", volume_ro)):
        _daemon_error(docker("cp", str(src), dest), message)
    assert docker("cp", str(src), "fid-cp3:/rw/").returncode == 0
    assert docker("cp", str(src), "fid-cp3:/vol/../rw/g").returncode == 0
    assert docker("stop", "-t", "0", "fid-cp3").returncode == 0
    done = docker("cp", str(src), "fid-cp3:/rw/h")
    assert done.returncode == 0, done.stderr
    _daemon_error(docker("cp", str(src), "fid-cp3:/vol/"), volume_ro)
    done = docker("run", "--rm", "-v", "fid-vrw:/rw", "--network", "none", "busybox", "ls", "/rw")
    assert done.stdout == "f\ng\nh\n"


# ---- networks ----------------------------------------------------------------------------------


def test_network_create_inspect_and_filters(docker: Any) -> None:
    """inspect's IPAM config in dockerd's key order (Subnet, IPRange, Gateway); a gateway on the
    subnet's own address is refused (it was taken); ``ls --filter type=`` other than custom or
    builtin is refused (it listed the custom ones)."""
    done = docker("network", "create", "--subnet", "10.216.0.0/16", "--gateway", "10.216.0.254",
                  "--ip-range", "10.216.5.0/24", "--internal", "--label", "a=b", "--label", "c",
                  "-o", "foo=bar", "fid-n1")
    assert done.returncode == 0, done.stderr
    [info] = json.loads(docker("network", "inspect", "fid-n1").stdout)
    assert list(info["IPAM"]["Config"][0].items()) == [
        ("Subnet", "10.216.0.0/16"), ("IPRange", "10.216.5.0/24"), ("Gateway", "10.216.0.254")]
    assert (info["Internal"], info["Labels"], info["Options"]) == (True, {"a": "b", "c": ""}, {"foo": "bar"})
    _daemon_error(docker("network", "create", "--subnet", "10.217.0.0/16", "--gateway", "10.217.0.0", "fid-bad"),
                  "failed to allocate gateway (10.217.0.0): Address already in use")
    _daemon_error(docker("network", "ls", "--filter", "type=foo"), "invalid filter: 'type'='foo'")
    listed = docker("network", "ls", "--filter", "type=custom", "--format", "{{.Name}}").stdout.split()
    assert "fid-n1" in listed and "bridge" not in listed


def test_network_connect_and_disconnect_refusals(docker: Any) -> None:
    """dockerd's words for a container whose namespace is not its own or is private, and for
    the host and none networks (all were "container sharing network namespace…", 403); ``disconnect
    -f`` of no container looks for an endpoint of that name."""
    assert docker("network", "create", "--subnet", "10.218.0.0/24", "fid-n2").returncode == 0
    docker("run", "-d", "--name", "fid-nc1", "--network", "none", "busybox", "sleep", "1000")
    docker("run", "-d", "--name", "fid-nc2", "--network", "fid-n2", "busybox", "sleep", "1000")
    docker("run", "-d", "--name", "fid-nc3", "--network", "container:fid-nc2", "busybox", "sleep", "1000")
    private = "container cannot be connected to multiple networks with one of the networks in private (none) mode"
    _daemon_error(docker("network", "connect", "fid-n2", "fid-nc1"), private)
    _daemon_error(docker("network", "connect", "none", "fid-nc2"), private)
    _daemon_error(docker("network", "connect", "host", "fid-nc2"),
                  "container cannot be disconnected from host network or connected to host network")
    _daemon_error(docker("network", "connect", "fid-n2", "fid-nc3"), "container sharing network namespace "
                  "with another container or host cannot be connected to any other network")
    _daemon_error(docker("network", "disconnect", "-f", "fid-n2", "fid-nosuch"), "endpoint fid-nosuch not found")
    _daemon_error(docker("network", "disconnect", "fid-n2", "fid-nosuch"), "No such container: fid-nosuch")


def test_network_connect_ip_refusals(docker: Any) -> None:
    """``--ip`` in dockerd's words; the subnet's network and broadcast addresses are held as the
    gateway's (they were given to the container)."""
    assert docker("network", "create", "--subnet", "10.219.0.0/24", "fid-n3").returncode == 0
    docker("run", "-d", "--name", "fid-nc7", "--network", "fid-n3", "--ip", "10.219.0.2", "busybox", "sleep", "1000")
    docker("run", "-d", "--name", "fid-nc8", "busybox", "sleep", "1000")
    for ip in ("10.219.0.2", "10.219.0.1", "10.219.0.0", "10.219.0.255"):
        _daemon_error(docker("network", "connect", "--ip", ip, "fid-n3", "fid-nc8"), "Address already in use")
    _daemon_error(docker("network", "connect", "--ip", "10.219.1.5", "fid-n3", "fid-nc8"),
                  "Invalid address 10.219.1.5: It does not belong to any of this network's subnets")
    assert docker("network", "connect", "--ip", "10.219.0.9", "fid-n3", "fid-nc8").returncode == 0
    assert docker("network", "create", "fid-n4").returncode == 0  # a subnet the daemon picked
    _daemon_error(docker("network", "connect", "--ip", "10.219.0.10", "fid-n4", "fid-nc8"),
                  "user specified IP address is supported only when connecting to networks with user "
                  "configured subnets")
    done = docker("run", "--rm", "--network", "fid-n4", "--ip", "10.219.0.11", "busybox", "true")
    assert done.returncode == 125 and done.stderr.startswith(
        "docker: Error response from daemon: user specified IP address is supported only when connecting "
        "to networks with user configured subnets"), done.stderr
    # the default bridge: dockerd's runconfig.ErrUnsupportedNetworkAndIP (the private dockerd
    # that recorded the rest runs without a default bridge)
    done = docker("run", "--rm", "--ip", "172.30.0.99", "busybox", "true")
    assert done.stderr.startswith("docker: Error response from daemon: user specified IP address is "
                                  "supported on user defined networks only"), done.stderr
    done = docker("inspect", "-f", '{{(index .NetworkSettings.Networks "fid-n3").IPAddress}}', "fid-nc8")
    assert done.stdout == "10.219.0.9\n"


def test_ephemeral_host_ports_come_in_order(docker: Any) -> None:
    """``-p 90`` gets the kernel's ephemeral range's ports in order, as dockerd (its first was
    32768, the start of this machine's range; they were the kernel's random picks)."""
    low, high = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    found = []
    for name in ("fid-p1", "fid-p2"):
        done = docker("run", "-d", "--name", name, "-p", "127.0.0.1::90", "busybox", "sleep", "1000")
        assert done.returncode == 0, done.stderr
        address = docker("port", name, "90").stdout.strip()
        assert address.startswith("127.0.0.1:"), address
        found.append(int(address.rsplit(":", 1)[1]))
    assert low <= found[0] <= high
    assert found[1] == (found[0] + 1 if found[0] < high else low)


def test_prune_until_takes_durations_and_refuses_nonsense(docker: Any) -> None:
    """``--filter until=`` is Go's GetTimestamp for container, network and image prune: a
    duration before now counts (``0s`` pruned nothing: it was read as a date), a bad value is
    dockerd's error (container and network prune went ahead, image prune said 'invalid
    filter'); ``network ls`` takes no ``until``."""
    bad = 'failed to parse value as time or duration: "bogus"'
    for verb in ("container", "network", "image"):
        _daemon_error(docker(verb, "prune", "-f", "--filter", "until=bogus"), bad)
    _daemon_error(docker("network", "ls", "--filter", "until=1h"), "Invalid filter 'until'")
    docker("create", "--name", "fid-old", "--label", "fid=until", "--network", "none", "busybox", "true")
    assert docker("network", "create", "--label", "fid=until", "fid-n5").returncode == 0
    for verb in ("container", "network"):
        done = docker(verb, "prune", "-f", "--filter", "until=2000-01-01T00:00:00Z", "--filter", "label=fid=until")
        assert done.returncode == 0 and "fid-" not in done.stdout, done.stdout
    done = docker("container", "prune", "-f", "--filter", "until=0s", "--filter", "label=fid=until")
    assert done.returncode == 0 and docker("ps", "-aq", "--filter", "name=fid-old").stdout == ""
    done = docker("network", "prune", "-f", "--filter", "until=0s", "--filter", "label=fid=until")
    assert done.stdout == "Deleted Networks:\nfid-n5\n\n"


# ---- volumes -----------------------------------------------------------------------------------


def test_volume_create_of_an_existing_name_and_filter_wording(docker: Any) -> None:
    """A create naming an existing volume answers with it before looking at the options (it
    refused options a new volume could not take: 'missing required option: "device"')."""
    assert docker("volume", "create", "--label", "a=1", "fid-v1").stdout == "fid-v1\n"
    done = docker("volume", "create", "-o", "type=tmpfs", "--label", "a=2", "fid-v1")
    assert (done.returncode, done.stdout) == (0, "fid-v1\n"), done.stderr
    done = docker("volume", "inspect", "-f", "{{json .Labels}} {{json .Options}}", "fid-v1")
    assert done.stdout == '{"a":"1"} null\n'
    _daemon_error(docker("volume", "create", "-o", "type=tmpfs", "fid-v2"),
                  'create fid-v2: missing required option: "device"')
    _daemon_error(docker("volume", "ls", "--filter", "dangling=maybe"), "Invalid filter 'dangling=[maybe]'")
