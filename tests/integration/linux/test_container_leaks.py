"""Nothing outlives a container: mounts, cgroup dirs, processes, launcher fds."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from containerprobe import collect

from dockyard.containers.runtime import Runtime
from dockyard.containers.spec import ContainerSpec, Mount
from dockyard.errors import DockyardError
from dockyard.linux import cgroups
from dockyard.linux.cgroups import Limits
from dockyard.linux.launcher import StartFailed

MakeSpec = Callable[..., ContainerSpec]


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _cgroup_dirs(prefix: str) -> list[str]:
    hier = cgroups.detect()
    roots = {os.path.join(m, "dockyard") for m in hier.v1.values()}
    return sorted(os.path.join(r, d) for r in roots if os.path.isdir(r)
                  for d in os.listdir(r) if d.startswith(prefix))


def _our_mounts(paths: list[str]) -> list[str]:
    """Host mounts that mention our test dirs (the host is shared with other test runs, so the
    whole table's size is not ours to compare)."""
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if any(p in line for p in paths) or " - overlay " in line and "dytest" in line]


def _snapshot(rt: Runtime, prefix: str, paths: list[str]) -> dict[str, object]:
    return {
        "mounts": _our_mounts(paths),
        "cgroups": _cgroup_dirs(prefix),
        "children": _children(rt.launcher_pid),
        "launcher_fds": len(os.listdir(f"/proc/{rt.launcher_pid}/fd")),
        "my_fds": len(os.listdir("/proc/self/fd")),
    }


def test_a_batch_of_runs_leaves_nothing_behind(runtime: Runtime, make_spec: MakeSpec,
                                               tmp_path: Path, busybox_dir: Path) -> None:
    prefix = f"dytest-{os.getpid()}-"
    paths = [str(tmp_path), str(busybox_dir)]
    before = _snapshot(runtime, prefix, paths)
    assert before["mounts"] == []
    limits = Limits(memory=32 << 20, pids=20)
    for _ in range(5):
        assert collect(runtime, make_spec(["true"], limits=limits)).code == 0
    running = runtime.start(make_spec(["sleep", "60"], limits=limits))
    during = _snapshot(runtime, prefix, paths)
    assert during["mounts"] == before["mounts"], "container mounts leaked into the host table"
    assert len(during["cgroups"]) > len(before["cgroups"])  # type: ignore[arg-type]
    assert during["children"] == [running.pid]
    running.kill()
    assert running.cleanup().exit_code == 137
    with pytest.raises(StartFailed):
        runtime.start(make_spec(["missing-binary"], limits=limits))
    with pytest.raises(StartFailed, match='error mounting "/nonexistent/dir" to rootfs at "/x": '
                       "stat /nonexistent/dir: no such file or directory"):
        runtime.start(make_spec(["true"], limits=limits,
                                mounts=[Mount("bind", "/x", "/nonexistent/dir")]))
    assert _snapshot(runtime, prefix, paths) == before


def test_closing_the_runtime_kills_its_containers(make_spec: MakeSpec) -> None:
    rt = Runtime()
    c = rt.start(make_spec(["sleep", "60"], limits=Limits(pids=10)))
    cg = cgroups.for_container(c.id)
    assert cg is not None and c.pid in cg.pids()
    rt.close()
    assert not os.path.exists(f"/proc/{c.pid}")
    assert all(not os.path.exists(p) for p in cg.paths)



def test_a_killed_launcher_takes_its_containers_along(make_spec: MakeSpec) -> None:
    rt = Runtime()
    c = rt.start(make_spec(["sleep", "60"]))
    cg = cgroups.for_container(c.id)
    assert cg is not None and c.pid in cg.pids()
    os.kill(rt.launcher_pid, signal.SIGKILL)
    assert c.wait(5).exit_code == 137  # reported by the runtime, not left hanging
    assert not any(os.path.exists(p) for p in cg.paths)
    for _ in range(500):
        if not os.path.exists(f"/proc/{c.pid}"):
            break
        time.sleep(0.01)
    assert not os.path.exists(f"/proc/{c.pid}"), "the container outlived its launcher"
    with pytest.raises(DockyardError, match="the launcher process exited"):
        rt.start(make_spec(["true"]))
    rt.close()
