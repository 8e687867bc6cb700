"""The rootless path, run for real as an unprivileged user this test creates: a busybox
container in a user namespace with overlayfs, once with subordinate ids (newuidmap) and once
with the single-id map; plus the errors that name what a rootless user cannot have."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator

import pytest

from dockyard.testing.rootless import UnprivilegedUser

SCRIPT = r'''
import json, os, sys
from pathlib import Path
from dockyard.testing.busybox import busybox_rootfs
from dockyard.containers.runtime import Runtime
from dockyard.containers.spec import ContainerSpec, User
from dockyard.linux.cgroups import Limits

base = Path(sys.argv[1])
busybox_rootfs(base / "rootfs")

def spec(name, args, **kw):
    return ContainerSpec(id=name, lower_dirs=[str(base / "rootfs")], args=args,
                         upper_dir=str(base / name / "upper"), work_dir=str(base / name / "work"),
                         hostname="rootless", **kw)

out = {}
with Runtime() as rt:
    r, w = os.pipe()
    c = rt.start(spec("c1", ["sh", "-c", "id; cat /proc/self/uid_map; hostname; echo $$; "
                         "touch /newfile && echo wrote; ls /dev; cat /proc/kcore; "
                         "grep ' / ' /proc/self/mountinfo"]), stdout=w, stderr=w)
    os.close(w)
    out["status"] = c.wait(20).exit_code
    out["output"] = os.read(r, 1 << 20).decode()
    for name, kw in (("limits", {"limits": Limits(memory=64 << 20)}),
                     ("user", {"user": User(1000, 1000)})):
        try:
            rt.start(spec(name, ["true"], **kw))
            out[name] = "started"
        except Exception as exc:
            out[name] = f"{type(exc).__name__}: {exc}"
    t = rt.start(spec("tty", ["tty"], tty=True))
    t.wait(20)
    try:
        out["tty"] = os.read(t.console, 4096).decode().strip()
    finally:
        os.close(t.console)
    try:
        rt.start(spec("missing", ["nosuchcmd"]))
    except Exception as exc:
        out["missing"] = [str(exc), exc.exit_code]
print(json.dumps(out))
'''


@pytest.fixture(params=["subids", "single"])
def unprivileged(request: pytest.FixtureRequest) -> Iterator[tuple[UnprivilegedUser, str]]:
    if os.geteuid() != 0:
        pytest.skip("creating a test user needs root")
    with UnprivilegedUser.made(subids=request.param == "subids", runtime_dir=False) as user:
        yield user, request.param


def test_rootless_busybox_container(unprivileged: tuple[UnprivilegedUser, str]) -> None:
    user, mode = unprivileged
    home = user.home
    if mode == "subids" and not shutil.which("newuidmap"):
        pytest.fail("newuidmap is missing: install the uidmap package")
    done = user.run_python(SCRIPT, str(home))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    uid = user.uid
    lines = out["output"].splitlines()
    assert out["status"] == 0, out["output"]
    assert lines[0].startswith("uid=0(root) gid=0(root)")
    assert lines[1].split() == ["0", str(uid), "1"]
    assert (len(lines[2].split()) == 3) == (mode == "subids")  # the subordinate range
    tail = lines[3 if mode == "subids" else 2:]
    assert tail[:3] == ["rootless", "1", "wrote"]
    assert {"null", "zero", "pts", "shm", "mqueue"} <= set(tail)
    assert " - overlay " in out["output"] and "userxattr" in out["output"]
    assert (home / "c1/upper/newfile").stat().st_uid == uid  # root inside is the user outside
    assert "rootless process cannot create cgroups on cgroup v1" in out["limits"]
    assert out["tty"] == "/dev/pts/0"
    assert out["missing"] == ['exec: "nosuchcmd": executable file not found in $PATH', 127]
    if mode == "single":
        assert "not mapped in the rootless user namespace" in out["user"]
        assert "/etc/subuid" in out["user"]
    else:
        assert out["user"] == "started"
