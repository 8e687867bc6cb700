"""exec and docker cp with a rootless container, run for real as an unprivileged user this test creates (with
subordinate ids, and with the single-id map where setgroups is denied)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from dockyard.testing.rootless import UnprivilegedUser

SCRIPT = r'''
import json, os, sys
from pathlib import Path
from dockyard.testing.busybox import busybox_rootfs
from dockyard.containers.runtime import Runtime
from dockyard.containers.spec import ContainerSpec
from dockyard.linux.enter import ExecSpec

base = Path(sys.argv[1])
busybox_rootfs(base / "rootfs")
out = {}
with Runtime() as rt:
    c = rt.start(ContainerSpec(id="c1", lower_dirs=[str(base / "rootfs")], args=["sleep", "100"],
                               upper_dir=str(base / "c1/upper"), work_dir=str(base / "c1/work"),
                               hostname="rootless"))
    r, w = os.pipe()
    p = rt.exec(ExecSpec(id="e1", pid=c.pid, args=["sh", "-c", "id -u; hostname; echo $$"]),
                stdout=w, stderr=w)
    os.close(w)
    out["status"] = p.wait(20).exit_code
    out["output"] = os.read(r, 1 << 20).decode()
    import io, tarfile
    from types import SimpleNamespace
    from dockyard.containers import archive
    record = SimpleNamespace(id="c1", state={"Running": True, "Pid": c.pid}, config={},
                             host_config={})
    boxes = SimpleNamespace(get=lambda name: record)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("copied")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"cp\n"))
    archive.put(boxes, "c1", "/tmp", io.BytesIO(buf.getvalue()))
    stat, chunks = archive.get(boxes, "c1", "/tmp/copied")
    out["cp"] = [stat["size"], len(b"".join(chunks)) > 0]
    c.kill()
    c.wait(20)
print(json.dumps(out))
'''


@pytest.fixture(params=["subids", "single"])
def unprivileged(request: pytest.FixtureRequest) -> Iterator[UnprivilegedUser]:
    with UnprivilegedUser.made(subids=request.param == "subids", runtime_dir=False) as user:
        yield user


def test_rootless_exec(unprivileged: UnprivilegedUser) -> None:
    done = unprivileged.run_python(SCRIPT, str(unprivileged.home))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["status"] == 0, out["output"]
    uid, hostname, pid = out["output"].split()
    assert (uid, hostname) == ("0", "rootless") and int(pid) > 1
    assert out["cp"] == [3, True]  # docker cp into and out of the rootless container
