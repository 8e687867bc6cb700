"""Containers started as on a cgroup-v2-only host, from this hybrid one: run as a script, in a
mount namespace of its own whose /sys/fs/cgroup is the host's v2 hierarchy alone (a cgroup2
mount in place of the v1 tmpfs), so that dockyard's launcher detects v2 for real and puts
each container in ``<v2>/dockyard/<id>`` — the same v2 hierarchy the host mounts at
``unified`` — with its device program, and v1's devices cgroups play no part.

Input (argv[1], JSON): ``{"rootfs", "box", "runs": [{"id", "devices", "privileged",
"script"}]}``; each run's script is run as the container's init and then, in another
container of the same spec whose init sleeps, as an exec. Output (stdout, JSON): per run,
``{"mode", "init", "exec", "programs"}`` — the detected mode, both outputs (stdout and
stderr together), and how many device programs the exec's container's v2 cgroup had."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def _v2_only() -> None:
    from dockyard.linux import syscalls
    syscalls.unshare(syscalls.CLONE_NEWNS)
    syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
    syscalls.umount2("/sys/fs/cgroup", syscalls.MNT_DETACH)
    syscalls.mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0)


def _exec_output(rt: Any, spec: Any, script: str) -> tuple[str, int]:
    """``script``'s output as an exec in a container of ``spec``, and how many device
    programs its v2 cgroup had meanwhile."""
    from dockyard.linux import cgroups, devicebpf
    from dockyard.linux.enter import ExecSpec
    container = rt.start(spec)
    try:
        fd = os.open(cgroups.CgroupV2(spec.id, cgroups.detect()).path, os.O_RDONLY)
        try:
            programs = len(devicebpf.attached(fd))
        finally:
            os.close(fd)
        read, write = os.pipe()
        process = rt.exec(ExecSpec(id=f"{spec.id}-exec", pid=container.pid,
                                   args=["sh", "-c", script]), stdout=write, stderr=write)
        os.close(write)
        with os.fdopen(read, "rb") as pipe:
            out = pipe.read().decode()
        process.wait(20)
        return out, programs
    finally:
        container.cleanup()


def main() -> None:
    _v2_only()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from containerprobe import collect

    from dockyard.containers.runtime import Runtime
    from dockyard.containers.spec import ContainerSpec
    from dockyard.linux import cgroups

    job = json.loads(sys.argv[1])
    results = []
    with Runtime() as rt:
        for run in job["runs"]:
            def spec(suffix: str, args: list[str], run: dict[str, Any] = run) -> ContainerSpec:
                box = Path(job["box"], run["id"] + suffix)
                return ContainerSpec(
                    id=run["id"] + suffix, lower_dirs=[job["rootfs"]],
                    upper_dir=str(box / "upper"), work_dir=str(box / "work"), args=args,
                    privileged=run["privileged"],
                    limits=cgroups.Limits(devices=run["devices"]))
            init = collect(rt, spec("-init", ["sh", "-c", run["script"]]))
            out, programs = _exec_output(rt, spec("-exec", ["sleep", "60"]), run["script"])
            results.append({"mode": cgroups.detect().mode, "init": init.out + init.err,
                            "exec": out, "programs": programs})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
