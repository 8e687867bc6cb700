"""``dockyard daemon --userns-remap=default`` end to end, through the real docker CLI: every
container's root is dockremap's first subordinate id (made, with its range, if missing — as
dockerd does), a file a container makes is owned by the shifted id on disk and shows with the
container's ids in ``docker diff``/``export``/``cp`` and in a commit's layer; ``--userns=host``
opts out; create refuses what dockerd 20.10 refuses (its words recorded from a private
dockerd 20.10 started with ``--userns-remap=default``); a build's RUN is remapped too. The store
alone: test_userns_remap_store.py."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.linux.remap import DEFAULT_USER, RemappedRoot, resolve
from dockyard.testing import nsjoin
from dockyard.testing.daemon import DaemonProcess, DockerCLI, remapped_daemon
from dockyard.testing.httpwait import get_when_up


class Remapped:
    def __init__(self, daemon: DaemonProcess, root: RemappedRoot) -> None:
        self.daemon, self.root = daemon, root
        self.docker = DockerCLI(daemon.host)
        self.engine_root = daemon.root / root.dir_name

    def ok(self, *args: str, **kw: object) -> str:
        done = self.docker(*args, **kw)
        assert done.returncode == 0, done.stderr
        return str(done.stdout)


@pytest.fixture(scope="module")
def remapped(busybox_archive: Path) -> Iterator[Remapped]:
    if os.geteuid() != 0:
        pytest.skip("--userns-remap is a root daemon's")
    with remapped_daemon() as daemon:
        root = resolve("default")  # dockremap exists now: the daemon made it if it was missing
        assert root is not None and root.user == DEFAULT_USER
        yield Remapped(daemon.load(busybox_archive), root)


def test_info_and_the_data_root(remapped: Remapped) -> None:
    info = json.loads(remapped.ok("info", "--format", "{{json .}}"))
    assert "name=userns" in info["SecurityOptions"]
    assert info["DockerRootDir"] == str(remapped.engine_root)
    for directory in (remapped.daemon.root, remapped.engine_root):  # dockerd 20.10's: 0710 root:gid
        st = os.stat(directory)
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o710, 0, remapped.root.gid)


def test_root_in_the_container_is_the_first_subordinate_id(remapped: Remapped) -> None:
    out = remapped.ok("run", "--rm", "busybox", "sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map")
    lines = [line.split() for line in out.splitlines()]
    assert lines[0] == ["0"]
    assert lines[1] == ["0", str(remapped.root.uid), "65536"]
    assert lines[2] == ["0", str(remapped.root.gid), "65536"]
    host = remapped.ok("run", "--rm", "--userns", "host", "busybox", "sh", "-c",
                       "cat /proc/self/uid_map; stat -c %u:%g /bin/busybox /etc/hosts").split()
    shifted = f"{remapped.root.uid}:{remapped.root.gid}"
    assert host == ["0", "0", "4294967295", shifted, shifted]  # the store's owners, as dockerd


def test_the_etc_files_are_the_remapped_roots(remapped: Remapped) -> None:
    """dockerd 20.10's: /etc/hosts, resolv.conf and hostname show as root's, and root may write
    them (they were the host's root's here once: 65534 inside, and "Permission denied")."""
    for network in ("default", "none"):
        out = remapped.ok("run", "--rm", "--network", network, "busybox", "sh", "-c",
                          "stat -c %u:%g /etc/hosts /etc/resolv.conf /etc/hostname && "
                          "echo '# x' >> /etc/hosts && echo '# x' >> /etc/resolv.conf && echo written")
        assert out.split() == ["0:0", "0:0", "0:0", "written"], network


def _names(data: bytes) -> dict[str, tuple[int, int]]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name.rstrip("/"): (m.uid, m.gid) for m in tar}


def test_a_containers_files_on_disk_and_read_back(remapped: Remapped, tmp_path: Path) -> None:
    uid, gid = remapped.root.uid, remapped.root.gid
    name = "dytest-remap-files"
    remapped.ok("run", "--name", name, "busybox", "sh", "-c",
                "echo hi > /made && touch /app && chown 1000:100 /app")
    cid = remapped.ok("inspect", "-f", "{{.Id}}", name).strip()
    upper = remapped.engine_root / "containers" / cid / "upper"
    assert (os.lstat(upper / "made").st_uid, os.lstat(upper / "made").st_gid) == (uid, gid)
    assert (os.lstat(upper / "app").st_uid, os.lstat(upper / "app").st_gid) == (uid + 1000, gid + 100)

    assert {"A /made", "A /app"} <= set(remapped.ok("diff", name).splitlines())
    exported = _names(remapped.docker("export", name, text=False).stdout)
    assert exported["made"] == (0, 0) and exported["app"] == (1000, 100) and exported["bin/busybox"] == (0, 0)
    assert _names(remapped.docker("cp", f"{name}:/app", "-", text=False).stdout) == {"app": (1000, 100)}

    local = tmp_path / "in.txt"
    local.write_text("x")
    remapped.ok("cp", str(local), f"{name}:/in.txt")  # the CLI sends the local owner, 0
    assert os.lstat(upper / "in.txt").st_uid == uid

    remapped.ok("commit", name, "dytest-remap-commit:1")
    saved = remapped.docker("save", "dytest-remap-commit:1", text=False).stdout
    with tarfile.open(fileobj=io.BytesIO(saved)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        top = tar.extractfile(manifest[0]["Layers"][-1]).read()  # type: ignore[union-attr]
    layer = _names(top)
    assert layer["made"] == (0, 0) and layer["app"] == (1000, 100) and layer["in.txt"] == (0, 0)


def test_a_containers_network_namespace_is_its_user_namespaces(remapped: Remapped) -> None:
    """As under dockerd 20.10 with the remap, whose runc makes the network namespace inside
    the user namespace: root has its network capabilities there — busybox ping (a raw socket)
    reaches the gateway, an added NET_ADMIN sets lo's MTU (on a bridge and on none), without it
    the ioctl is refused as there — while the daemon still wires it: an address, a published
    port, a network connected while it runs; a container on its network shares its user
    namespace, as dockerd's."""
    script = ("gw=$(ip route | awk '/default/{print $3}'); ping -c1 -W2 $gw >/dev/null && "
              "echo ping-ok; ip link set lo mtu 1000 && echo mtu-ok; "
              "cat /proc/sys/net/ipv4/ip_unprivileged_port_start")
    out = remapped.ok("run", "--rm", "--cap-add", "NET_ADMIN", "busybox", "sh", "-c", script)
    assert out.split() == ["ping-ok", "mtu-ok", "0"]
    out = remapped.ok("run", "--rm", "--cap-add", "NET_ADMIN", "--network", "none", "busybox",
                      "sh", "-c", "ip link set lo mtu 1000 && ip -o link show lo")
    assert "mtu 1000" in out
    refused = remapped.docker("run", "--rm", "busybox", "ip", "link", "set", "lo", "mtu", "1000")
    assert refused.returncode != 0 and "SIOCSIFMTU: Operation not permitted" in refused.stderr

    name = "dytest-remap-web"
    remapped.ok("network", "create", "dytest-remap-net")
    try:
        remapped.ok("run", "-d", "--name", name, "-p", "127.0.0.1::80", "busybox", "sh", "-c",
                    "mkdir -p /www && echo served > /www/index.html && httpd -f -p 80 -h /www")
        port = remapped.ok("port", name, "80").split(":")[-1].strip()
        assert get_when_up(f"http://127.0.0.1:{port}/") == b"served\n"
        remapped.ok("network", "connect", "dytest-remap-net", name)
        assert "eth1" in remapped.ok("exec", name, "ip", "-o", "link")
        joiner = ("readlink /proc/self/ns/user; ping -c1 -W2 127.0.0.1 >/dev/null && echo ping-ok; "
                  "wget -qO- http://127.0.0.1/")
        out = remapped.ok("run", "--rm", "--network", f"container:{name}", "busybox", "sh", "-c", joiner)
        assert out.split() == [remapped.ok("exec", name, "readlink", "/proc/self/ns/user").strip(),
                               "ping-ok", "served"]  # dockerd's: the joiner shares its user namespace
        remapped.ok("restart", "-t", "0", name)  # its pin made again, by its next clone
        port = remapped.ok("port", name, "80").split(":")[-1].strip()
        assert get_when_up(f"http://127.0.0.1:{port}/") == b"served\n"
    finally:
        remapped.docker("rm", "-f", name)
        remapped.docker("network", "rm", "dytest-remap-net")


def test_dev_mqueue_is_as_under_dockerd(remapped: Remapped) -> None:
    """dockerd 20.10's /dev/mqueue under the remap is ``0:65534``: runc makes the IPC namespace
    (whose mqueue root takes its maker's fsuid and fsgid) between root's uid and gid."""
    out = remapped.ok("run", "--rm", "busybox", "stat", "-c", "%u:%g %a", "/dev/mqueue")
    assert out.split() == ["0:65534", "1777"]


REFUSALS = [
    (["--privileged"], ("privileged mode is incompatible with user namespaces.  You must run the "
                       "container in the host namespace when running privileged mode")),
    (["--network", "host"], "cannot share the host's network namespace when user namespaces are enabled"),
    (["--pid", "host"], "cannot share the host PID namespace when user namespaces are enabled"),
]


@pytest.mark.parametrize(("flags", "said"), REFUSALS, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_create_refusals_and_the_opt_out(remapped: Remapped, flags: list[str], said: str) -> None:
    refused = remapped.docker("create", *flags, "busybox", "true")
    assert refused.returncode != 0 and f"Error response from daemon: {said}" in refused.stderr
    cid = remapped.ok("create", "--userns", "host", *flags, "busybox", "true").strip()
    remapped.ok("rm", cid)


def test_a_builds_run_is_remapped(remapped: Remapped, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nRUN cat /proc/self/uid_map > /map && mkdir /rd && chown 1000 /rd && echo >> /etc/hosts\n"
        "COPY --chown=7:8 Dockerfile /owned\nWORKDIR /wd\n")
    remapped.ok("build", "-q", "-t", "dytest-remap-build:1", str(tmp_path))  # classic: no buildx
    out = remapped.ok("run", "--rm", "dytest-remap-build:1", "sh", "-c",
                      "cat /map; stat -c %u:%g /rd /owned /wd").split()
    assert out == ["0", str(remapped.root.uid), "65536", "1000:0", "7:8", "0:0"]


def test_ipc_host_fails_every_start(remapped: Remapped) -> None:
    """dockerd 20.10's ``--ipc host`` under the remap is taken at create and fails every start:
    runc may not mount the host's mqueue from inside the user namespace (a 500, exit code 128,
    the container stays created; ``--userns host`` opts out)."""
    said = ('failed to create shim task: OCI runtime create failed: runc create failed: unable to '
            'start container process: error during container init: error mounting "mqueue" to '
            'rootfs at "/dev/mqueue": mount mqueue:/dev/mqueue (via /proc/self/fd/10), flags: '
            "0xe: operation not permitted: unknown")
    cid = remapped.ok("create", "--ipc", "host", "busybox", "true").strip()
    try:
        refused = remapped.docker("start", cid)
        assert refused.returncode != 0 and f"Error response from daemon: {said}" in refused.stderr
        state = json.loads(remapped.ok("inspect", "-f", "{{json .State}}", cid))
        assert (state["Status"], state["ExitCode"], state["Error"]) == ("created", 128, said)
    finally:
        remapped.ok("rm", cid)
    assert remapped.ok("run", "--rm", "--ipc", "host", "--userns", "host", "busybox",
                       "echo", "ran").strip() == "ran"


def test_namespace_modes_under_the_remap(remapped: Remapped) -> None:
    """``--uts host`` and ``--ipc shareable`` run remapped (the shareable /dev/shm is the tmpfs
    the daemon mounts, its root's as under dockerd 20.10: ``0:0`` inside); joining another
    container's PID or IPC namespace runs with ``--userns host`` on both sides."""
    assert remapped.ok("run", "--rm", "--uts", "host", "busybox", "hostname").strip() == socket.gethostname()
    size = remapped.ok("run", "--rm", "--ipc", "shareable", "--shm-size", "1m", "busybox",
                       "sh", "-c", "stat -c %u:%g /dev/shm; df -k /dev/shm")
    assert size.split("\n")[0] == "0:0" and size.split("\n")[2].split()[1] == "1024"
    plain = remapped.ok("run", "-d", "--userns", "host", "--ipc", "shareable", "busybox", "sleep", "60").strip()
    try:
        for flag in ("--pid", "--ipc"):
            joined = remapped.ok("run", "--rm", "--userns", "host", flag, f"container:{plain}", "busybox",
                                 "readlink", f"/proc/self/ns/{flag[2:]}")
            mine = remapped.ok("exec", plain, "readlink", f"/proc/self/ns/{flag[2:]}")
            assert joined == mine
    finally:
        remapped.ok("rm", "-f", plain)


def test_joining_pid_and_ipc_shares_the_user_namespace(remapped: Remapped, syscall_probe: Path) -> None:
    """dockerd 20.10 under the remap has runc join x's user namespace for ``--pid`` and
    ``--ipc container:x`` ("to share a PID namespace, they must also share a user
    namespace"): the joiner sees x's processes, its SysV shared memory and its /dev/shm (the
    daemon's tmpfs, its root's: ``0:0`` inside), has its id map and a network namespace of its
    own, an exec into it works, and both go away with nothing left mounted — each as under a
    private dockerd 20.10 with ``--userns-remap default``."""
    donor, joiner = "dytest-remap-donor", "dytest-remap-joiner"
    probe = ("-v", f"{syscall_probe}:/probe:ro")
    try:
        nsjoin.start_pair(remapped.ok, donor, joiner, probe)
        nsjoin.check_joined(remapped.ok, donor, joiner, probe)
        nets = [nsjoin.namespaces(remapped.ok, name, "net") for name in (joiner, donor)]
        assert nets[0] != nets[1]  # its own, inside the donor's user namespace
        out = remapped.ok("exec", joiner, "sh", "-c", "stat -c %u:%g /dev/shm; cat /proc/self/uid_map; id -u")
        assert out.split() == ["0:0", "0", str(remapped.root.uid), "65536", "0"]
        one = remapped.ok("run", "--rm", "--pid", f"container:{donor}", "busybox", "ps", "-o", "args")
        assert "sleep 300" in one and "sleep 301" in one
        ids = [remapped.ok("inspect", "-f", "{{.Id}}", name).strip() for name in (joiner, donor)]
        for name in (joiner, donor):
            remapped.ok("rm", "-f", name)
    finally:
        remapped.docker("rm", "-f", joiner, donor)
    with open("/proc/self/mountinfo") as mountinfo:  # the donor's /dev/shm, the root file systems
        left = [line for line in mountinfo if any(cid in line for cid in ids)]
    assert left == []


def test_joining_a_donor_of_the_hosts_user_namespace_is_refused(remapped: Remapped) -> None:
    """A remapped container cannot share the namespaces of a ``--userns host`` one (dockerd
    20.10 has runc try to join that one's user namespace, the daemon's own: "can't get final
    child's PID from pipe: EOF"); refused at the start, naming why — a network joiner started
    before, without its capabilities there."""
    plain = remapped.ok("run", "-d", "--userns", "host", "--ipc", "shareable", "busybox", "sleep", "60").strip()
    try:
        for flag, kind in (("--pid", "PID"), ("--ipc", "IPC"), ("--network", "network")):
            refused = remapped.docker("run", "--rm", flag, f"container:{plain}", "busybox", "true")
            assert refused.returncode == 125 and \
                f"cannot join the {kind} namespace of container {plain}: it runs in the " \
                "daemon's user namespace (--userns host)" in refused.stderr
        refused = remapped.docker("run", "--name", "dytest-netjoin", "--network", f"container:{plain}",
                                  "busybox", "true")
        state = json.loads(remapped.ok("inspect", "dytest-netjoin"))[0]["State"]
        assert (state["Status"], state["ExitCode"]) == ("created", 128)  # dockerd's, and its 500
        assert state["Error"] in refused.stderr
        remapped.ok("rm", "dytest-netjoin")
    finally:
        remapped.ok("rm", "-f", plain)
