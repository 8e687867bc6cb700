"""The real docker CLI against the dockyard daemon, on what users do daily and what dockerd
answers (each expectation below was recorded from dockerd on this machine with the same
command): /etc files from ``--add-host``/``--dns*``/``--domainname``, supplementary groups,
``--shm-size``, ``top`` with ps options, the environment, HostConfig defaults in ``inspect``,
``docker update``, /.dockerenv and /etc/mtab, events, resources (``--ulimit``, ``--cpuset-*``,
``--memory-swap``, the NIS domain), and dockerd's wording for bad input."""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI
from dockyard.testing.hostcaps import ipv6_listen


@pytest.fixture
def docker(dockyard_daemon: Any, client: Any) -> Any:
    return DockerCLI(dockyard_daemon.host)


LOCALHOST = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
             "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")


def test_add_host_dns_and_domainname_reach_the_etc_files(docker: Any, client: Any) -> None:
    done = docker("run", "--rm", "--add-host", "x.y:5.6.7.8", "--add-host", "gw:host-gateway",
                  "--hostname", "hh", "--domainname", "ex.org", "--dns", "1.1.1.1", "--dns", "2.2.2.2",
                  "busybox", "sh", "-c", "cat /etc/hosts; echo ---; cat /etc/resolv.conf")
    assert done.returncode == 0, done.stderr
    hosts, resolv = done.stdout.split("---\n")
    gateway = client.api.inspect_network("bridge")["IPAM"]["Config"][0]["Gateway"]
    head, own = hosts.rsplit("\n", 2)[0] + "\n", hosts.rsplit("\n", 2)[1]
    assert head == LOCALHOST + f"5.6.7.8\tx.y\n{gateway}\tgw\n"
    assert own.endswith("\thh.ex.org hh")
    assert resolv == "nameserver 1.1.1.1\nnameserver 2.2.2.2\n"
    done = docker("run", "--rm", "--network", "none", "--add-host", "a:1.2.3.4", "--dns-search", "a.b",
                  "--dns-search", "c.d", "--dns-option", "ndots:3", "--dns", "8.8.8.8",
                  "busybox", "sh", "-c", "cat /etc/resolv.conf /etc/hosts")
    assert done.stdout == ("search a.b c.d\nnameserver 8.8.8.8\noptions ndots:3\n"
                           + LOCALHOST + "1.2.3.4\ta\n")


def test_the_primary_group_is_a_supplementary_group(docker: Any) -> None:
    """dockerd (containerd and runc since CVE-2023-25173): ``id`` lists the primary group."""
    done = docker("run", "--rm", "--network", "none", "busybox", "id")
    assert done.stdout == "uid=0(root) gid=0(root) groups=0(root),10(wheel)\n"
    done = docker("run", "--rm", "--network", "none", "-u", "nobody", "--group-add", "10", "busybox",
                  "grep", "Groups", "/proc/self/status")
    assert done.stdout.split() == ["Groups:", "10", "65534"]
    docker("run", "-d", "--name", "fid-groups", "--network", "none", "busybox", "sleep", "100")
    done = docker("exec", "-u", "1000", "fid-groups", "id")
    assert done.stdout == "uid=1000 gid=0(root) groups=0(root)\n"


def test_top_with_ps_options(docker: Any) -> None:
    """``docker top C ARGS`` runs ps with ARGS and keeps the container's rows (they were
    ignored: always ps -ef's columns); dockerd's refusals and their words."""
    docker("run", "-d", "--name", "fid-top", "--network", "none", "busybox", "sleep", "1000")
    done = docker("top", "fid-top", "-o", "pid,args")
    titles, row = done.stdout.splitlines()
    assert titles.split() == ["PID", "COMMAND"] and row.split()[1:] == ["sleep", "1000"]
    assert docker("top", "fid-top", "aux").stdout.split()[:3] == ["USER", "PID", "%CPU"]
    for args, message in ((["-o", "comm"], "Couldn't find PID field in ps output"),
                          (["-o", "user=PID"], 'specifying "user=PID" is not allowed'),
                          (["-Q"], "ps: error: unsupported SysV option")):
        done = docker("top", "fid-top", *args)
        assert (done.returncode, done.stderr) == (1, f"Error response from daemon: {message}\n")


def test_errors_in_dockerd_words(docker: Any) -> None:
    docker("run", "-d", "--name", "fid-err", "--network", "none", "busybox", "sleep", "1000")
    expected = {
        ("kill", "-s", "BOGUS", "fid-nosuch"): "Invalid signal: BOGUS",
        ("kill", "fid-nosuch"): "Cannot kill container: fid-nosuch: No such container: fid-nosuch",
        ("ps", "-a", "--filter", "exited=abc"): 'strconv.Atoi: parsing "abc": invalid syntax',
        ("ps", "--filter", "before=fid-nosuch"): "no such container fid-nosuch",
        ("container", "prune", "-f", "--filter", "bogus=1"): "Invalid filter 'bogus'",
    }
    for args, message in expected.items():
        done = docker(*args)
        assert (done.returncode, done.stderr) == (1, f"Error response from daemon: {message}\n"), args
    assert docker("pause", "fid-err").returncode == 0
    done = docker("exec", "fid-err", "true")
    assert done.stderr == ("Error response from daemon: Container fid-err is paused, unpause the "
                           "container before exec\n")
    docker("unpause", "fid-err")


def test_run_flags_dockerd_honours(docker: Any) -> None:
    """``--shm-size`` sizes /dev/shm; ``-e NAME`` with no NAME in the client's environment
    leaves the variable unset (it was set empty); the image's variables follow the request's."""
    done = docker("run", "--rm", "--network", "none", "--shm-size", "32m", "busybox", "sh", "-c",
                  "df -k /dev/shm | tail -1")
    assert done.stdout.split()[1] == "32768"
    assert "FID_UNSET" not in os.environ
    done = docker("run", "--rm", "--network", "none", "-e", "FID_UNSET", "-e", "B=1", "busybox", "sh", "-c",
                  'env | grep -c FID_UNSET; echo "[$B]"')
    assert done.stdout == "0\n[1]\n"


def test_inspect_reads_dockerds_defaults(docker: Any) -> None:
    docker("create", "--name", "fid-inspect", "--network", "none", "--memory", "64m", "-e", "A=1", "busybox", "true")
    fmt = ("{{.HostConfig.MemorySwap}} {{.HostConfig.MemorySwappiness}} {{.HostConfig.IpcMode}} "
           "{{.HostConfig.PidsLimit}} {{index .HostConfig.ReadonlyPaths 0}} {{json .Config.Env}}")
    done = docker("inspect", "-f", fmt, "fid-inspect")
    assert done.stdout == ('134217728 <nil> private <nil> /proc/bus '
                           '["A=1","PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]\n')


@pytest.mark.parametrize(("args", "message"), [
    (["--stop-signal", "BOGUS"], "Invalid signal: BOGUS"),
    (["--cap-add", "BOGUS"], 'invalid CapAdd: unknown capability: "CAP_BOGUS"'),
    (["--memory-swap", "64m"], "You should always set the Memory limit when using Memoryswap limit, see usage"),
    (["--cpus", "0.5", "--cpu-quota", "50000"], "Conflicting options: Nano CPUs and CPU Quota cannot both be set"),
])
def test_create_refuses_as_dockerd(docker: Any, args: list[str], message: str) -> None:
    done = docker("create", "--network", "none", *args, "busybox", "true")
    assert (done.returncode, done.stderr) == (1, f"Error response from daemon: {message}\n")


def test_update_a_running_container(docker: Any, client: Any) -> None:
    """``docker update`` (it answered 404 "page not found"): resources reach the running
    container's cgroup, the restart policy the record; dockerd's refusals."""
    cid = docker("run", "-d", "--name", "fid-up", "--network", "none", "-m", "64m", "busybox",
                 "sleep", "1000").stdout.strip()
    done = docker("update", "--memory", "32m", "--pids-limit", "20", "--restart", "on-failure:3", "fid-up")
    assert (done.returncode, done.stdout, done.stderr) == (0, "fid-up\n", "")
    fmt = "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy}}"
    assert docker("inspect", "-f", fmt, "fid-up").stdout == "33554432 134217728 20 {on-failure 3}\n"
    if client.info()["CgroupVersion"] == "1":
        paths = "/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max"
    else:
        paths = "/sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max"
    assert docker("exec", "fid-up", "cat", *paths.split()).stdout == "33554432\n20\n"
    done = docker("update", "--memory", "200m", "fid-up")
    assert done.stderr == (f"Error response from daemon: Cannot update container {cid}: Memory limit should be "
                           "smaller than already set memoryswap limit, update the memoryswap at the same time\n")
    assert docker("update", "--memory", "200m", "--memory-swap", "400m", "--pids-limit", "-1", "fid-up").returncode == 0
    assert docker("exec", "fid-up", "cat", *paths.split()).stdout == "209715200\nmax\n"
    done = docker("update", "--cpus", "1", "fid-nosuch")
    assert done.stderr == "Error response from daemon: No such container: fid-nosuch\n"


def test_a_start_refused_before_the_clone_is_a_failed_start(docker: Any, client: Any) -> None:
    """An unknown ``--user`` fails the start as under dockerd: ExitCode 128 and the error in
    the record, and ``run --rm`` removes the container (the CLI waited forever for that)."""
    before = len(client.api.containers(all=True))
    done = docker("run", "--rm", "--network", "none", "-u", "fid-nosuchuser", "busybox", "id")
    assert done.returncode == 125
    assert "unable to find user fid-nosuchuser: no matching entries in passwd file" in done.stderr
    assert len(client.api.containers(all=True)) == before
    docker("create", "--name", "fid-nouser", "--network", "none", "-u", "fid-nosuchuser", "busybox", "id")
    assert docker("start", "fid-nouser").returncode == 1
    done = docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}", "fid-nouser")
    assert done.stdout == ("created 128 unable to find user fid-nosuchuser: no matching entries in "
                           "passwd file\n")


def test_dockerenv_and_mtab_as_dockerds_init_layer_gives_them(docker: Any, client: Any) -> None:
    """``/.dockerenv`` (what scripts test to know they run in Docker) and ``/etc/mtab``; like
    the rest of dockerd's init layer they stay out of ``docker diff`` and of a commit."""
    done = docker("run", "--name", "fid-env", "--network", "none", "busybox", "sh", "-c",
                  "stat -c '%a %s' /.dockerenv; readlink /etc/mtab")
    assert done.stdout == "755 0\n/proc/mounts\n"
    assert docker("diff", "fid-env").stdout == ""
    image = client.images.get(docker("commit", "fid-env", "fid-env:1").stdout.strip())
    try:
        with tarfile.open(fileobj=io.BytesIO(b"".join(image.save()))) as saved:
            manifest = json.load(saved.extractfile("manifest.json"))  # type: ignore[arg-type]
            top = saved.extractfile(manifest[0]["Layers"][-1])
            assert top is not None
            with tarfile.open(fileobj=io.BytesIO(top.read())) as layer:
                names = layer.getnames()
    finally:
        client.images.remove("fid-env:1")
    assert not {".dockerenv", "etc/mtab"} & set(names)


def test_published_ports_filters_clash_and_host_mode(docker: Any) -> None:
    """``ps --filter publish=``/``expose=`` (they were "invalid filter"), dockerd's words for a
    host port already taken, and its warning for ``-p`` with ``--network host``."""
    done = docker("run", "-d", "--name", "fid-pub", "-p", "127.0.0.1::80", "--expose", "7000", "busybox",
                  "sleep", "1000")
    assert done.returncode == 0, done.stderr
    host_port = docker("port", "fid-pub", "80").stdout.strip().rsplit(":", 1)[1]
    for wanted, names in ((f"publish={host_port}", "fid-pub\n"), (f"publish={host_port}/udp", ""),
                          ("publish=80", ""), ("expose=80/tcp", "fid-pub\n"), ("expose=7000", "fid-pub\n"),
                          ("expose=7000-7001/udp", "")):
        assert docker("ps", "--filter", wanted, "--filter", "name=fid-pub", "--format", "{{.Names}}").stdout == names
    done = docker("ps", "--filter", "publish=1.2.3.4:80")
    assert done.stderr == "Error response from daemon: filter for 'publish' should not contain ':': 1.2.3.4:80\n"
    done = docker("ps", "--filter", "expose=70000")
    assert done.stderr == ("Error response from daemon: error while looking up for expose 70000: "
                           'strconv.ParseUint: parsing "70000": value out of range\n')
    done = docker("run", "--rm", "--name", "fid-clash", "-p", f"127.0.0.1:{host_port}:80", "busybox", "true")
    assert done.returncode == 125
    assert re.search(r"driver failed programming external connectivity on endpoint fid-clash \([0-9a-f]{64}\): "
                     f"Bind for 127.0.0.1:{host_port} failed: port is already allocated", done.stderr)
    done = docker("create", "--network", "host", "-p", "80:80", "busybox", "true")
    assert done.stderr == "WARNING: Published ports are discarded when using host network mode\n"


def test_size_and_etc_paths_in_inspect(docker: Any) -> None:
    docker("run", "--name", "fid-size", "--network", "none", "busybox", "true")
    assert docker("ps", "-a", "-s", "--filter", "name=fid-size", "--format", "{{.Size}}").stdout.startswith("0B ")
    done = docker("inspect", "-f", "{{.HostsPath}} {{.ResolvConfPath}} {{.HostnamePath}}", "fid-size")
    assert [os.path.basename(p) for p in done.stdout.split()] == ["hosts", "resolv.conf", "hostname"]


def test_events_of_a_containers_day(docker: Any) -> None:
    """The events dockerd sends for exec, stop (a kill per signal), networks and volumes (they
    were missing), in its order (die before the network's disconnect), and its refusal of a
    ``since`` after ``until``."""
    since = time.time()
    docker("run", "-d", "--name", "fid-ev", "--network", "none", "busybox", "sleep", "100")
    docker("exec", "fid-ev", "true")
    docker("stop", "-t", "1", "fid-ev")
    docker("network", "create", "fid-evnet")
    docker("run", "--rm", "--name", "fid-ev2", "--network", "fid-evnet", "-v", "fid-evvol:/v", "busybox", "true")
    docker("network", "rm", "fid-evnet")
    docker("volume", "rm", "fid-evvol")
    done = docker("events", "--since", str(since), "--until", str(time.time() + 0.5), "--format",
                  "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.signal}}"
                  "{{.Actor.Attributes.exitCode}}")
    assert done.stdout.replace("<no value>", "").split("\n") == [
        "container create fid-ev ", "network connect none ", "container start fid-ev ",
        "container exec_create: true  fid-ev ", "container exec_start: true  fid-ev ",
        "container exec_die fid-ev 0", "container kill fid-ev 15", "container kill fid-ev 9",
        "container die fid-ev 137", "network disconnect none ", "container stop fid-ev ",
        "network create fid-evnet ", "volume create  ", "container create fid-ev2 ",
        "container attach fid-ev2 ", "network connect fid-evnet ", "volume mount  ",
        "container start fid-ev2 ", "container die fid-ev2 0", "network disconnect fid-evnet ",
        "volume unmount  ", "container destroy fid-ev2 ",
        "network destroy fid-evnet ", "volume destroy  ", ""]
    done = docker("events", "--since", "5", "--until", "2")
    assert done.stderr == "Error response from daemon: `since` time (5) cannot be after `until` time (2)\n"


def test_volume_mount_and_unmount_events(docker: Any) -> None:
    """dockerd's volume ``mount`` at each start (after the network's connect, with the mount's
    destination, driver, propagation and read/write) and ``unmount`` when the container stops
    (after the network's disconnect; around a start that fails too), for named, ``--volumes-from``
    and anonymous volumes, none for a bind or a tmpfs (they were not sent); a ``create`` at each
    container's use of a named volume and each ``volume create``, existing or not (it was sent
    for a new one only). The sequence is dockerd 20.10's on this machine for the same commands;
    the order among one container's volumes is Go's map order there, so each run of one volume
    action is compared sorted."""
    since = time.time()
    docker("run", "-d", "--name", "fid-vm", "--network", "none", "-v", "fid-vm1:/v", "-v", "fid-vm2:/w:ro",
           "-v", "/tmp:/hostbind", "--tmpfs", "/t", "busybox", "sleep", "100")
    docker("kill", "fid-vm")
    docker("run", "--rm", "--name", "fid-vm-from", "--network", "none", "--volumes-from", "fid-vm:ro",
           "busybox", "true")
    docker("rm", "fid-vm")
    docker("run", "--rm", "--name", "fid-vm-anon", "--network", "none", "--mount", "type=volume,dst=/m",
           "busybox", "true")
    docker("run", "--name", "fid-vm-bad", "--network", "none", "-v", "fid-vm1:/v", "busybox", "/nonexistent")
    docker("rm", "fid-vm-bad")
    docker("volume", "create", "fid-vm2")
    docker("volume", "rm", "fid-vm1", "fid-vm2")
    done = docker("events", "--since", str(since), "--until", str(time.time() + 0.5), "--format", "{{json .}}")
    mount = {"driver": "local", "propagation": ""}
    rw, ro = {**mount, "read/write": "true"}, {**mount, "read/write": "false"}
    local = {"driver": "local"}
    assert _volume_rows(done.stdout) == [
        ("volume", "create", "fid-vm1", local), ("volume", "create", "fid-vm2", local),
        ("container", "create", "fid-vm", {}), ("network", "connect", "none", {"container": "fid-vm"}),
        ("volume", "mount", "fid-vm1", {"container": "fid-vm", "destination": "/v", **rw}),
        ("volume", "mount", "fid-vm2", {"container": "fid-vm", "destination": "/w", **ro}),
        ("container", "start", "fid-vm", {}), ("container", "kill", "fid-vm", {}),
        ("container", "die", "fid-vm", {}), ("network", "disconnect", "none", {"container": "fid-vm"}),
        ("volume", "unmount", "fid-vm1", {"container": "fid-vm", **local}),
        ("volume", "unmount", "fid-vm2", {"container": "fid-vm", **local}),
        ("container", "create", "fid-vm-from", {}), ("container", "attach", "fid-vm-from", {}),
        ("network", "connect", "none", {"container": "fid-vm-from"}),
        ("volume", "mount", "fid-vm1", {"container": "fid-vm-from", "destination": "/v", **ro}),
        ("volume", "mount", "fid-vm2", {"container": "fid-vm-from", "destination": "/w", **ro}),
        ("container", "start", "fid-vm-from", {}), ("container", "die", "fid-vm-from", {}),
        ("network", "disconnect", "none", {"container": "fid-vm-from"}),
        ("volume", "unmount", "fid-vm1", {"container": "fid-vm-from", **local}),
        ("volume", "unmount", "fid-vm2", {"container": "fid-vm-from", **local}),
        ("container", "destroy", "fid-vm-from", {}), ("container", "destroy", "fid-vm", {}),
        ("volume", "create", "ANON", local), ("container", "create", "fid-vm-anon", {}),
        ("container", "attach", "fid-vm-anon", {}), ("network", "connect", "none", {"container": "fid-vm-anon"}),
        ("volume", "mount", "ANON", {"container": "fid-vm-anon", "destination": "/m", **rw}),
        ("container", "start", "fid-vm-anon", {}), ("container", "die", "fid-vm-anon", {}),
        ("network", "disconnect", "none", {"container": "fid-vm-anon"}),
        ("volume", "unmount", "ANON", {"container": "fid-vm-anon", **local}),
        ("volume", "destroy", "ANON", local), ("container", "destroy", "fid-vm-anon", {}),
        ("volume", "create", "fid-vm1", local),  # dockerd tells of each use of a named volume
        ("container", "create", "fid-vm-bad", {}), ("container", "attach", "fid-vm-bad", {}),
        ("network", "connect", "none", {"container": "fid-vm-bad"}),
        ("volume", "mount", "fid-vm1", {"container": "fid-vm-bad", "destination": "/v", **rw}),
        ("network", "disconnect", "none", {"container": "fid-vm-bad"}),
        ("volume", "unmount", "fid-vm1", {"container": "fid-vm-bad", **local}),
        ("container", "destroy", "fid-vm-bad", {}), ("volume", "create", "fid-vm2", local),
        ("volume", "destroy", "fid-vm1", local), ("volume", "destroy", "fid-vm2", local)]


def _volume_rows(text: str) -> list[tuple[str, str, str, dict[str, str]]]:
    """Events as (type, action, actor, attributes): containers by name (their attributes
    left out), networks by name, an anonymous volume as ANON, ``container`` attributes as
    names; each run of one volume action sorted (dockerd's order among a container's volumes
    is random)."""
    names: dict[str, str] = {}
    rows: list[tuple[str, str, str, dict[str, str]]] = []
    for line in text.splitlines():
        event = json.loads(line)
        kind, action, actor = event["Type"], event["Action"], event["Actor"]["ID"]
        attrs = dict(event["Actor"]["Attributes"])
        if kind == "container":
            names[actor] = attrs["name"]
            rows.append((kind, action, attrs["name"], {}))
            continue
        if "container" in attrs:
            attrs["container"] = names.get(attrs["container"], attrs["container"])
        if kind == "network":
            actor = attrs.pop("name")
            attrs.pop("type")
        rows.append((kind, action, "ANON" if re.fullmatch("[0-9a-f]{64}", actor) else actor, attrs))
    runs: list[list[tuple[str, str, str, dict[str, str]]]] = []
    for row in rows:
        if runs and row[0] == "volume" and runs[-1][-1][:2] == row[:2]:
            runs[-1].append(row)
        else:
            runs.append([row])
    return [row for run in runs for row in sorted(run, key=lambda r: r[2])]


def test_init_runs_docker_init_as_pid_1(docker: Any) -> None:
    """``--init`` (it was recorded and ignored): the daemon's docker-init at /sbin/docker-init
    as PID 1, running the command; a stop reaches the command through it, as under dockerd."""
    docker("run", "-d", "--name", "fid-init", "--network", "none", "--init", "busybox", "sleep", "1000")
    done = docker("exec", "fid-init", "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline")
    assert done.stdout == "/sbin/docker-init -- sleep 1000 "
    assert docker("diff", "fid-init").stdout == "C /sbin\nA /sbin/docker-init\n"
    docker("stop", "-t", "5", "fid-init")
    assert docker("inspect", "-f", "{{.State.ExitCode}}", "fid-init").stdout == "143\n"


def test_devices_and_logging_drivers(docker: Any) -> None:
    """``--device`` reaches the container (it was ignored); ``--log-driver none`` has no
    ``docker logs`` and an unknown driver or log option is refused, in dockerd's words."""
    done = docker("run", "--rm", "--network", "none", "--device", "/dev/null:/dev/fid-null", "busybox",
                  "sh", "-c", "ls -l /dev/fid-null | cut -c1; echo x > /dev/fid-null && echo wrote")
    assert done.stdout == "c\nwrote\n"
    done = docker("run", "--rm", "--network", "none", "--device", "/dev/fid-nope", "busybox", "true")
    assert ('error gathering device information while adding custom device "/dev/fid-nope": no such file '
            "or directory") in done.stderr and done.returncode == 127  # the CLI's code for "no such file"
    done = docker("run", "--name", "fid-nolog", "--network", "none", "--log-driver", "none", "busybox", "echo", "hi")
    assert done.stdout == "hi\n"
    done = docker("logs", "fid-nolog")
    assert done.stderr == "Error response from daemon: configured logging driver does not support reading\n"
    for args, message in (
            (["--log-driver", "fid-bogus"], 'error looking up logging plugin fid-bogus: plugin "fid-bogus" not found'),
            (["--log-opt", "bogus=1"], "unknown log opt 'bogus' for json-file log driver"),
            (["--group-add", "fid-nogroup"], "Unable to find group fid-nogroup: no matching entries in group file")):
        done = docker("run", "--rm", "--network", "none", *args, "busybox", "true")
        assert f"docker: Error response from daemon: {message}\n" in done.stderr, args
    done = docker("create", "--network", "none", "--oom-kill-disable", "busybox", "true")
    assert done.stderr == ("WARNING: OOM killer is disabled for the container, but no memory limit is set, "
                           "this can result in the system running out of resources.\n")


def test_a_port_without_host_ip_is_published_on_ipv6_too(docker: Any) -> None:
    """``-p PORT`` binds ``[::]`` beside ``0.0.0.0`` on the same port, as dockerd (where this
    host has IPv6); ``-p 0.0.0.0::PORT`` stays IPv4 only."""
    docker("run", "-d", "--name", "fid-v6", "-p", "80", "-p", "0.0.0.0::81", "busybox", "sleep", "1000")
    lines = docker("port", "fid-v6").stdout.splitlines()
    port = lines[0].rsplit(":", 1)[1]
    twin = [f"80/tcp -> [::]:{port}"] if ipv6_listen() else []
    assert [line.rsplit(":", 1)[0] for line in lines[:1]] == ["80/tcp -> 0.0.0.0"]
    assert lines[1:] == [*twin, *[line for line in lines[1:] if line.startswith("81/tcp -> 0.0.0.0:")]]


def test_unreadable_detach_keys_are_refused(docker: Any) -> None:
    """As dockerd: an exec's create and an attach refuse detach keys they cannot read (both
    were accepted, the keys then ignored)."""
    docker("run", "-d", "--name", "fid-keys", "--network", "none", "busybox", "sleep", "1000")
    done = docker("exec", "--detach-keys", "bogus", "fid-keys", "true")
    assert (done.returncode, done.stderr) == (1, "Error response from daemon: Invalid escape keys (bogus) provided\n")
    assert docker("exec", "--detach-keys", "ctrl-x,a", "fid-keys", "true").returncode == 0
    done = docker("attach", "--detach-keys", "bogus-key", "fid-keys")
    assert done.returncode == 1 and "received 400" in done.stderr


def _limit(limits: str, what: str) -> list[str]:
    """Soft and hard of one row of a /proc/<pid>/limits text."""
    row = next(line for line in limits.splitlines() if line.startswith(what))
    return row[len(what):].split()[:2]


def test_ulimits_reach_the_container_and_its_execs(docker: Any, client: Any, dockyard_daemon: Any) -> None:
    """``--ulimit`` (it was recorded, not applied): the init sets them before its command, and
    every exec gets them too, whatever its user (runc's rule); without one a container has the
    daemon's own limits, as dockerd's with no ``--default-ulimit``."""
    docker("run", "-d", "--name", "fid-ulimit", "--network", "none", "--ulimit", "nofile=20:30",
           "--ulimit", "core=-1", "--ulimit", "nproc=50", "busybox", "sleep", "1000")
    done = docker("exec", "fid-ulimit", "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u; cat /proc/1/limits")
    first, hard, nproc, limits = done.stdout.split("\n", 3)
    assert (first, hard, nproc) == ("20", "30", "50"), done.stderr
    assert _limit(limits, "Max core file size") == ["unlimited", "unlimited"]
    assert _limit(limits, "Max open files") == ["20", "30"]
    done = docker("exec", "-u", "1000", "fid-ulimit", "sh", "-c", "ulimit -n; ulimit -u")
    assert done.stdout == "20\n50\n"
    own = _limit(Path(f"/proc/{dockyard_daemon.pid}/limits").read_text(), "Max open files")
    done = docker("run", "--rm", "--network", "none", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn")
    assert done.stdout.split() == own


@pytest.mark.parametrize(("ulimit", "error"), [
    # the docker CLI refuses soft > hard itself; the Engine API takes it, and runc refuses it
    ({"Name": "nofile", "Soft": 20, "Hard": 10}, (
        "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container "
        "process: error during container init: error setting rlimits for ready process: error setting rlimit "
        "type 7: invalid argument: unknown")),
    ({"Name": "foo", "Soft": 20, "Hard": 30},
     "failed to create shim task: OCI runtime create failed: runc create failed: wrong rlimit value: RLIMIT_FOO: unknown"),
])
def test_a_ulimit_the_kernel_refuses_fails_the_start(client: Any, ulimit: dict[str, Any], error: str) -> None:
    """What dockerd answered through the Engine API: the create is taken, the start is a 500 in
    runc's words and the container stays created with ExitCode 128 and that error."""
    import docker.errors
    container = client.api.create_container(
        "busybox", ["true"], host_config={"NetworkMode": "none", "Ulimits": [ulimit]})["Id"]
    with pytest.raises(docker.errors.APIError) as info:
        client.api.start(container)
    assert (info.value.status_code, info.value.explanation) == (500, error)
    state = client.api.inspect_container(container)["State"]
    assert (state["Status"], state["ExitCode"], state["Error"]) == ("created", 128, error)


def test_domainname_is_the_uts_namespaces(docker: Any) -> None:
    """``--domainname`` sets the kernel's NIS domain name in the container (it only reached
    /etc/hosts: /proc/sys/kernel/domainname said ``(none)``), which an exec shares; without one
    the container keeps the host's, as under runc."""
    docker("run", "-d", "--name", "fid-domain", "--network", "none", "-h", "box", "--domainname", "ex.org",
           "busybox", "sleep", "1000")
    done = docker("exec", "fid-domain", "sh", "-c", "cat /proc/sys/kernel/domainname; hostname")
    assert done.stdout == "ex.org\nbox\n"
    with open("/proc/sys/kernel/domainname", encoding="ascii") as f:
        host = f.read()
    assert docker("run", "--rm", "--network", "none", "busybox", "cat", "/proc/sys/kernel/domainname").stdout == host


def _cpuset_root(client: Any) -> tuple[str, str]:
    """The CPUs and memory nodes dockerd offers: its cgroup root's."""
    v1 = client.info()["CgroupVersion"] == "1"
    cpus, mems = (Path(f"/sys/fs/cgroup/cpuset/cpuset.{n}" if v1 else f"/sys/fs/cgroup/cpuset.{n}.effective")
                  .read_text().strip() for n in ("cpus", "mems"))
    return cpus, mems


def test_cpuset_is_applied_checked_and_updated(docker: Any, client: Any) -> None:
    """``--cpuset-cpus``/``--cpuset-mems`` confine the container (they were recorded only), are
    refused in dockerd's words when the host lacks them, and ``docker update`` moves a running
    container (every process of it) to other CPUs."""
    cpus, mems = _cpuset_root(client)
    last = str(max(os.sched_getaffinity(0)))
    script = "cat /sys/fs/cgroup/cpuset/cpuset.cpus; grep Cpus_allowed_list /proc/self/status"
    done = docker("run", "--rm", "--network", "none", "--cpuset-cpus", last, "--cpuset-mems", "0", "busybox",
                  "sh", "-c", script)
    assert done.stdout == f"{last}\nCpus_allowed_list:\t{last}\n", done.stderr
    many = str(len(os.sched_getaffinity(0)) + 8)
    for args, message in (
            (["--cpuset-cpus", many], f"Requested CPUs are not available - requested {many}, available: {cpus}"),
            (["--cpuset-cpus", "1-x"], "Invalid value 1-x for cpuset cpus: invalid format: 1-x"),
            (["--cpuset-mems", "99"], f"Requested memory nodes are not available - requested 99, available: {mems}")):
        done = docker("create", "--network", "none", *args, "busybox", "true")
        assert (done.returncode, done.stderr) == (1, f"Error response from daemon: {message}\n"), args
    docker("run", "-d", "--name", "fid-cpuset", "--network", "none", "busybox", "sh", "-c", "sleep 1000 & wait")
    done = docker("update", "--cpuset-cpus", last, "fid-cpuset")
    assert (done.returncode, done.stderr) == (0, "")
    done = docker("exec", "fid-cpuset", "sh", "-c", "grep -h Cpus_allowed_list /proc/[0-9]*/status | sort -u")
    assert done.stdout == f"Cpus_allowed_list:\t{last}\n"
    assert docker("inspect", "-f", "{{.HostConfig.CpusetCpus}}", "fid-cpuset").stdout == f"{last}\n"
    done = docker("update", "--cpuset-cpus", many, "fid-cpuset")
    assert done.stderr == f"Error response from daemon: Requested CPUs are not available - requested {many}, available: {cpus}\n"


def test_memory_swap_reaches_the_cgroup_and_moves_with_update(docker: Any, client: Any) -> None:
    """``--memory-swap`` is the cgroup's memory+swap bound (it was always twice ``--memory``),
    -1 lifting it; ``docker update --memory-swap`` moves it, and a bound below the memory
    limit is the kernel's refusal in the words dockerd relays from runc (a 500, record kept).
    An update to -1 is recorded, the bound in place kept: dockerd hands runc no bound then."""
    v1 = client.info()["CgroupVersion"] == "1"
    path = "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes" if v1 else "/sys/fs/cgroup/memory.swap.max"
    if v1 and not os.path.exists(path):
        return  # no swap accounting: dockerd drops the bound too
    unlimited = Path(path).read_text() if v1 else "max\n"  # the root's: no bound
    cid = docker("run", "-d", "--name", "fid-swap", "--network", "none", "-m", "20m", "--memory-swap", "30m",
                 "busybox", "sleep", "1000").stdout.strip()
    assert docker("exec", "fid-swap", "cat", path).stdout == f"{(30 if v1 else 10) << 20}\n"
    assert docker("update", "--memory-swap", "50m", "fid-swap").returncode == 0
    assert docker("exec", "fid-swap", "cat", path).stdout == f"{(50 if v1 else 30) << 20}\n"
    if v1:
        done = docker("update", "--memory-swap", "10m", "fid-swap")
        assert re.fullmatch(f'Error response from daemon: Cannot update container {cid}: runc did not terminate '
                            'successfully: exit status 1: failed to write "10485760": write /sys/fs/cgroup/memory/'
                            f'.*/{cid}/memory.memsw.limit_in_bytes: invalid argument\n: unknown\n', done.stderr)
        assert docker("inspect", "-f", "{{.HostConfig.MemorySwap}}", "fid-swap").stdout == f"{50 << 20}\n"
    assert docker("update", "--memory-swap", "-1", "fid-swap").returncode == 0
    assert docker("exec", "fid-swap", "cat", path).stdout == f"{(50 if v1 else 30) << 20}\n"
    assert docker("inspect", "-f", "{{.HostConfig.MemorySwap}}", "fid-swap").stdout == "-1\n"
    done = docker("run", "--rm", "--network", "none", "-m", "20m", "--memory-swap", "-1", "busybox", "cat", path)
    assert done.stdout == unlimited
