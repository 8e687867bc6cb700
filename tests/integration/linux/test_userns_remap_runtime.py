"""A root launcher's containers in a remapped user namespace (``dockerd --userns-remap``'s
runtime half): ids 0..65535 inside are 100000.. on the host, the image's files are owned by
the shifted ids (as a remapping daemon's layer store keeps them), and everything a container
has — its network, limits, users, exec, clean-up — works as for any other container.
(``runtime`` and ``run`` are the conftest's; ``make_spec``, which ``run`` uses, is remapped here.)"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from containerprobe import Result, collect

from dockyard.containers.runtime import Container, Runtime
from dockyard.containers.spec import ContainerSpec, Mount, User
from dockyard.errors import InvalidArgument
from dockyard.linux import cgroups, idmap, syscalls
from dockyard.linux.enter import ExecSpec
from dockyard.linux.launcher import StartFailed
from dockyard.network import netlink
from dockyard.testing.busybox import busybox_rootfs

SHIFT = 100000
MAP = "0 100000 65536"
_ids = itertools.count()
PREFIX = f"dytest-remap-{os.getpid()}-"


@pytest.fixture(scope="module")
def base() -> Iterator[Path]:
    """Our tree under /tmp, searchable by the remapped root (as dockerd's remapped data root
    is: the init looks its mountpoint and bind sources up as that user)."""
    if os.geteuid() != 0:
        pytest.skip("a remapped user namespace is a root daemon's (rootless has its own tests)")
    where = Path(tempfile.mkdtemp(prefix="dytest-remap-", dir="/tmp"))
    where.chmod(0o711)
    yield where
    shutil.rmtree(where)


@pytest.fixture(scope="module")
def shifted(base: Path) -> Path:
    """The busybox image with every owner shifted by +100000, plus a root-only file and a
    file of the image's uid 1000."""
    rootfs = busybox_rootfs(base / "rootfs")
    (rootfs / "etc" / "secret").write_text("root only\n")
    (rootfs / "etc" / "secret").chmod(0o600)
    (rootfs / "home" / "u1000").mkdir()
    os.chown(rootfs / "home" / "u1000", 1000, 1000)
    done: set[int] = set()  # busybox's applets are hard links: each inode once
    for dirpath, dirs, files in os.walk(rootfs):
        for name in [*dirs, *files]:
            _shift(os.path.join(dirpath, name), done)
    _shift(str(rootfs), done)
    return rootfs


def _shift(path: str, done: set[int]) -> None:
    st = os.lstat(path)
    if st.st_ino in done:
        return
    done.add(st.st_ino)
    mode = st.st_mode & 0o7777
    os.lchown(path, st.st_uid + SHIFT, st.st_gid + SHIFT)
    if not os.path.islink(path) and mode & 0o6000:
        os.chmod(path, mode)  # chown cleared the set-id bits


@pytest.fixture
def make_spec(base: Path, shifted: Path) -> Callable[..., ContainerSpec]:
    def make(args: list[str], **kw: Any) -> ContainerSpec:
        n = next(_ids)
        box = base / f"c{n}"
        kw.setdefault("userns", idmap.remapped(SHIFT, SHIFT))
        return ContainerSpec(id=f"{PREFIX}{n}", lower_dirs=[str(shifted)],
                             upper_dir=str(box / "upper"), work_dir=str(box / "work"),
                             args=args, env=["PATH=/bin:/sbin:/usr/bin"], **kw)
    return make


@pytest.fixture
def netns() -> Iterator[str]:
    """A pinned network namespace of the initial user namespace, as a bridge network's is,
    with one end of a veth pair, ``dyt-remap0`` at 10.251.7.1/24."""
    path = f"/run/dyt-remap-{os.getpid()}"
    host_end = f"dyt-rm{os.getpid() % 100000}"
    inside = netlink.create_netns(path)
    assert inside is not None
    host = netlink.Netlink()
    try:
        subprocess.run(["ip", "link", "add", host_end, "type", "veth", "peer", "name",
                        "dyt-remap0", "netns", path], check=True)
        inside.configure("dyt-remap0", "10.251.7.1", 24, None)
        yield path
    finally:
        inside.close()
        host.delete_link(host_end)
        host.close()
        netlink.delete_netns(path)


def test_root_inside_is_the_ranges_first_id_outside(run: Callable[..., Result],
                                                    make_spec: Callable[..., ContainerSpec],
                                                    runtime: Runtime) -> None:
    result = run("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; "
                 "stat -c %u:%g / /bin/sh /etc/passwd /home/u1000; cat /etc/secret; "
                 "echo made > /made; mkdir /madedir")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[:2] == ["0", "0"]
    assert [" ".join(line.split()) for line in lines[2:4]] == [MAP, MAP]
    assert lines[4:8] == ["0:0", "0:0", "0:0", "1000:1000"]  # the image's owners, unshifted
    assert lines[8] == "root only"
    spec = make_spec(["sh", "-c", "echo made > /made"])
    collect(runtime, spec)
    upper = Path(spec.upper_dir)
    assert (upper.stat().st_uid, upper.stat().st_gid) == (SHIFT, SHIFT)  # the container's "/"
    made = (upper / "made").stat()
    assert (made.st_uid, made.st_gid) == (SHIFT, SHIFT)


def test_the_init_runs_as_the_shifted_ids(runtime: Runtime,
                                          make_spec: Callable[..., ContainerSpec]) -> None:
    """With the maps alone, as a daemon may give them: a root launcher writes them itself."""
    plain = idmap.UserNamespace([(0, SHIFT, 1000), (1000, SHIFT + 1000, 64536)],
                                [(0, SHIFT, 65536)])
    box = runtime.start(make_spec(["sleep", "100"], userns=plain))
    try:
        status = Path(f"/proc/{box.pid}/status").read_text().splitlines()
        uids = next(line for line in status if line.startswith("Uid:")).split()[1:]
        assert uids == [str(SHIFT)] * 4
        assert Path(f"/proc/{box.pid}/uid_map").read_text().split() == \
            ["0", str(SHIFT), "1000", "1000", str(SHIFT + 1000), "64536"]
        assert os.readlink(f"/proc/{box.pid}/ns/user") != os.readlink("/proc/self/ns/user")
    finally:
        box.cleanup()


def test_joins_a_network_namespace_of_the_initial_user_namespace(
        run: Callable[..., Result], runtime: Runtime, netns: str) -> None:
    own = os.readlink(f"/proc/{runtime.launcher_pid}/ns/net")
    result = run("readlink /proc/self/ns/net; cat /proc/net/dev; cat /proc/self/uid_map; "
                 "httpd -p 10.251.7.1:80 && echo bound-80; (touch /sys/x) 2>&1; "
                 "ls /sys/class/net", network=netns)
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == f"net:[{os.stat(netns).st_ino}]"
    assert "dyt-remap0:" in result.out and MAP in " ".join(result.out.split())
    assert "Read-only file system" in result.out
    assert "bound-80" in result.out, result.err  # dockerd's ip_unprivileged_port_start=0
    assert result.out.split()[-2:] == ["dyt-remap0", "lo"]  # a sysfs of its network, not the host's
    assert os.readlink(f"/proc/{runtime.launcher_pid}/ns/net") == own  # the launcher went back
    none = run("cat /proc/net/dev; ls /sys/class/net")
    assert none.code == 0, none.err
    assert "dyt-remap0" not in none.out and none.out.split()[-1] == "lo"  # a fresh sysfs of its own


def test_memory_and_pids_limits_apply(run: Callable[..., Result]) -> None:
    limits = cgroups.Limits(memory=32 << 20, memory_swap=32 << 20, pids=10)
    result = run("cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; "
                 # a failed fork ends a shell: the subshell's count is what it got to
                 "(i=0; while [ $i -lt 20 ]; do sleep 5 & i=$((i+1)); echo $i > /n; done) "
                 "2>/dev/null; read n < /n; echo $n", limits=limits)
    assert result.code == 0, result.err
    lines = result.out.split()
    assert lines[:2] == [str(32 << 20), "10"]
    assert 5 < int(lines[2]) < 10  # the pids controller refused forks beyond the limit
    oom = run("tail /dev/zero", limits=limits)
    assert (oom.code, oom.status.oom_killed) == (137, True)


def test_a_host_cgroupns_binds_the_containers_cgroups(run: Callable[..., Result]) -> None:
    """``--cgroupns host`` (dockerd 20.10's default on cgroup v1, so every remapped container
    of it): no cgroup namespace to mount the hierarchies in, so each is bound from the
    container's cgroup, whose host path shows (and whose limit is there)."""
    if cgroups.detected().mode != "v1":
        pytest.skip("recorded on cgroup v1")
    result = run("grep :memory: /proc/self/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
                 limits=cgroups.Limits(memory=32 << 20), cgroupns="host")
    assert result.code == 0, result.err
    path, limit = result.out.split()
    assert path.split(":", 2)[2].startswith(f"/{cgroups.DEFAULT_PARENT}/{PREFIX}")
    assert limit == str(32 << 20)


def test_user_and_supplementary_groups(run: Callable[..., Result], base: Path,
                                       make_spec: Callable[..., ContainerSpec],
                                       runtime: Runtime) -> None:
    user = User(uid=1000, gid=1000, additional_gids=[2000, 3000])
    result = run("id -u; id -g; id -G; grep -E '^(Uid|Groups)' /proc/self/status; "
                 "touch /home/u1000/mine; cat /etc/secret", user=user)
    assert result.code != 0  # the root-only file stays closed to uid 1000
    assert result.out.split()[:5] == ["1000", "1000", "1000", "2000", "3000"]
    assert "Groups:\t1000 2000 3000" in result.out or "Groups:\t2000 3000" in result.out
    assert "Permission denied" in result.err
    spec = make_spec(["touch", "/home/u1000/mine"], user=user)
    assert collect(runtime, spec).code == 0
    mine = (Path(spec.upper_dir) / "home" / "u1000" / "mine").stat()
    assert (mine.st_uid, mine.st_gid) == (SHIFT + 1000, SHIFT + 1000)
    with pytest.raises(Exception, match="outside the remapped user namespace"):
        run("true", user=User(uid=70000, gid=0))


def test_security_settings_match_an_unmapped_container(run: Callable[..., Result]) -> None:
    script = "grep -E '^(CapEff|CapBnd|Seccomp|NoNewPrivs)' /proc/self/status"
    plain = run(script, userns=None, seccomp="default", no_new_privs=True)
    remapped = run(script, seccomp="default", no_new_privs=True)
    assert plain.code == remapped.code == 0, remapped.err
    assert remapped.out == plain.out and "Seccomp:\t2" in remapped.out
    assert "NoNewPrivs:\t1" in remapped.out


def _limits(hard_factor: float = 1) -> list[list[int]]:
    """``--ulimit``s: a soft limit of its own, and a hard one ``hard_factor`` times the launcher's
    (raising it needs CAP_SYS_RESOURCE, which a test host may lack — this one does)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    hard = 64 << 20 if hard == resource.RLIM_INFINITY else int(hard * hard_factor)
    return [[resource.RLIMIT_MEMLOCK, hard // 4, hard], [resource.RLIMIT_NOFILE, 1000, 2000]]


def _shown(out: str, limits: list[list[int]]) -> bool:
    """Whether ``cat /proc/self/limits`` printed ``limits`` (memlock, nofile)."""
    rows = {line.split("  ")[0]: line.split()[-3:-1] for line in out.splitlines()
            if line.startswith(("Max locked memory", "Max open files"))}
    return rows == {"Max locked memory": [str(limits[0][1]), str(limits[0][2])],
                    "Max open files": [str(limits[1][1]), str(limits[1][2])]}


def test_ulimits_apply(run: Callable[..., Result]) -> None:
    wanted = _limits(1 / 2)
    result = run("cat /proc/self/limits", rlimits=wanted)
    assert result.code == 0, result.err
    assert _shown(result.out, wanted)


def test_mounts_devices_and_masked_paths(run: Callable[..., Result], base: Path) -> None:
    private = base / "private"  # only root may search it: the init, the range's root, may not
    private.mkdir(mode=0o700)
    shared = private / "shared"
    shared.mkdir()
    (shared / "from-host").write_text("hi\n")
    mounts = [Mount("bind", "/data", str(shared), read_only=True), Mount("tmpfs", "/scratch")]
    result = run("cat /data/from-host; touch /data/x 2>&1; touch /scratch/y && echo tmpfs-ok; "
                 "echo z > /dev/null && head -c 4 /dev/zero | wc -c; echo q > /dev/shm/q && "
                 "echo shm-ok; grep -c mqueue /proc/mounts; hostname; wc -c < /proc/keys; "
                 "(echo 1 > /proc/sys/kernel/domainname) 2>&1; ls /sys/fs/cgroup | grep -c memory",
                 mounts=mounts, hostname="remapbox")
    assert result.code == 0, result.err
    out = result.out.splitlines()
    assert out[0] == "hi" and "Read-only file system" in out[1]
    assert out[2:6] == ["tmpfs-ok", "4", "shm-ok", "1"]
    assert out[6:8] == ["remapbox", "0"]
    assert "Read-only file system" in out[8] and out[9] == "1"
    with pytest.raises(StartFailed, match='error mounting "/nowhere" to rootfs at "/data": stat '
                       "/nowhere: no such file or directory"):
        run("true", mounts=[Mount("bind", "/data", "/nowhere")])


@pytest.fixture
def shared_dir(base: Path) -> Iterator[Path]:
    """A directory bound on itself as a shared mount (as systemd makes ``/``)."""
    where = base / "peer"
    where.mkdir()
    syscalls.mount(str(where), str(where), None, syscalls.MS_BIND)
    try:
        syscalls.mount(None, str(where), None, syscalls.MS_SHARED)
        yield where
    finally:
        syscalls.umount2(str(where), syscalls.MNT_DETACH)


def test_a_bind_mount_is_private(run: Callable[..., Result], shared_dir: Path) -> None:
    """The source's copy shares its peer group; attached, it is made private, so what the
    container mounts under it stays in the container (it may mount: its mount namespace is
    its user namespace's)."""
    (shared_dir / "sub").mkdir()
    result = run("mount -t tmpfs none /data/sub && grep -c /data/sub /proc/mounts",
                 mounts=[Mount("bind", "/data", str(shared_dir))], cap_add=["SYS_ADMIN"])
    assert (result.code, result.out.strip()) == (0, "1"), result.err
    assert f"{shared_dir}/sub" not in Path("/proc/self/mountinfo").read_text()


def _exec(runtime: Runtime, box: Container, args: list[str], **kw: Any) -> tuple[int, str]:
    out_r, out_w = os.pipe()
    spec = ExecSpec(id=f"{PREFIX}exec-{next(_ids)}", pid=box.pid, args=args, **kw)
    try:
        process = runtime.exec(spec, stdout=out_w, stderr=out_w)
    finally:
        os.close(out_w)
    chunks = []
    while chunk := os.read(out_r, 65536):
        chunks.append(chunk)
    os.close(out_r)
    return process.wait(10).exit_code, b"".join(chunks).decode()


def test_exec_enters_the_user_namespace(runtime: Runtime, netns: str,
                                        make_spec: Callable[..., ContainerSpec]) -> None:
    wanted = _limits()
    box = runtime.start(make_spec(["sleep", "100"], network=netns,
                                  limits=cgroups.Limits(pids=50), rlimits=wanted))
    try:
        script = ("cat /proc/self/uid_map; id -u; readlink /proc/self/ns/user; "
                  "readlink /proc/self/ns/net; cat /proc/self/limits")
        code, out = _exec(runtime, box, ["sh", "-c", script], rlimits=wanted)
        assert code == 0, out
        lines = out.splitlines()
        assert " ".join(lines[0].split()) == MAP and lines[1] == "0"
        assert lines[2:4] == [os.readlink(f"/proc/{box.pid}/ns/{kind}") for kind in ("user", "net")]
        assert _shown(out, wanted)
        code, out = _exec(runtime, box, ["sh", "-c", "id -u; id -G"], user="1000:1000")
        assert (code, out.split()) == (0, ["1000", "1000"])
        sleeper = runtime.exec(ExecSpec(id=f"{PREFIX}exec-{next(_ids)}", pid=box.pid,
                                        args=["sleep", "100"], user="1000:1000"))
        status = Path(f"/proc/{sleeper.pid}/status").read_text().splitlines()
        sleeper.signal(signal.SIGKILL)
        assert sleeper.wait(10).exit_code == 137
        for key in ("Uid:", "Gid:"):  # the host's view: the range's ids
            assert next(row for row in status if row.startswith(key)).split()[1:] == \
                [str(SHIFT + 1000)] * 4
        with pytest.raises(StartFailed) as info:
            _exec(runtime, box, ["nosuch"])
        assert info.value.exit_code == 127
        with pytest.raises(StartFailed, match="user 70000 or one of groups .* outside the "
                                              "remapped user namespace's id map"):
            _exec(runtime, box, ["true"], user="70000")
    finally:
        box.cleanup()


def _cgroup_dirs() -> list[str]:
    hier = cgroups.detect()
    roots = {os.path.join(m, "dockyard") for m in hier.v1.values()}
    if hier.v2:
        roots.add(os.path.join(hier.v2, "dockyard"))
    return sorted(os.path.join(r, d) for r in roots if os.path.isdir(r)
                  for d in os.listdir(r) if d.startswith(PREFIX))


def _leftovers(runtime: Runtime, base: Path) -> dict[str, object]:
    mounts = [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
              if str(base) in line]
    return {"mounts": mounts, "cgroups": _cgroup_dirs(),
            "launcher_fds": sorted(os.listdir(f"/proc/{runtime.launcher_pid}/fd")),
            "launcher_net": os.readlink(f"/proc/{runtime.launcher_pid}/ns/net")}


def test_nothing_outlives_a_container_or_a_failed_start(
        runtime: Runtime, make_spec: Callable[..., ContainerSpec], base: Path,
        netns: str) -> None:
    assert collect(runtime, make_spec(["true"])).code == 0  # the launcher's first-use fds
    before = _leftovers(runtime, base)
    limits = cgroups.Limits(memory=64 << 20, pids=20)
    with pytest.raises(StartFailed) as info:
        runtime.start(make_spec(["/nosuch"], network=netns, limits=limits))
    assert info.value.exit_code == 127
    with pytest.raises(StartFailed):
        runtime.start(make_spec(["sh"], cwd="/etc/passwd/x", limits=limits))
    box = runtime.start(make_spec(["sleep", "100"], network=netns, limits=limits))
    assert _cgroup_dirs()
    box.kill()
    assert box.cleanup().exit_code == 137
    ready_r, ready_w = os.pipe()
    script = "trap 'exit 3' TERM; echo ready; while :; do sleep 1; done"
    stopped = runtime.start(make_spec(["sh", "-c", script], limits=limits), stdout=ready_w)
    os.close(ready_w)
    assert os.read(ready_r, 16) == b"ready\n"  # pid 1 ignores what it has no handler for
    os.close(ready_r)
    stopped.signal()
    assert stopped.wait(10).exit_code == 3
    stopped.cleanup()
    assert _leftovers(runtime, base) == before


def test_under_a_shim_as_the_daemon_starts_it(runtime: Runtime,
                                              make_spec: Callable[..., ContainerSpec],
                                              base: Path, netns: str) -> None:
    """The daemon's path: a spare shim (whose embryo a remapped spec cannot use) starts it,
    logs its output and reports its exit; its cgroup goes with it, the spare's embryo's too."""
    spec = make_spec(["sh", "-c", "cat /proc/self/uid_map; id -u; readlink /proc/self/ns/net"],
                     network=netns, limits=cgroups.Limits(pids=20))
    box = Path(spec.upper_dir).parent
    box.mkdir()
    _pid, sock = runtime.start_shim(spec, str(box), str(box / "log.json"))
    with sock:
        while (packet := sock.recv(65536)) and packet[:1] != b"x":
            pass
    assert json.loads(packet[1:])["exit_code"] == 0
    said = "".join(json.loads(line)["log"] for line in (box / "log.json").read_text().splitlines())
    assert said.split() == [*MAP.split(), "0", f"net:[{os.stat(netns).st_ino}]"]
    deadline = time.monotonic() + 10  # the shim reports the exit first, then removes the cgroup
    while any(spec.id in d for d in _cgroup_dirs()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(spec.id in d for d in _cgroup_dirs())


def test_a_terminal(runtime: Runtime, make_spec: Callable[..., ContainerSpec]) -> None:
    box = runtime.start(make_spec(["sh", "-c", "tty; stat -c %g $(tty); id -u"], tty=True))
    assert box.console is not None
    chunks = []
    try:
        while chunk := os.read(box.console, 65536):
            chunks.append(chunk)
    except OSError:  # EIO: the other side closed
        pass
    finally:
        os.close(box.console)
    assert box.cleanup().exit_code == 0
    assert b"".join(chunks).decode().split() == ["/dev/pts/0", "5", "0"]


NS_GET_USERNS = 0xB701  # linux/nsfs.h: the user namespace owning a namespace, as an fd


def _owner(ns_path: str) -> str:
    """``user:[inode]`` of the user namespace owning the namespace at ``ns_path``."""
    fd = os.open(ns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        owner = fcntl.ioctl(fd, NS_GET_USERNS)
    finally:
        os.close(fd)
    try:
        return f"user:[{os.fstat(owner).st_ino}]"
    finally:
        os.close(owner)


def _shim_run(runtime: Runtime, spec: ContainerSpec,
              network_ready: Callable[[], None]) -> tuple[int, str]:
    box = Path(spec.upper_dir).parent
    box.mkdir()
    _pid, sock = runtime.start_shim(spec, str(box), str(box / "log.json"),
                                    network_ready=network_ready)
    with sock:
        while (packet := sock.recv(65536)) and packet[:1] != b"x":
            pass
    said = "".join(json.loads(line)["log"] for line in (box / "log.json").read_text().splitlines())
    return json.loads(packet[1:])["exit_code"], said


def test_its_own_network_namespace_pinned_for_the_daemon(
        runtime: Runtime, make_spec: Callable[..., ContainerSpec], base: Path) -> None:
    """A bridge's namespace as runc makes it under a remapping dockerd: the clone's, owned by
    the container's user namespace, so root inside has its network capabilities there (a raw
    socket for ping, NET_ADMIN when added); pinned where the daemon said, with IPv6 off as
    dockerd's, and wired by the daemon (here: a link added from outside, IPv6 turned on for it)
    before the init goes on."""
    pin = str(base / f"pin-{next(_ids)}")
    seen: dict[str, str] = {}

    def wire() -> None:  # the daemon's part, while the init waits
        seen["owner"] = _owner(pin)
        subprocess.run(["nsenter", f"--net={pin}", "ip", "link", "add", "dyt-wired", "type",
                        "veth", "peer", "name", "dyt-peer"], check=True)
        netlink.enable_ipv6(pin, "dyt-wired")  # as for an endpoint with an IPv6 address

    script = ("readlink /proc/self/ns/net; readlink /proc/self/ns/user; "
              "ip link show dyt-wired >/dev/null && echo wired; "
              "ping -c1 -W2 127.0.0.1 >/dev/null && echo ping-ok; "
              "ip link set lo mtu 1000 && echo mtu-ok; "
              "cat /proc/sys/net/ipv4/ip_unprivileged_port_start; ls /sys/class/net; "
              "cd /proc/sys/net/ipv6/conf && cat all/disable_ipv6 dyt-peer/disable_ipv6 "
              "dyt-wired/disable_ipv6 lo/disable_ipv6")
    spec = make_spec(["sh", "-c", script], netns_pin=pin, cap_add=["NET_ADMIN"],
                     limits=cgroups.Limits(pids=20))
    try:
        code, said = _shim_run(runtime, spec, wire)
        assert code == 0, said
        # dockerd's IPv6 off in it (set before the wiring, not undone after): on for lo and
        # an interface the daemon turned it on for, off for one it did not
        assert said.split() == [f"net:[{os.stat(pin).st_ino}]", seen["owner"], "wired",
                                "ping-ok", "mtu-ok", "0", "dyt-peer", "dyt-wired", "lo",
                                "1", "1", "0", "0"]
        assert seen["owner"] != os.readlink("/proc/self/ns/user")
    finally:
        netlink.delete_netns(pin)  # the daemon's to remove, as any netns it pins


def test_a_network_that_fails_to_wire_fails_the_start(
        runtime: Runtime, make_spec: Callable[..., ContainerSpec], base: Path) -> None:
    """The daemon's error is the start's; the init never runs, its cgroup goes."""
    pin = str(base / f"pin-{next(_ids)}")
    marker = base / f"ran-{next(_ids)}"
    spec = make_spec(["touch", f"/{marker.name}"], netns_pin=pin, limits=cgroups.Limits(pids=20))

    def wire() -> None:
        raise InvalidArgument("no address left")

    box = Path(spec.upper_dir).parent
    box.mkdir()
    try:
        with pytest.raises(InvalidArgument, match="no address left"):
            runtime.start_shim(spec, str(box), str(box / "log.json"), network_ready=wire)
        assert not (Path(spec.upper_dir) / marker.name).exists()
        deadline = time.monotonic() + 10
        while any(spec.id in d for d in _cgroup_dirs()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not any(spec.id in d for d in _cgroup_dirs())
    finally:
        netlink.delete_netns(pin)


def test_dev_mqueue_is_as_under_dockerd(run: Callable[..., Result]) -> None:
    """dockerd 20.10 with --userns-remap shows ``0:65534 1777``: runc makes the IPC namespace
    (whose mqueue root takes its maker's fsuid and fsgid) after root's uid, before its gid."""
    result = run("stat -c '%u:%g %a' /dev/mqueue; touch /dev/mqueue/q && stat -c %u:%g /dev/mqueue/q")
    assert result.code == 0, result.err
    assert result.out.split() == ["0:65534", "1777", "0:0"]


def test_on_anothers_network_it_shares_that_ones_user_namespace(
        runtime: Runtime, make_spec: Callable[..., ContainerSpec], base: Path) -> None:
    """dockerd's ``--network container:x`` under the remap: the joiner shares x's user
    namespace, which owns x's network namespace, so its root has its network capabilities
    there too; its other namespaces are its own (and that user namespace's)."""
    pin = str(base / f"pin-{next(_ids)}")
    x = runtime.start(make_spec(["sleep", "100"], netns_pin=pin))
    try:
        script = ("readlink /proc/self/ns/user; readlink /proc/self/ns/net; "
                  "ping -c1 -W2 127.0.0.1 >/dev/null && echo ping-ok; "
                  "ip link set lo mtu 1000 && echo mtu-ok; cat /proc/self/uid_map; "
                  "stat -c %u:%g /dev/mqueue; readlink /proc/self/ns/pid; id -u")
        y = collect(runtime, make_spec(["sh", "-c", script], network=pin, cap_add=["NET_ADMIN"],
                                       userns_join=f"/proc/{x.pid}/ns/user"))
        assert y.code == 0, y.err
        lines = y.out.splitlines()
        ns = {kind: os.readlink(f"/proc/{x.pid}/ns/{kind}") for kind in ("user", "net", "pid")}
        assert lines[:4] == [ns["user"], ns["net"], "ping-ok", "mtu-ok"]
        assert " ".join(lines[4].split()) == MAP and lines[5] == "0:65534"
        assert lines[6] != ns["pid"] and lines[7] == "0"
        with pytest.raises(Exception, match="cannot join the user namespace of /nowhere: No such"):
            runtime.start(make_spec(["true"], network=pin, userns_join="/nowhere"))
        with pytest.raises(Exception, match=f"cannot join the user namespace of {pin}: Invalid"):
            runtime.start(make_spec(["true"], network=pin, userns_join=pin))  # the helper's refusal
    finally:
        x.kill()
        x.cleanup()
        netlink.delete_netns(pin)
