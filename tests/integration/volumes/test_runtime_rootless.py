"""The mounts ``resolve()`` returns, started directly with the low-level Runtime — as root and
as an unprivileged user this test creates (rootless: user namespace, a single-id map): the
volume is seeded from the image, writes persist in it, ``:ro`` is read-only, tmpfs is tmpfs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.testing.rootless import RUNTIME_DIR, UnprivilegedUser

SCRIPT = r'''
import json, os, sys
from pathlib import Path
from types import SimpleNamespace
from dockyard.containers.record import ContainerRecord
from dockyard.containers.runtime import Runtime
from dockyard.containers.spec import ContainerSpec
from dockyard.testing.busybox import busybox_rootfs
from dockyard.volumes.manager import VolumeManager

base = Path(sys.argv[1])
busybox_rootfs(base / "rootfs")
(base / "host").mkdir()
(base / "host" / "in").write_text("host file\n")
(base / "c" / "upper").mkdir(parents=True)  # the container's directory, as a create makes it
volumes = VolumeManager(SimpleNamespace(data_root=str(base / "data")))
record = ContainerRecord(
    id="c" * 64, name="/c", image="busybox", image_id="", created="", dir=base / "c",
    lower_dirs=[str(base / "rootfs")], config={"Volumes": {"/etc": {}}},
    host_config={"Binds": ["vol:/data", f"{base}/host:/h:ro"], "Tmpfs": {"/t": "size=1m"}})
mounts = volumes.resolve(record)
script = ("echo kept > /data/f; cat /h/in; touch /h/x 2>/dev/null || echo ro; "
          "grep ' /t ' /proc/mounts | cut -d' ' -f1-3; head -1 /etc/passwd | cut -d: -f1")
r, w = os.pipe()
with Runtime() as rt:
    c = rt.start(ContainerSpec(id="c1", lower_dirs=[str(base / "rootfs")], args=["sh", "-c", script],
                               upper_dir=str(base / "c/upper"), work_dir=str(base / "c/work"),
                               mounts=mounts), stdout=w, stderr=w)
    os.close(w)
    status = c.wait(20).exit_code
output = os.read(r, 1 << 20).decode()
data = volumes.inspect("vol")["Mountpoint"]
print(json.dumps({"status": status, "output": output, "file": Path(data, "f").read_text(),
                  "points": [m["Type"] for m in record.mounts]}))
volumes.release(record, remove_anonymous=True)
print(json.dumps({"left": [v["Name"] for v in volumes.list_volumes()["Volumes"]]}))
'''


@pytest.fixture(params=["root", "rootless"])
def user(request: pytest.FixtureRequest) -> Iterator[UnprivilegedUser | None]:
    if request.param == "root":
        yield None
        return
    with UnprivilegedUser.made(subids=False, runtime_dir=False) as made:
        yield made


def test_resolved_mounts_in_a_runtime_container(user: UnprivilegedUser | None, tmp_path: Path) -> None:
    if user is None:
        (tmp_path / "script.py").write_text(SCRIPT)
        done = subprocess.run([sys.executable, str(tmp_path / "script.py"), str(tmp_path)],
                              env={**os.environ, "PYTHONPATH": str(RUNTIME_DIR)},
                              check=False, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    else:
        done = user.run_python(SCRIPT, str(user.home))
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in done.stdout.splitlines()[-2:])
    assert first["status"] == 0, first["output"]
    assert first["output"] == "host file\nro\ntmpfs /t tmpfs\nroot\n"
    assert first["file"] == "kept\n"
    assert first["points"] == ["volume", "volume", "bind"]
    assert second["left"] == ["vol"]  # the anonymous /etc volume went with release(-v)
