"""Device rules on cgroup v2: the eBPF program ``linux.devicebpf`` builds from a container's
rules, attached for real to a cgroup in this host's v2 hierarchy (a hybrid host's
``unified`` mount will do: BPF cgroup programs attach to any cgroup2 directory), and a
process moved into that cgroup trying ``mknod`` and ``open`` of device nodes.

The process is forked from the test and joins the cgroup itself (as a container's init or an
exec's joiner does); the test stays in the cgroups it runs in, whose devices are all allowed
(``devices.list`` is checked), so only the program can refuse. Every cgroup is removed after
its test."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.linux import cgroups, devicebpf
from dockyard.linux.cgroups import Limits

HIER = cgroups.detect()
Node = tuple[str, int, int]
NULL: Node = ("c", 1, 3)
TTY1: Node = ("c", 4, 1)
TTY2: Node = ("c", 4, 2)
LOOP0: Node = ("b", 7, 0)


def _needs_root_and_v2() -> None:
    if os.geteuid() != 0 or HIER.v2 is None:
        pytest.skip("needs root and a cgroup2 mount")


@pytest.fixture(autouse=True)
def _unconfined() -> None:
    """The test's own devices cgroup (v1) allows every device: only the program refuses."""
    if "devices" in HIER.v1:
        with open("/proc/self/cgroup", encoding="ascii") as f:
            path = next(line.split(":", 2)[2].strip() for line in f
                        if "devices" in line.split(":")[1].split(","))
        listed = Path(HIER.v1["devices"], path.lstrip("/"), "devices.list").read_text()
        assert listed.split() == ["a", "*:*", "rwm"]


@pytest.fixture
def v2_dir() -> Iterator[str]:
    """A new cgroup in the v2 hierarchy, removed after the test (with what it attached)."""
    _needs_root_and_v2()
    assert HIER.v2 is not None
    path = os.path.join(HIER.v2, f"dytest-bpf-{uuid.uuid4().hex[:8]}")
    os.mkdir(path)
    yield path
    os.rmdir(path)


def _in_cgroup(cgroup_dir: str, steps: list[tuple[str, Path, int, int]]) -> list[int]:
    """The errno (0: done) of each step, by a process forked into ``cgroup_dir``: ``("mknod",
    path, mode, dev)`` or ``("open", path, flags, 0)``."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(read)
            with open(os.path.join(cgroup_dir, "cgroup.procs"), "w") as procs:
                procs.write("0")
            found = []
            for what, path, arg, dev in steps:
                try:
                    if what == "mknod":
                        os.mknod(path, arg, dev)
                    else:
                        os.close(os.open(path, arg | os.O_NOCTTY | os.O_NONBLOCK))
                    found.append(0)
                except OSError as exc:
                    found.append(exc.errno or -1)
            os.write(write, json.dumps(found).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return list(json.loads(data))


def _make_and_open(cgroup_dir: str, tmp_path: Path,
                   nodes: list[Node]) -> dict[Node, tuple[int, int]]:
    """For each node, the errno of its ``mknod`` and of an ``O_RDWR`` open of it (made by the
    test when the mknod was refused) from inside ``cgroup_dir``. An open let through may
    still fail in the device's driver (no such console: ENXIO…), never with EPERM."""
    steps: list[tuple[str, Path, int, int]] = []
    paths = []
    for i, (kind, major, minor) in enumerate(nodes):
        path = tmp_path / f"node{i}"
        mode = 0o600 | (0o060000 if kind == "b" else 0o020000)
        paths.append((path, mode, os.makedev(major, minor)))
        steps.append(("mknod", path, mode, os.makedev(major, minor)))
    made = _in_cgroup(cgroup_dir, steps)
    for (path, mode, dev), result in zip(paths, made):
        if result:
            os.mknod(path, mode, dev)
    opened = _in_cgroup(cgroup_dir, [("open", path, os.O_RDWR, 0) for path, _m, _d in paths])
    for path, _m, _d in paths:
        path.unlink()
    return {node: (m, o) for node, m, o in zip(nodes, made, opened)}


def _attached(cgroup_dir: str) -> list[int]:
    fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return devicebpf.attached(fd)
    finally:
        os.close(fd)


def _allowed(result: tuple[int, int]) -> bool:
    return errno.EPERM not in result


def test_the_default_rules_allow_null_and_refuse_tty1_and_a_block_device(
        v2_dir: str, tmp_path: Path) -> None:
    devicebpf.install(v2_dir, cgroups.device_rules())
    got = _make_and_open(v2_dir, tmp_path, [NULL, TTY1, LOOP0])
    assert got[NULL] == (0, 0)
    # mknod is allowed for every node ("c *:* m", "b *:* m"), using one is not
    assert got[TTY1] == (0, errno.EPERM)
    assert got[LOOP0] == (0, errno.EPERM)
    assert len(_attached(v2_dir)) == 1


def test_a_device_cgroup_rule_allows_its_devices(v2_dir: str, tmp_path: Path) -> None:
    """``--device-cgroup-rule 'c 4:* rwm'``: tty1 and tty2 let through, a block device not."""
    devicebpf.install(v2_dir, cgroups.device_rules(extra=["c 4:* rwm"]))
    got = _make_and_open(v2_dir, tmp_path, [TTY1, TTY2, LOOP0])
    assert _allowed(got[TTY1]) and _allowed(got[TTY2])
    assert got[LOOP0] == (0, errno.EPERM)


def test_a_rule_allows_only_its_accesses(v2_dir: str, tmp_path: Path) -> None:
    """A request must be within one rule's accesses: with ``c 1:3 r`` and ``c 1:5 w`` alone,
    null opens for reading only, zero for writing only, and neither may be made."""
    devicebpf.install(v2_dir, ["c 1:3 r", "c 1:5 w"])
    null, zero = tmp_path / "null", tmp_path / "zero"
    assert _in_cgroup(v2_dir, [("mknod", null, 0o020666, os.makedev(1, 3)),
                               ("mknod", zero, 0o020666, os.makedev(1, 5))]) == \
        [errno.EPERM, errno.EPERM]
    os.mknod(null, 0o020666, os.makedev(1, 3))
    os.mknod(zero, 0o020666, os.makedev(1, 5))
    assert _in_cgroup(v2_dir, [("open", null, os.O_RDONLY, 0), ("open", null, os.O_WRONLY, 0),
                               ("open", null, os.O_RDWR, 0), ("open", zero, os.O_WRONLY, 0),
                               ("open", zero, os.O_RDONLY, 0)]) == \
        [0, errno.EPERM, errno.EPERM, 0, errno.EPERM]


def test_allowing_all_devices_attaches_nothing(v2_dir: str, tmp_path: Path) -> None:
    """``--privileged``: no program, and one a previous list left is detached."""
    devicebpf.install(v2_dir, cgroups.device_rules())
    devicebpf.install(v2_dir, cgroups.device_rules(privileged=True))
    assert _attached(v2_dir) == []
    got = _make_and_open(v2_dir, tmp_path, [NULL, TTY1, LOOP0])
    assert all(_allowed(result) for result in got.values()), got


def test_new_rules_replace_the_old_program(v2_dir: str, tmp_path: Path) -> None:
    devicebpf.install(v2_dir, cgroups.device_rules(extra=["c 4:* rwm"]))
    first = _attached(v2_dir)
    devicebpf.install(v2_dir, cgroups.device_rules())
    assert _make_and_open(v2_dir, tmp_path, [TTY1])[TTY1] == (0, errno.EPERM)
    second = _attached(v2_dir)
    assert len(first) == len(second) == 1 and first != second


def test_a_refused_program_is_named_with_the_verifiers_words() -> None:
    _needs_root_and_v2()
    program = devicebpf.compile_rules(cgroups.device_rules())
    assert program is not None
    with pytest.raises(devicebpf.DeviceFilterError,
                       match=r"^failed to call BPF_PROG_LOAD \(BPF_PROG_TYPE_CGROUP_DEVICE\): "
                             r"invalid argument: .*last insn is not an exit or jmp"):
        devicebpf.load(program[:-8])  # without its last exit


def _gone(prog_id: int) -> bool:
    try:
        os.close(devicebpf.program_fd(prog_id))
    except FileNotFoundError:
        return True
    return False


# ---- the v2 driver (cgroups.CgroupV2), as a v2 host's start, exec and removal use it ----------

@pytest.fixture
def v2_cgroup() -> Iterator[cgroups.CgroupV2]:
    _needs_root_and_v2()
    cg = cgroups.for_container(f"dytest-bpf-{uuid.uuid4().hex[:8]}", HIER, mode="v2")
    assert isinstance(cg, cgroups.CgroupV2)
    yield cg
    cg.remove()


def test_a_v2_container_cgroup_confines_its_devices_from_its_making(
        v2_cgroup: cgroups.CgroupV2, tmp_path: Path) -> None:
    """A start makes the cgroup with the spec's limits (the default rules): the program is
    attached before anything joins; an exec's process joins the same cgroup and is confined
    alike; ``docker update`` leaves the rules; the cgroup's removal frees the program."""
    v2_cgroup.create(Limits())
    got = _make_and_open(v2_cgroup.path, tmp_path, [NULL, TTY1, LOOP0])
    assert got == {NULL: (0, 0), TTY1: (0, errno.EPERM), LOOP0: (0, errno.EPERM)}
    [prog_id] = _attached(v2_cgroup.path)
    v2_cgroup.update(Limits(devices=list(cgroups.ALL_DEVICES)))
    assert _attached(v2_cgroup.path) == [prog_id]
    v2_cgroup.remove()
    deadline = time.monotonic() + 30  # the kernel frees it from a work queue
    while not _gone(prog_id):
        assert time.monotonic() < deadline, f"program {prog_id} outlived its cgroup"
        time.sleep(0.01)


def test_a_v2_container_cgroup_with_a_rule_or_privileged(
        v2_cgroup: cgroups.CgroupV2, tmp_path: Path) -> None:
    v2_cgroup.create(Limits(devices=cgroups.device_rules(extra=["c 4:* rwm"])))
    got = _make_and_open(v2_cgroup.path, tmp_path, [TTY1, LOOP0])
    assert _allowed(got[TTY1]) and got[LOOP0] == (0, errno.EPERM)
    v2_cgroup.apply(Limits(devices=cgroups.device_rules(privileged=True)))
    assert _attached(v2_cgroup.path) == []
    assert _allowed(_make_and_open(v2_cgroup.path, tmp_path, [LOOP0])[LOOP0])


def test_a_privileged_v2_container_cgroup_gets_no_program(
        v2_cgroup: cgroups.CgroupV2, tmp_path: Path) -> None:
    v2_cgroup.create(Limits(devices=cgroups.device_rules(privileged=True)))
    assert _attached(v2_cgroup.path) == []
    got = _make_and_open(v2_cgroup.path, tmp_path, [TTY1, LOOP0])
    assert all(_allowed(result) for result in got.values()), got


# ---- a whole start and exec, as on a cgroup-v2-only host -------------------------------------

_PROBE = ("for n in 'c 1 3' 'c 4 1' 'b 7 0'; do echo \"== $n\"; mknod /tmp/n $n 2>&1 && echo made;"
          " (: < /tmp/n) 2>&1 && echo opened; rm -f /tmp/n; done")


def _probed(text: str) -> dict[str, str]:
    """The probe's output per node: ``made``/``opened`` or the shell's error."""
    found: dict[str, list[str]] = {}
    node = ""
    for line in text.splitlines():
        if line.startswith("== "):
            node = line[3:]
            found[node] = []
        elif node:
            found[node].append(line.rsplit(": ", 1)[-1])
    return {n: ", ".join(lines) for n, lines in found.items()}


def test_containers_started_as_on_a_v2_only_host_are_confined(tmp_path: Path,
                                                               busybox_dir: Path) -> None:
    """The launcher in a mount namespace seeing only the v2 hierarchy (``v2only_host.py``):
    the init and an exec of a default container may make nodes but open only null of
    these, one with ``--device-cgroup-rule 'c 4:* rwm'`` opens tty1 too, a privileged one
    everything, and no cgroup of theirs stays."""
    _needs_root_and_v2()
    prefix = f"dytest-bpf-{uuid.uuid4().hex[:8]}"
    runs = [{"id": f"{prefix}-{name}", "devices": devices, "privileged": name == "privileged",
             "script": _PROBE}
            for name, devices in (("default", cgroups.device_rules()),
                                  ("rule", cgroups.device_rules(extra=["c 4:* rwm"])),
                                  ("privileged", cgroups.device_rules(privileged=True)))]
    job = json.dumps({"rootfs": str(busybox_dir), "box": str(tmp_path), "runs": runs})
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("v2only_host.py")), job],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    default, rule, privileged = json.loads(done.stdout)
    refused = "Operation not permitted"
    for result in (default, rule, privileged):
        assert result["mode"] == "v2"
        assert _probed(result["init"]) == _probed(result["exec"]), result
    assert _probed(default["init"]) == {"c 1 3": "made, opened", "c 4 1": f"made, {refused}",
                                        "b 7 0": f"made, {refused}"}
    assert _probed(rule["init"]) == {"c 1 3": "made, opened", "c 4 1": "made, opened",
                                     "b 7 0": f"made, {refused}"}
    assert _probed(privileged["init"]) == {n: "made, opened" for n in ("c 1 3", "c 4 1", "b 7 0")}
    assert [r["programs"] for r in (default, rule, privileged)] == [1, 1, 0]
    assert HIER.v2 is not None
    assert not [d for d in os.listdir(os.path.join(HIER.v2, "dockyard")) if d.startswith(prefix)]
