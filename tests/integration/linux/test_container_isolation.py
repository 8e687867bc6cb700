"""Isolation asserted from INSIDE a busybox container: what the process sees is the contract."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from containerprobe import Result, collect, through_a_shim

from dockyard.containers.runtime import Runtime
from dockyard.containers.spec import ContainerSpec, Mount, User
from dockyard.linux import capabilities

Run = Callable[..., Result]


def _caps(status: str, field: str) -> int:
    line = next(x for x in status.splitlines() if x.startswith(field + ":"))
    return int(line.split()[1], 16)


def test_init_is_pid_1_with_own_hostname_and_no_network(run: Run) -> None:
    r = run("echo $$; hostname; ls /sys/class/net; cat /proc/1/cmdline | tr '\\0' ' '",
            hostname="box1")
    assert r.code == 0, r.err
    pid, hostname, *rest = r.out.split("\n")
    assert pid == "1" and hostname == "box1"
    assert rest[0] == "lo" and "sh -c" in rest[1]


def test_root_is_a_fresh_overlay_and_the_host_is_gone(run: Run, busybox_dir: Path) -> None:
    r = run("cat /proc/self/mountinfo; echo ---; ls /")
    assert r.code == 0, r.err
    table, listing = r.out.split("---\n")
    root = next(line for line in table.splitlines() if line.split()[4] == "/")
    assert " - overlay " in root and f"lowerdir={busybox_dir}" in root
    mountpoints = {line.split()[4] for line in table.splitlines()}
    assert not {"/work", "/root/.pyenv", "/tmp/pytest-of-root"} & mountpoints
    assert listing.split() == sorted(os.listdir(busybox_dir))  # the image, not the host


def test_dev_holds_only_the_docker_devices(run: Run) -> None:
    r = run("ls /dev; ls -l /dev/null /dev/ptmx; grep -E ' /dev(/pts|/shm|/mqueue)? ' "
            "/proc/self/mountinfo; echo hi > /dev/null && head -c 4 /dev/zero | wc -c")
    assert r.code == 0, r.err
    names = set(r.out.split("\n")[:16])
    assert {"null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm",
            "mqueue", "fd", "stdin", "stdout", "stderr"} <= names
    assert "sda" not in names and "kmsg" not in names
    assert "crw-rw-rw-" in r.out and "ptmx -> pts/ptmx" in r.out
    assert "ptmxmode=666" in r.out and " - mqueue " in r.out and " - tmpfs shm " in r.out
    assert r.out.rstrip().endswith("4")


def test_proc_and_sys_protected_like_docker(run: Run) -> None:
    r = run("cat /proc/keys | wc -c; cat /proc/timer_list | wc -c; ls /proc/acpi | wc -l; "
            "echo x > /proc/sys/kernel/domainname || echo ro-procsys; "
            "echo c > /proc/sysrq-trigger || echo ro-sysrq; "
            "touch /sys/kernel/x 2>/dev/null || echo ro-sys; ls /sys/firmware | wc -l")
    assert r.code == 0, r.err
    assert r.out.split() == ["0", "0", "0", "ro-procsys", "ro-sysrq", "ro-sys", "0"]
    assert "Read-only file system" in r.err


def test_default_capabilities_are_dockers(run: Run) -> None:
    r = run("cat /proc/self/status")
    assert r.code == 0, r.err
    want = capabilities.mask(capabilities.DOCKER_DEFAULT)
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert _caps(r.out, field) == want, field
    assert _caps(r.out, "CapInh") == 0
    assert "NoNewPrivs:\t0" in r.out


def test_entrypoint_starts_with_default_signal_dispositions(
        runtime: Runtime, make_spec: Callable[..., ContainerSpec]) -> None:
    """Ignored signals survive exec, and Python ignores SIGPIPE: none may leak in (exec'd
    directly, since busybox sh itself ignores SIGQUIT when it execs its last command)."""
    r = collect(runtime, make_spec(["cat", "/proc/self/status"]))
    assert _caps(r.out, "SigIgn") == 0 and _caps(r.out, "SigBlk") == 0
    assert "Umask:\t0022" in r.out


def test_init_leads_its_own_session_without_a_terminal(run: Run) -> None:
    r = run("cat /proc/self/stat; cat /dev/tty || echo no-tty")
    fields = r.out.split(")", 1)[1].split()
    assert (fields[3], fields[4]) == ("1", "0")  # session = pid 1, tty_nr = none
    assert "no-tty" in r.out


def test_cap_add_drop_and_no_new_privs(run: Run) -> None:
    r = run("cat /proc/self/status; hostname other && echo renamed",
            cap_add=["sys_admin"], cap_drop=["CAP_CHOWN", "net_raw"], no_new_privs=True)
    eff = _caps(r.out, "CapEff")
    assert eff & 1 << capabilities.NUMBERS["CAP_SYS_ADMIN"]
    assert not eff & 1 << capabilities.NUMBERS["CAP_CHOWN"]
    assert not eff & 1 << capabilities.NUMBERS["CAP_NET_RAW"]
    assert "NoNewPrivs:\t1" in r.out and "renamed" in r.out


def test_without_sys_admin_mount_and_hostname_fail(run: Run) -> None:
    r = run("hostname other || echo no-hostname; mount -t tmpfs t /mnt || echo no-mount")
    assert "no-hostname" in r.out and "no-mount" in r.out


def test_privileged_has_every_capability_and_writable_sys(run: Run) -> None:
    r = run("cat /proc/self/status; grep ' /sys ' /proc/self/mountinfo; cat /proc/keys | wc -c",
            privileged=True)
    assert r.code == 0, r.err
    with open("/proc/self/status", encoding="ascii") as f:
        host_bounding = _caps(f.read(), "CapBnd")  # everything this host can grant at all
    assert _caps(r.out, "CapEff") == host_bounding
    sys_line = next(x for x in r.out.splitlines() if " /sys " in x)
    assert sys_line.split()[5].startswith("rw")


def test_user_switch_drops_capabilities(run: Run) -> None:
    r = run("id; cat /proc/self/status; touch /root/x || echo denied",
            user=User(uid=1, gid=1, additional_gids=[10, 100]))
    assert r.out.startswith("uid=1(daemon) gid=1(daemon) groups=10(wheel),100(users)\n")
    assert _caps(r.out, "CapEff") == 0 and "denied" in r.out


def test_read_only_rootfs_still_has_writable_dev_shm(run: Run) -> None:
    r = run("touch /x || echo ro; touch /dev/shm/ok && echo shm-ok", read_only=True)
    assert r.out.split() == ["ro", "shm-ok"]


def test_cwd_env_and_mounts(run: Run, tmp_path: Path) -> None:
    host = tmp_path / "shared"
    host.mkdir()
    (host / "f").write_text("from-host\n")
    r = run("pwd; echo $GREETING; cat /data/f; echo x > /data/g || echo ro-bind; "
            "grep ' /scratch ' /proc/self/mountinfo",
            cwd="/work/dir", env=["PATH=/bin", "GREETING=hello"],
            mounts=[Mount("bind", "/data", str(host), read_only=True),
                    Mount("tmpfs", "/scratch", options=["size=1m"])])
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[:4] == ["/work/dir", "hello", "from-host", "ro-bind"]
    assert "tmpfs" in lines[4] and "size=1024k" in lines[4]


def test_ipc_and_uts_are_private(run: Run) -> None:
    r = run("for k in ipc uts cgroup net; do readlink /proc/self/ns/$k; done")
    host = [os.readlink(f"/proc/self/ns/{k}") for k in ("ipc", "uts", "cgroup", "net")]
    assert r.code == 0 and not set(r.out.split()) & set(host)


def test_host_network_shares_the_host_netns(run: Run) -> None:
    r = run("readlink /proc/self/ns/net", network="host")
    assert r.out.strip() == os.readlink("/proc/self/ns/net")


def test_joining_a_running_containers_namespaces(runtime: Runtime,
                                                 make_spec: Callable[..., ContainerSpec]) -> None:
    """What ``exec`` and ``cp`` will build on: setns into every namespace of the init."""
    c = runtime.start(make_spec(["sleep", "30"], hostname="joined"))
    try:
        probe = ("import os, sys; from dockyard.linux import namespaces; "
                 "namespaces.join(int(sys.argv[1])); "
                 "print(os.uname().nodename, sorted(os.listdir('/dev'))[:3], "
                 "os.path.exists('/etc/passwd'), os.listdir('/sys/class/net'))")
        out = subprocess.run([sys.executable, "-c", probe, str(c.pid)], capture_output=True,
                             text=True, check=True).stdout
        assert out.strip() == "joined ['fd', 'full', 'mqueue'] True ['lo']"
    finally:
        c.cleanup()


def test_joining_a_prepared_network_namespace(runtime: Runtime,
                                              make_spec: Callable[..., ContainerSpec]) -> None:
    """Bridge networking prepares a netns first; the container then joins it by path."""
    holder = runtime.start(make_spec(["sleep", "30"]))
    try:
        netns = f"/proc/{holder.pid}/ns/net"
        r = collect(runtime, make_spec(["readlink", "/proc/self/ns/net"], network=netns))
        assert r.code == 0, r.err
        assert r.out.strip() == os.readlink(netns) != os.readlink("/proc/self/ns/net")
    finally:
        holder.cleanup()


def test_only_stdio_reaches_the_entrypoint(runtime: Runtime,
                                           make_spec: Callable[..., ContainerSpec]) -> None:
    """No launcher socket, pidfd, pipe or another container's fd leaks across exec."""
    r = collect(runtime, make_spec(["ls", "/proc/self/fd"]))
    assert r.out.split() == ["0", "1", "2", "3"]  # 3 is ls's own handle on the directory



_SEEN = ("exec 2>&1; cat /proc/self/mountinfo; echo ---; cd /dev; "
         "stat -c '%n %F %a %u:%g %t,%T' * pts/* shm mqueue; cat /proc/1/cgroup; "
         "ls /sys/fs/cgroup/pids; test -s /proc/keys && echo keys shown || echo keys hidden; "
         "ls /proc/acpi; "
         "echo x > /proc/sys/kernel/domainname; touch /sys/fs/cgroup/x /sys/fs/cgroup/pids/x")


def _normalized(out: str, spec: ContainerSpec) -> list[str]:
    """The mount table without mount ids, device numbers, order, nor this container's paths;
    then the rest as it is."""
    table, rest = out.split("---\n")
    lines = [" ".join(line.split()[3:]) for line in table.splitlines()]
    box = os.path.dirname(spec.upper_dir)
    return sorted(line.replace(box, "BOX").replace(spec.id, "ID") for line in lines) + [rest]


@pytest.mark.parametrize("privileged", [False, True], ids=["default", "privileged"])
def test_an_embryos_premade_mounts_are_what_a_clone_mounts(
        runtime: Runtime, make_spec: Callable[..., ContainerSpec], tmp_path: Path,
        privileged: bool) -> None:
    """An embryo makes /proc (with its default masks and read-only entries), /dev and
    /sys/fs/cgroup before its spec comes and attaches them then; a clone's init mounts them
    itself. The container must not tell which: the same mounts and options, nodes, masks
    and refusals."""
    cloned = make_spec(["sh", "-c", _SEEN], privileged=privileged)
    hatched = make_spec(["sh", "-c", _SEEN], privileged=privileged)
    by_clone = collect(runtime, cloned).out
    by_embryo = through_a_shim(runtime, hatched, tmp_path)  # the daemon's cgroup parent: an embryo
    assert _normalized(by_embryo, hatched) == _normalized(by_clone, cloned)
    assert " /dev/mqueue " in by_clone and "shm directory 1777" in by_clone
    if not privileged:
        assert "keys hidden" in by_clone and "Read-only file system" in by_clone
