"""``docker cp`` of /etc/hostname, /etc/hosts and /etc/resolv.conf, side by side with a private
real dockerd 20.10: for an archive request of a stopped container dockerd mounts the files its
last start wrote (a ``container:`` joiner's are its donor's) as a start does, so a copy out gives
them rather than the image's empty placeholders, and a copy in — stopped or running — cannot
unlink a mountpoint (``unlinkat …: device or resource busy``, 500); before a first start there
is nothing mounted and the placeholders are what is copied."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

FILES = ("hostname", "hosts", "resolv.conf")


def _copied_out(cli: Any, container: str, path: str) -> tuple[int, str, list[tuple[str, int, int, bytes]]]:
    """``docker cp CONTAINER:PATH -``: exit code, stderr and the tar's (name, permission bits,
    size, content); dockerd's headers carry the file type in the mode too (Go's c_ISREG)."""
    done = cli("cp", f"{container}:{path}", "-", text=False)
    if done.returncode:
        return done.returncode, done.stderr.decode(), []
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        members = [(m.name, m.mode & 0o7777, m.size, tar.extractfile(m).read() if m.isfile() else b"")  # type: ignore[union-attr]
                   for m in tar.getmembers()]
    return 0, "", members


def _removed(cli: Any, *names: str) -> None:
    cli("rm", "-f", *names)


def test_a_stopped_containers_network_files_are_its_last_starts(both: dict[str, Any],
                                                                 tmp_path: Path) -> None:
    """…and a never started one's are the placeholders, which a copy in replaces."""
    (tmp_path / "hostname").write_text("given\n")
    seen = {}
    for name, (cli, _client) in both.items():
        try:
            done = cli("run", "--name", "netfiles", "--network", "none", "--hostname", "hh",
                       "--dns", "192.0.2.53", "--add-host", "peer:192.0.2.7", "busybox", "true")
            assert done.returncode == 0, done.stderr
            assert cli("create", "--name", "netnever", "--network", "none", "busybox",
                       "true").returncode == 0
            never = [_copied_out(cli, "netnever", f"/etc/{f}")[2][0][1:3] for f in FILES]
            copied = cli("cp", str(tmp_path / "hostname"), "netnever:/etc/hostname")
            seen[name] = ([_copied_out(cli, "netfiles", f"/etc/{f}") for f in FILES],
                          never, copied.returncode, _copied_out(cli, "netnever", "/etc/hostname")[2])
        finally:
            _removed(cli, "netfiles", "netnever")
    assert seen["dockyard"] == seen["dockerd"]
    hostname, hosts, resolv = (out[2][0] for out in seen["dockerd"][0])
    assert hostname == ("hostname", 0o644, 3, b"hh\n")
    assert b"192.0.2.7\tpeer\n" in hosts[3] and resolv[3] == b"nameserver 192.0.2.53\n"
    assert seen["dockerd"][1:] == ([(0o755, 0)] * 3, 0, [("hostname", 0o644, 6, b"given\n")])


def test_a_joiners_network_files_are_its_donors(both: dict[str, Any]) -> None:
    seen = {}
    for name, (cli, _client) in both.items():
        try:
            assert cli("run", "-d", "--name", "netdonor", "--network", "none", "--hostname", "dh",
                       "busybox", "sleep", "60").returncode == 0
            done = cli("run", "--name", "netjoiner", "--network", "container:netdonor", "busybox", "true")
            assert done.returncode == 0, done.stderr
            while_there = _copied_out(cli, "netjoiner", "/etc/hostname")
            _removed(cli, "netdonor")
            seen[name] = (while_there, _copied_out(cli, "netjoiner", "/etc/hostname")[2][0][1:3])
        finally:
            _removed(cli, "netjoiner", "netdonor")
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"] == ((0, "", [("hostname", 0o644, 3, b"dh\n")]), (0o755, 0))


def _etc_paths(client: Any, container: str) -> tuple[str, ...]:
    found = client.api.inspect_container(container)
    return (*(found[k] for k in ("HostsPath", "HostnamePath", "ResolvConfPath")),
            found["Config"]["Hostname"], found["Config"]["Domainname"])


def test_a_joiners_inspect_names_its_donors_files(both: dict[str, Any]) -> None:
    """dockerd 20.10 names a ``container:x`` joiner's HostsPath, HostnamePath and
    ResolvConfPath from its start on as x's, and takes x's Hostname and Domainname into its
    Config (``initializeNetworking``), all kept once it has stopped and x has gone; a joiner
    never started names none ("") and a copy out of it gives the image's placeholder."""
    seen = {}
    for name, (cli, client) in both.items():
        try:
            assert cli("run", "-d", "--name", "netdonor", "--network", "none", "--hostname", "dh",
                       "--domainname", "example.test", "busybox", "sleep", "60").returncode == 0
            assert cli("create", "--name", "netcreated", "--network", "container:netdonor",
                       "busybox", "true").returncode == 0
            done = cli("run", "-d", "--name", "netjoined", "--network", "container:netdonor",
                       "busybox", "sleep", "60")
            assert done.returncode == 0, done.stderr
            donor, created = _etc_paths(client, "netdonor"), _etc_paths(client, "netcreated")
            joined = _etc_paths(client, "netjoined")
            placeholder = _copied_out(cli, "netcreated", "/etc/hostname")[2][0][1:3]
            cli("rm", "-f", "netdonor")
            assert cli("kill", "netjoined").returncode == 0
            client.api.wait("netjoined")
            seen[name] = (created[:3], created[3] == client.api.inspect_container("netcreated")[
                "Id"][:12], created[4], placeholder,
                joined == donor, _etc_paths(client, "netjoined") == donor, donor[3:],
                [Path(p).name for p in donor[:3]])
        finally:
            _removed(cli, "netjoined", "netcreated", "netdonor")
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"] == (("", "", ""), True, "", (0o755, 0), True, True,
                               ("dh", "example.test"), ["hosts", "hostname", "resolv.conf"])


def test_a_joiner_of_a_joiner_shares_the_first_ones_namespace_and_files(both: dict[str, Any]) -> None:
    """dockerd 20.10 starts ``--network container:y`` where y itself joined x: the same
    network namespace, x's /etc files and hostname; with y stopped, the start is refused."""
    seen = {}
    for name, (cli, client) in both.items():
        try:
            assert cli("run", "-d", "--name", "netroot", "--hostname", "rooth", "busybox",
                       "sleep", "60").returncode == 0
            assert cli("run", "-d", "--name", "netmid", "--network", "container:netroot",
                       "busybox", "sleep", "60").returncode == 0
            done = cli("run", "-d", "--name", "netleaf", "--network", "container:netmid",
                       "busybox", "sleep", "60")
            assert done.returncode == 0, done.stderr
            links = [cli("exec", c, "readlink", "/proc/self/ns/net").stdout for c in ("netroot", "netleaf")]
            hostname = cli("exec", "netleaf", "cat", "/etc/hostname").stdout
            same_files = _etc_paths(client, "netleaf") == _etc_paths(client, "netroot")
            assert cli("rm", "-f", "netleaf").returncode == 0
            assert cli("stop", "-t", "0", "netmid").returncode == 0
            refused = cli("run", "-d", "--name", "netleaf", "--network", "container:netmid",
                          "busybox", "true")
            mid = client.api.inspect_container("netmid")["Id"]
            seen[name] = (links[0] == links[1], hostname, same_files, refused.returncode,
                          refused.stderr.replace(mid, "<mid>").splitlines()[:1])
        finally:
            _removed(cli, "netleaf", "netmid", "netroot")
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][:4] == (True, "rooth\n", True, 125)


def test_a_copy_into_a_mounted_file_is_refused(both: dict[str, Any], tmp_path: Path) -> None:
    """The network files of a stopped and of a running container, and a user's file bind."""
    (tmp_path / "new").write_text("new\n")
    (tmp_path / "bound").write_text("bound\n")
    seen = {}
    for name, (cli, _client) in both.items():
        try:
            assert cli("run", "--name", "netstopped", "--network", "none", "busybox",
                       "true").returncode == 0
            assert cli("run", "-d", "--name", "netrunning", "--network", "none", "-v",
                       f"{tmp_path / 'bound'}:/etc/bound", "busybox", "sleep", "60").returncode == 0
            tried = [cli("cp", str(tmp_path / "new"), f"{c}:{p}") for c in ("netstopped", "netrunning")
                     for p in [*(f"/etc/{f}" for f in FILES)] + ["/etc/bound"] * (c == "netrunning")]
            after = cli("exec", "netrunning", "sh", "-c", "cat /etc/hostname /etc/bound; "
                        "grep -c ' /etc/h' /proc/mounts")
            seen[name] = ([(t.returncode, t.stderr) for t in tried],
                          _copied_out(cli, "netstopped", "/etc/hostname")[2][0][1:3],
                          after.stdout.split("\n")[1:])
        finally:
            _removed(cli, "netstopped", "netrunning")
    assert seen["dockyard"] == seen["dockerd"]
    busy = ("Error response from daemon: Error processing tar file(exit status 1): "
            "unlinkat /etc/hostname: device or resource busy\n")
    assert seen["dockerd"][0][0] == (1, busy)
    assert (tmp_path / "bound").read_text() == "bound\n"


def test_a_stopped_containers_mount_source_gone(both: dict[str, Any], tmp_path: Path) -> None:
    """dockerd mounts the volumes for an archive request too: a ``--mount`` source removed
    since the create fails it as a path not found (404), whatever the path."""
    seen = {}
    for name, (cli, _client) in both.items():
        source = tmp_path / name
        source.mkdir()
        try:
            assert cli("create", "--name", "netbindgone", "--network", "none", "--mount",
                       f"type=bind,source={source},target=/m", "busybox", "true").returncode == 0
            source.rmdir()
            seen[name] = _copied_out(cli, "netbindgone", "/etc/passwd")
        finally:
            _removed(cli, "netbindgone")
    assert seen["dockyard"] == seen["dockerd"]
    missing = "Error response from daemon: Could not find the file /etc/passwd in container netbindgone\n"
    assert seen["dockerd"] == (1, missing, [])
